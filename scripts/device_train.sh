#!/usr/bin/env bash
# Runs a training plan on a GPU machine that has JAX but no TensorFlow (and no network): Keras
# from wheels and FER-2013's Training rows as a packed .fer.xz, both carried in .dev/ (never
# committed). Each run's directory comes back as train.py writes it, tarred under $OUT.
# SECONDS_FOR_RUNS sizes every run's schedule to end in time (measured, before any accuracy);
# PLAN_SECONDS is the hard stop that still leaves time to tar what is there.
#   SECONDS_FOR_RUNS=420 PLAN_SECONDS=470 scripts/device_train.sh PLAN.json [PARALLEL] [STEPS_PER_EXECUTION]
set -uo pipefail
plan=$1; parallel=${2:-8}; steps=${3:-8}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .dev/wheels/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
python3 -c "import jax, keras; print('jax', jax.__version__, jax.devices(), 'keras', keras.__version__)" || exit 1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
started=$(date +%s)
timeout "${PLAN_SECONDS:-86400}" python3 -m acting_mirror.training.accelerated plan --plan "$plan" --data .dev/train.fer.xz --runs /tmp/runs \
    --parallel "$parallel" --steps-per-execution "$steps" --seconds "${SECONDS_FOR_RUNS:-0}"
echo "plan done in $(( $(date +%s) - started )) s"
for out in /tmp/runs/*.out; do echo "== $out"; grep -v "^Epoch" "$out" | tail -n 3; done
python3 -m acting_mirror.training.accelerated archive --runs /tmp/runs --out "${OUT:-/tmp/out}"
