#!/usr/bin/env bash
# Set up (if needed) and run the test suite. Window tests need Xvfb and xdotool
# (Debian: apt-get install xvfb xdotool x11-utils); .ci/run installs them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh all  # the tests need training (TensorFlow) and Ray too
.venv/bin/ruff check acting_mirror tests benchmarks
.venv/bin/python -m pytest -q "$@"
