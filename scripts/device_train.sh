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
python3 - <<'PY'
import json, os, pathlib, tarfile
runs = sorted(p for p in pathlib.Path("/tmp/runs").iterdir() if p.is_dir())
out = pathlib.Path(os.environ.get("OUT", "/tmp/out")); out.mkdir(parents=True, exist_ok=True)
group, size, index = [], 0, 0
def flush():
    global group, size, index
    if group:
        with tarfile.open(out / f"runs{index}.tar", "w") as tar:
            for run in group:
                for f in sorted(run.iterdir()):
                    if f.name != "best.keras":
                        tar.add(f, arcname=f"{run.name}/{f.name}")
        index += 1
    group, size = [], 0
for run in runs:
    s = sum(f.stat().st_size for f in run.iterdir() if f.name != "best.keras")
    if size + s > 15 * 2 ** 20:
        flush()
    group.append(run); size += s
    seconds = json.loads((run / "epoch_seconds.json").read_text()) if (run / "epoch_seconds.json").exists() else {}
    print(run.name, "epochs", len(seconds), "median s/epoch", sorted(seconds.values())[len(seconds) // 2] if seconds else None)
flush()
PY
tar -cf "${OUT:-/tmp/out}/logs.tar" -C /tmp/runs $(cd /tmp/runs && ls *.out) 2>/dev/null
