#!/usr/bin/env bash
# Create .venv in the repository root and install Acting Mirror (and test tools) into it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[train,dev]"  # the tests need training (TensorFlow) too
