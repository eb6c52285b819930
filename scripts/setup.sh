#!/usr/bin/env bash
# Create .venv in the repository root and install Acting Mirror (with test tools and Ray) into it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[train,dev,cluster]"  # the tests need training (TensorFlow) and Ray too
