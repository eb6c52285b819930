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
# ONLY=NAME trains just that run: a second instance, on the other core (CORE=0 nice -n 19), trains a run
# the first would reach later; each run is locked, so the first one then skips it

run() {  # run NAME TARGET INIT SEED EPOCHS LR [LABEL_WEIGHT [CROWD_ONLY [CROWD_WEIGHT]]]
  local dir="$RUNS/$1"
  if [ -n "${ONLY:-}" ] && [ "$1" != "$ONLY" ]; then return 0; fi
  mkdir -p "$RUNS"
  exec 9>"$RUNS/$1.lock"
  if ! flock -n 9; then  # another instance (ONLY=NAME on the other core) trains it
    echo "$1 is being trained by another process; skipping it"
    return 0
  fi
  local common=(--data "$DATA" --run-dir "$dir" --threads 1 --quiet)
  if [ -f "$dir/config.json" ]; then
    taskset -c "$CORE" .venv/bin/acting-mirror-model train "${common[@]}" --resume
  else
    taskset -c "$CORE" .venv/bin/acting-mirror-model train "${common[@]}" --arch mirror_net --width 0.5 \
      --target "$2" --init-from "$3" --seed "$4" --epochs "$5" --lr "$6" --warmup-epochs 1 \
      --label-weight "${7:-0}" --crowd-only "${8:-}" --crowd-weight "${9:-0}" --augment geometric,erasing --ema 0.999
  fi
  touch "$dir/finished"
  exec 9>&-
}

# 1. the members on the votes, from the previous default's members
[ -f "$RUNS/votes_m0/finished" ] || run votes_m0 votes "$RUNS/init/member0.keras" 11 "$EPOCHS" 5e-4
[ -f "$RUNS/votes_m1/finished" ] || run votes_m1 votes "$RUNS/init/member1.keras" 12 "$EPOCHS" 5e-4
# 2. a short second stage with half of each target FER-2013's own label (votes alone read 59.7% of the
#    original labels on PublicTest, below the 64% asked for)
[ -f "$RUNS/blend_m0/finished" ] || run blend_m0 votes "$RUNS/votes_m0/last.keras" 21 3 2e-4 0.5
[ -f "$RUNS/blend_m1/finished" ] || run blend_m1 votes "$RUNS/votes_m1/last.keras" 22 3 2e-4 0.5
# 3. the comparison: the FER+ majority as a one-hot target (Barsoum et al.'s "majority" mode)
[ -f "$RUNS/majority_m0/finished" ] || run majority_m0 majority "$RUNS/init/member0.keras" 11 "$EPOCHS" 5e-4
# 4. the same second stage with more of the label (0.7), except on faces the crowd calls neutral, which
#    keep the votes: FER-2013 calls 56% of those sad, scared or angry, and the blend pair read only
#    77.6% of them neutral
[ -f "$RUNS/rest_m0/finished" ] || run rest_m0 votes "$RUNS/votes_m0/last.keras" 31 3 2e-4 0.7 neutral
[ -f "$RUNS/rest_m1/finished" ] || run rest_m1 votes "$RUNS/votes_m1/last.keras" 32 3 2e-4 0.7 neutral
# 5. the same with the whole target the label on those faces (1.0): rest_m0 read 62.2% of the original labels
[ -f "$RUNS/label_m0/finished" ] || run label_m0 votes "$RUNS/votes_m0/last.keras" 41 3 2e-4 1.0 neutral
[ -f "$RUNS/label_m1/finished" ] || run label_m1 votes "$RUNS/votes_m1/last.keras" 42 3 2e-4 1.0 neutral
# 6. label weight 1.0 read no more of the original labels than 0.7 as a pair (62.8% / 83.7% / 82.4%):
#    the same 0.7 second stage, longer (8 epochs from 3e-4), to see whether 3 epochs were too few
[ -f "$RUNS/rest8_m0/finished" ] || run rest8_m0 votes "$RUNS/votes_m0/last.keras" 51 8 3e-4 0.7 neutral
[ -f "$RUNS/rest8_m1/finished" ] || run rest8_m1 votes "$RUNS/votes_m1/last.keras" 52 8 3e-4 0.7 neutral
# 7. the rest8 pair read 63.7% of the original labels with 83.3% FER+ and 83.2% neutral recall: the
#    same, with 0.15 of FER-2013's label on the crowd-neutral faces too (the blend pair, 0.5 there,
#    read 64.3% but only 74.5% of neutral faces neutral), spending some of that neutral margin
[ -f "$RUNS/restw_m0/finished" ] || run restw_m0 votes "$RUNS/votes_m0/last.keras" 61 8 3e-4 0.7 neutral 0.15
[ -f "$RUNS/restw_m1/finished" ] || run restw_m1 votes "$RUNS/votes_m1/last.keras" 62 8 3e-4 0.7 neutral 0.15
