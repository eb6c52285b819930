#!/usr/bin/env bash
# Create .venv in the repository root and install Acting Mirror into it.
#   bash scripts/setup.sh          the mirror only (no TensorFlow, no Ray): what scripts/demo.sh needs
#   bash scripts/setup.sh all      + training, test tools and Ray: what scripts/test.sh needs
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
if [ "${1:-runtime}" = "all" ]; then
  .venv/bin/python -m pip install -q -e ".[train,dev,cluster]"  # the tests need training (TensorFlow) and Ray too
else
  .venv/bin/python -m pip install -q -e .
fi
