#!/usr/bin/env bash
# Create .venv in the repository root and install Acting Mirror into it.
#   bash scripts/setup.sh runtime   the mirror alone (LiteRT, OpenCV): what the demo needs
#   bash scripts/setup.sh all       also training (TensorFlow), Ray and the test tools: what the tests need
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-runtime}"
case "$what" in
  runtime) spec="." ;;
  all) spec=".[train,dev,cluster]" ;;
  *) echo "setup.sh: unknown set '$what' (runtime or all)" >&2; exit 2 ;;
esac
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e "$spec"
