#!/usr/bin/env bash
# The model card's measurement in one command: regenerates the held-out phantoms (one study per
# LAScarQS matrix, seeds never used in training) and runs the whole method on them with
# `lascar segment`, which prints Dice / HD95 / ASSD (medpy definitions, `lascar evaluate`'s code)
# per study and their mean.
#   bash scripts/eval-heldout.sh [MODELS_DIR] [--validation]
# --validation uses seeds 80001.. instead of 90001..: pick checkpoints on those, report the
# held-out ones once, for the model you ship. Needs `npm ci && npm run build`; CPU by default
# (EP=auto|cpu|cuda|webgpu to change; WORK=DIR keeps the phantoms and outputs).
set -euo pipefail
MODELS=models
SEED_BASE=90001
for a in "$@"; do
  case "$a" in
    --validation) SEED_BASE=80001 ;;
    -*) echo "error: unknown option $a (usage: eval-heldout.sh [MODELS_DIR] [--validation])" >&2; exit 2 ;;
    *) MODELS=$(cd "$a" && pwd) || exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
GEOMETRIES=${GEOMETRIES:-"480:44 576:88 640:60 768:50 784:72 864:88"}
WORK=${WORK:-$(mktemp -d)}
PHANTOMS="$WORK/phantoms-$SEED_BASE" # keyed by seed: validation and held-out never mix
LASCAR="node apps/cli/dist/bin.js"
n=0
for g in $GEOMETRIES; do
  m=${g%%:*}
  s=${g##*:}
  [ -d "$PHANTOMS/m$m" ] || $LASCAR phantom --out "$PHANTOMS/m$m" --cases 1 --seed $((SEED_BASE + n)) \
    --matrix "$m" --slices "$s" --format lascarqs >/dev/null
  n=$((n + 1))
done
echo "phantoms (seeds $SEED_BASE..$((SEED_BASE + n - 1))) in $PHANTOMS; models: $MODELS"
$LASCAR segment "$PHANTOMS" --out "$WORK/segment-$SEED_BASE" --models "$MODELS" --ep "${EP:-cpu}" \
  2>"$WORK/segment-$SEED_BASE.log" || { tail -n 20 "$WORK/segment-$SEED_BASE.log" >&2; exit 1; }
