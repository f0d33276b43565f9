#!/usr/bin/env bash
# The model card's measurement in one command: regenerates the held-out phantoms (one study per
# LAScarQS matrix, seeds never used in training) and runs the whole method on them with
# `lascar segment`, which prints Dice / HD95 / ASSD (medpy definitions, `lascar evaluate`'s code)
# per study and their mean.
#   bash scripts/eval-heldout.sh [MODELS_DIR] [--validation | --seed-base N] [--style classic|randomised|shift]
# --style (`lascar phantom --style`, training/README.md "Domain randomisation") picks the set:
#   classic (default): today's held-out set, seeds 90001.. (validation 80001..), the phantoms the
#     shipped models' measurements in models/README.md were made on;
#   randomised: the domain-randomised look the training phantoms have, seeds 91001..
#     (validation 81001..);
#   shift: the STYLE-SHIFT held-out set, seeds 95001.., the randomised anatomy and grids rendered
#     with a look deliberately outside the randomised ranges (inversion-recovery contrast,
#     multi-coil correlated noise, coarser blur, wrap-around, strong ghosts). Report it next to
#     the other held-out sets; NEVER use it to choose checkpoints or settings (no --validation).
# --validation: the validation seeds of that style instead of the held-out ones: pick checkpoints
# on those, report the held-out ones once, for the model you ship. --seed-base N uses seeds
# N..N+5 (fresh phantoms, e.g. 70001 for a measurement made after a method change that looked at
# the other two sets).
# Needs `npm ci && npm run build`; CPU by default
# (EP=auto|cpu|cuda|webgpu to change; WORK=DIR keeps the phantoms and outputs).
set -euo pipefail
MODELS=models
SEED_BASE=
STYLE=classic
VALIDATION=0
USAGE="usage: eval-heldout.sh [MODELS_DIR] [--validation | --seed-base N] [--style classic|randomised|shift]"
while [ $# -gt 0 ]; do
  case "$1" in
    --validation) VALIDATION=1 ;;
    --style)
      case "${2:-}" in
        classic|randomised|shift) STYLE=$2 ;;
        *) echo "error: --style must be classic, randomised or shift, got \"${2:-}\" ($USAGE)" >&2; exit 2 ;;
      esac
      shift ;;
    --seed-base)
      [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || { echo "error: --seed-base needs a positive whole number ($USAGE)" >&2; exit 2; }
      SEED_BASE=$2
      shift ;;
    -*) echo "error: unknown option $1 ($USAGE)" >&2; exit 2 ;;
    *) MODELS=$(cd "$1" && pwd) || exit 2 ;;
  esac
  shift
done
if [ "$VALIDATION" = 1 ] && [ "$STYLE" = shift ]; then
  echo "error: the style-shift set is never a validation set ($USAGE)" >&2
  exit 2
fi
if [ -z "$SEED_BASE" ]; then
  case "$STYLE:$VALIDATION" in
    classic:1) SEED_BASE=80001 ;;
    classic:0) SEED_BASE=90001 ;;
    randomised:1) SEED_BASE=81001 ;;
    randomised:0) SEED_BASE=91001 ;;
    shift:0) SEED_BASE=95001 ;;
  esac
fi
cd "$(dirname "$0")/.."
GEOMETRIES=${GEOMETRIES:-"480:44 576:88 640:60 768:50 784:72 864:88"}
WORK=${WORK:-$(mktemp -d)}
TAG=$SEED_BASE
[ "$STYLE" = classic ] || TAG="$STYLE-$SEED_BASE"
PHANTOMS="$WORK/phantoms-$TAG" # keyed by style and seed: the sets never mix
LASCAR="node apps/cli/dist/bin.js"
n=0
for g in $GEOMETRIES; do
  m=${g%%:*}
  s=${g##*:}
  [ -d "$PHANTOMS/m$m" ] || $LASCAR phantom --out "$PHANTOMS/m$m" --cases 1 --seed $((SEED_BASE + n)) \
    --matrix "$m" --slices "$s" --style "$STYLE" --format lascarqs >/dev/null
  n=$((n + 1))
done
echo "phantoms (style $STYLE, seeds $SEED_BASE..$((SEED_BASE + n - 1))) in $PHANTOMS; models: $MODELS"
$LASCAR segment "$PHANTOMS" --out "$WORK/segment-$TAG" --models "$MODELS" --ep "${EP:-cpu}" \
  2>"$WORK/segment-$TAG.log" || { tail -n 20 "$WORK/segment-$TAG.log" >&2; exit 1; }
# Scar burden against the phantoms' truth (truth.json: the true scar's share of the 3 mm shell
# outside the true cavity), per study and as a mean absolute error in percentage points.
node - "$PHANTOMS" "$WORK/segment-$TAG" <<'JS'
const fs = require('node:fs');
const path = require('node:path');
const [phantoms, out] = process.argv.slice(2);
const rows = [];
for (const m of fs.readdirSync(phantoms).sort()) {
  const truth = JSON.parse(fs.readFileSync(path.join(phantoms, m, 'case_000', 'truth.json'), 'utf8'));
  const report = JSON.parse(fs.readFileSync(path.join(out, m, 'case_000', 'report.json'), 'utf8'));
  const t = truth.quantities.scarBurdenPercent;
  const b = report.scarBurdenPercent ?? 0;
  rows.push({ study: `${m}/case_000`, truth: t, measured: b, error: b - t });
}
for (const r of rows)
  console.log(`burden ${r.study}: ${r.measured.toFixed(1)} % (truth ${r.truth.toFixed(1)} %, error ${r.error >= 0 ? '+' : ''}${r.error.toFixed(1)} points)`);
const mae = rows.reduce((s, r) => s + Math.abs(r.error), 0) / rows.length;
const bias = rows.reduce((s, r) => s + r.error, 0) / rows.length;
console.log(`burden mean absolute error ${mae.toFixed(2)} points, mean error ${bias >= 0 ? '+' : ''}${bias.toFixed(2)} points (${rows.length} studies)`);
JS
