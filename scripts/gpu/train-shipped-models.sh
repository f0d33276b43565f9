#!/usr/bin/env bash
# Trains the shipped weights on a GPU host, end to end, inside one time budget:
#   phantoms (training seeds) -> `lascar dataset` shards -> PyTorch training of both networks
#   (concurrently on the one GPU) -> ONNX export -> `lascar segment` on held-out phantoms (seeds
#   never used in training, one per LAScarQS matrix size) with onnxruntime-node -> $OUT.
# The record of the 2026-11-27 run that made the shipped scar model and the LA model's starting
# point. scripts/train-models.sh --device cuda does the same from the repository (needs the built
# CLI, apps/cli/dist) and then chooses the LA epoch by the whole method on the validation phantoms.
# Run from the repository root through the GPU bundle (see models/README.md), which puts node on PATH:
#   bash .gpu/host-run.sh bash scripts/gpu/train-shipped-models.sh
# Knobs (environment): JOBS, CASES_PER_JOB, LA_WIDTH, SCAR_WIDTH, LA_MINUTES, SCAR_MINUTES,
# TOTAL_SECONDS, PHANTOM_ARGS (e.g. "--scale 0.25" for a quick dry run on a CPU machine),
# LA_INIT / SCAR_INIT (continue from a checkpoint, or from a shipped .onnx such as models/la.onnx,
# imported with `python3 -m training import-onnx`; empty: train from scratch).
# The defaults fit one 600 s device command: ~90 s data, 6 min LA training (the scar model,
# which converges faster, trains for 4 of them on the same GPU), export and evaluation.
set -uo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/lascar-gpu-out}
W=${WORK:-/tmp/lascar-gpu-work}
LASCAR="node ${GPU_FILES:-.gpu/files}/lascar.mjs"
PY=${PYTHON:-python3}
JOBS=${JOBS:-16}
CASES_PER_JOB=${CASES_PER_JOB:-4}
LA_WIDTH=${LA_WIDTH:-12}
SCAR_WIDTH=${SCAR_WIDTH:-16}
LA_MINUTES=${LA_MINUTES:-6}
SCAR_MINUTES=${SCAR_MINUTES:-4}
TOTAL_SECONDS=${TOTAL_SECONDS:-560}
PHANTOM_ARGS=${PHANTOM_ARGS:-}
LA_INIT=${LA_INIT:-}
SCAR_INIT=${SCAR_INIT:-}
TRAIN_SEED_BASE=1000 # training phantoms: batch seeds 1000 .. 1000 + JOBS - 1
TEST_SEED_BASE=90001 # held-out phantoms: never a training seed
# Held-out geometries: every LAScarQS matrix, slice counts across 44..88.
TEST_GEOMETRIES=${TEST_GEOMETRIES:-"480:44 576:88 640:60 768:50 784:72 864:88"}
mkdir -p "$OUT" "$W"
t0=$(date +%s)
elapsed() { echo $(($(date +%s) - t0)); }
stamp() { echo "[$(elapsed)s] $*"; }
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"

stamp "phantoms + shards: $JOBS jobs x $CASES_PER_JOB cases"
pids=()
for j in $(seq 0 $((JOBS - 1))); do
  ( $LASCAR phantom --out "$W/phantoms/job$j" --cases "$CASES_PER_JOB" --seed $((TRAIN_SEED_BASE + j)) \
      --format lascarqs $PHANTOM_ARGS >"$W/phantom-$j.log" 2>&1 &&
    $LASCAR dataset "$W/phantoms/job$j" --out "$W/shards/job$j" --id-prefix "job$j/" \
      --source "lascar phantoms, batch seeds $TRAIN_SEED_BASE..$((TRAIN_SEED_BASE + JOBS - 1)), $CASES_PER_JOB cases each" \
      >"$W/dataset-$j.log" 2>&1 ) &
  pids+=($!)
done
wait "${pids[@]}"
# Held-out phantoms are made in the background while the GPU trains.
n=0
for g in $TEST_GEOMETRIES; do
  $LASCAR phantom --out "$W/test/m${g%%:*}" --cases 1 --seed $((TEST_SEED_BASE + n)) --matrix "${g%%:*}" \
    --slices "${g##*:}" --format lascarqs $PHANTOM_ARGS >"$W/test-phantom-$n.log" 2>&1 &
  n=$((n + 1))
done
grep -h "cases ->" "$W"/dataset-*.log
stamp "merging shards"
$PY -m training merge-shards --out "$W/shards/all" "$W"/shards/job* || exit 1

# --init arguments: a .onnx is imported into a checkpoint first (folded BatchNorm, kept frozen).
init_args() { # kind path
  case "$2" in
    "") ;;
    *.onnx) $PY -m training import-onnx "$2" --out "$W/$1-init.pt" >&2 && echo "--init $W/$1-init.pt" ;;
    *) echo "--init $2" ;;
  esac
}
la_init=$(init_args la "$LA_INIT") || exit 1
scar_init=$(init_args scar "$SCAR_INIT") || exit 1
la_width="--width $LA_WIDTH"; [ -n "$la_init" ] && la_width=""
scar_width="--width $SCAR_WIDTH"; [ -n "$scar_init" ] && scar_width=""

stamp "training LA (${la_init:-width $LA_WIDTH}, $LA_MINUTES min) and scar (${scar_init:-width $SCAR_WIDTH}, $SCAR_MINUTES min) concurrently"
$PY -m training train --kind la --shards "$W/shards/all" --out "$W/run-la" $la_width $la_init --amp \
  --max-minutes "$LA_MINUTES" --workers 6 --print-every 200 >"$W/train-la.log" 2>&1 &
la_pid=$!
$PY -m training train --kind scar --shards "$W/shards/all" --out "$W/run-scar" $scar_width $scar_init --amp \
  --max-minutes "$SCAR_MINUTES" --workers 4 --print-every 500 >"$W/train-scar.log" 2>&1 &
scar_pid=$!
wait $la_pid $scar_pid
grep -h "^training\|^epoch\|^done\|rror" "$W/train-la.log" "$W/train-scar.log"

stamp "export"
mkdir -p "$OUT/models"
$PY -m training export --kind la --checkpoint "$W/run-la/la-best.pt" --out "$OUT/models"
$PY -m training export --kind scar --checkpoint "$W/run-scar/scar-best.pt" --out "$OUT/models"

stamp "held-out evaluation ($TEST_GEOMETRIES)"
wait
left=$((TOTAL_SECONDS - $(elapsed) - 15))
if ((left > 30)); then
  timeout "$left" $LASCAR segment "$W/test" --out "$W/eval" --models "$OUT/models" --ep auto >"$OUT/eval.txt" 2>"$W/eval.log"
  echo "segment exit $?"
  cat "$OUT/eval.txt"
  grep -m1 "^models:" "$W/eval.log"
else
  echo "no time left for the held-out evaluation ($left s)"
fi
# One archive for everything else ($OUT returns at most 8 files).
(cd "$W" && tar czf "$OUT/logs.tgz" run-la/*.json run-scar/*.json eval/*/*/report.json ./*.log) 2>/dev/null
stamp "done"
ls -la "$OUT" "$OUT/models"
