#!/usr/bin/env bash
# Set up (if needed) and run the mirror: camera 0, or the built-in demo clip when there is no camera.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh runtime  # no TensorFlow, no Ray: the mirror needs neither
exec .venv/bin/acting-mirror --details --graph "$@"
