#!/usr/bin/env bash
# Train the default model's two members on FER-2013 with FER+ votes, fine-tuned from the previous
# default's members, on one core, resumable: run it again after an interruption and each run goes
# on after its last finished epoch. Then the comparison run (FER+ majority targets, member 0).
#
#   bash scripts/train_default.sh [DATA] [RUNS]
#
# DATA: FER-2013 CSV with FER+ vote columns (default ../shared/data/fer2013plus.csv.gz)
# RUNS: where the runs live, outside the repository (default ~/.cache/acting-mirror/runs)
# INIT: RUNS/init/member0.keras and member1.keras, the previous default's members
#       (scripts/ensemble_members.py writes them from acting_mirror/models/mirror_ensemble.keras).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data/fer2013plus.csv.gz}
RUNS=${2:-$HOME/.cache/acting-mirror/runs}
EPOCHS=${EPOCHS:-8}
CORE=${CORE:-1}  # the core the training is pinned to; the other stays free

run() {  # run NAME TARGET INIT SEED
  local dir="$RUNS/$1"
  local common=(--data "$DATA" --run-dir "$dir" --threads 1 --quiet)
  if [ -f "$dir/config.json" ]; then
    taskset -c "$CORE" .venv/bin/acting-mirror-model train "${common[@]}" --resume
  else
    taskset -c "$CORE" .venv/bin/acting-mirror-model train "${common[@]}" --arch mirror_net --width 0.5 \
      --target "$2" --init-from "$3" --seed "$4" --epochs "$EPOCHS" --lr 5e-4 --warmup-epochs 1 \
      --augment geometric,erasing --ema 0.999
  fi
  touch "$dir/finished"
}

[ -f "$RUNS/votes_m0/finished" ] || run votes_m0 votes "$RUNS/init/member0.keras" 11
[ -f "$RUNS/votes_m1/finished" ] || run votes_m1 votes "$RUNS/init/member1.keras" 12
[ -f "$RUNS/majority_m0/finished" ] || run majority_m0 majority "$RUNS/init/member0.keras" 11
