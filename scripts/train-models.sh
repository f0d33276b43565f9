#!/usr/bin/env bash
# Every step that makes the shipped weights, in one command:
#   phantoms (documented seeds, `lascar phantom --style randomised`) -> shards (`lascar dataset`,
#   merged, split) -> PyTorch training (every epoch kept) -> each LA epoch exported to ONNX -> each
#   candidate run through the whole method on the VALIDATION phantoms of the same style
#   (`scripts/eval-heldout.sh --validation --style randomised`, seeds 81001..; classic: 80001..)
#   (--style mixed: classic and randomised phantoms alternate by seed parity, and a candidate is
#   scored on both styles' validation phantoms, the mean over all their studies)
#   -> the candidate with the highest mean LA Dice exported into --out (on CPU the starting model
#   is a candidate too: a run that does not beat it hands it back unchanged, as "la-start").
# The held-out phantoms (seeds 90001.., 91001.., 95001..) are never looked at here: measure the
#   winner once with bash scripts/eval-heldout.sh OUT_DIR [--style randomised|shift]
#
#   bash scripts/train-models.sh [--device cpu|cuda] [--work DIR] [--out DIR] [--smoke] [options]
#
# --device cpu (default): continue from the shipped weights, as the shipped LA model was made
#   (models/README.md, "How they were trained", step 2): LA imported from --init-la (default
#   models/la.onnx), 256 px crops, batch 12, lr 1e-4, 96 validation slices, 7 epochs; 72 phantoms
#   (batch seeds 1000-1015 and 2000-2007, 3 cases each), validation cases s200N/case_002; the scar
#   model is copied from models/ unless --train-scar.
# --device cuda: from scratch with the larger data (step 1): batch seeds 1000-1015 x --cases-per-seed
#   (default 4 here; the shipped run used 3), LA width 12 and scar width 16 trained concurrently
#   with fp16 autocast inside --la-minutes / --scar-minutes, 70/20/10 split by case.
# Resumable: every stage leaves its result in --work and is skipped when run again with the same
# --work (delete a stage's folder to redo it); each stage prints a "[stage]" line.
# --out is never models/ unless --overwrite-models is given.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-/usr/bin/python3}
LASCAR=${LASCAR:-"node $ROOT/apps/cli/dist/bin.js"}
export PYTHONUNBUFFERED=1

DEVICE=cpu WORK="" OUT="" SMOKE=0 OVERWRITE=0 TRAIN_SCAR="" INIT_LA="" INIT_SCAR=""
SEEDS="" CASES="" VAL="" EPOCHS="" BATCH="" LR=1e-4 CROP="" VAL_SAMPLES="" MAX_STEPS=0
SCAR_EXTRA=()
CANDIDATES=""
LA_WIDTH=12 SCAR_WIDTH=16 LA_MINUTES=6 SCAR_MINUTES=4 PHANTOM_ARGS="" JOBS=$(nproc) EP=${EP:-}
STYLE=randomised SOUP=0
usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; cat <<'EOF'
options (defaults by device, cpu / cuda):
  --work DIR            working folder (default tmp/train-models-<device>[-smoke])
  --out DIR             models folder for the winner (default <work>/models)
  --overwrite-models    allow --out models
  --seeds "A-B C-D"     phantom batch seeds (cpu "1000-1015 2000-2007" / cuda "1000-1015")
  --cases-per-seed N    cases per batch seed (3 / 4)
  --val REGEX           validation case ids (cpu '^s200[0-7]/case_002$' / cuda: 70/20/10 split)
  --epochs N            (7 / 100, cut by the minutes)      --batch N   (12 / 24)
  --lr X                (1e-4)                             --crop N    (256 / whole slices)
  --val-samples N       (96 / all)                         --max-steps N (0: no limit)
  --candidates K        LA epochs run through the whole method: the K best by slice validation
                        Dice (all / 5; each costs one pass over the validation phantoms)
  --la-width N --scar-width N   (cuda, from scratch: 12, 16)
  --la-minutes M --scar-minutes M  (cuda time budget: 6, 4)
  --init-la FILE        .onnx or checkpoint to continue from (cpu: models/la.onnx)
  --train-scar          cpu: also fine-tune the scar model from models/scar.onnx
  --soup                cpu: each chosen epoch averaged 1:1 with the starting model (WiSE-FT,
                        `python3 -m training average`) is a candidate too (la-soup-epochNNN)
  --style S             phantom style of the training and validation phantoms: randomised (default,
                        domain randomisation), classic (the look before it) or mixed (even batch
                        seeds classic, odd ones randomised; validated on both); never shift.
                        A new style needs a new --work (made phantoms are reused)
  --phantom-args "..."  extra `lascar phantom` options for the training phantoms (e.g. --scale 0.5)
  --jobs N              parallel phantom/shard jobs (default: the core count)
  --smoke               a tiny end-to-end run (2 small phantoms, a few steps, one validation study)
EOF
}
range() { local a=${1%-*} b=${1#*-}; seq "$a" "$b"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE=$2; shift ;;
    --work) WORK=$2; shift ;;
    --out) OUT=$2; shift ;;
    --overwrite-models) OVERWRITE=1 ;;
    --smoke) SMOKE=1 ;;
    --seeds) SEEDS=$2; shift ;;
    --cases-per-seed) CASES=$2; shift ;;
    --val) VAL=$2; shift ;;
    --epochs) EPOCHS=$2; shift ;;
    --batch) BATCH=$2; shift ;;
    --lr) LR=$2; shift ;;
    --crop) CROP=$2; shift ;;
    --val-samples) VAL_SAMPLES=$2; shift ;;
    --max-steps) MAX_STEPS=$2; shift ;;
    --candidates) CANDIDATES=$2; shift ;;
    --la-width) LA_WIDTH=$2; shift ;;
    --scar-width) SCAR_WIDTH=$2; shift ;;
    --la-minutes) LA_MINUTES=$2; shift ;;
    --scar-minutes) SCAR_MINUTES=$2; shift ;;
    --init-la) INIT_LA=$2; shift ;;
    --train-scar) TRAIN_SCAR=1 ;;
    --soup) SOUP=1 ;;
    --phantom-args) PHANTOM_ARGS=$2; shift ;;
    --style) STYLE=$2; shift ;;
    --jobs) JOBS=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$DEVICE" in cpu|cuda) ;; *) echo "error: --device must be cpu or cuda, got $DEVICE" >&2; exit 2 ;; esac
# The style-shift look is held out: never trained on, never used to choose checkpoints.
case "$STYLE" in classic|randomised|mixed) ;; *) echo "error: --style must be randomised, classic or mixed, got $STYLE" >&2; exit 2 ;; esac
# The style of one batch seed's phantoms, and the styles whose validation phantoms score a candidate.
seed_style() { if [ "$STYLE" = mixed ]; then (($1 % 2)) && echo randomised || echo classic; else echo "$STYLE"; fi; }
VAL_STYLES=$([ "$STYLE" = mixed ] && echo "classic randomised" || echo "$STYLE")

# Defaults: the documented runs (models/README.md). --smoke shrinks everything but the steps.
EVAL_GEOMETRIES=${GEOMETRIES:-"480:44 576:88 640:60 768:50 784:72 864:88"}
if [ "$DEVICE" = cpu ]; then
  : "${SEEDS:=1000-1015 2000-2007}" "${CASES:=3}" "${VAL:=^s200[0-7]/case_002\$}" "${EPOCHS:=7}" "${BATCH:=12}"
  : "${CROP:=256}" "${VAL_SAMPLES:=96}" "${INIT_LA:=models/la.onnx}" "${CANDIDATES:=0}"
  [ -n "$TRAIN_SCAR" ] && INIT_SCAR=models/scar.onnx
else
  : "${SEEDS:=1000-1015}" "${CASES:=4}" "${EPOCHS:=100}" "${BATCH:=24}" "${CROP:=0}" "${VAL_SAMPLES:=0}"
  : "${CANDIDATES:=5}"
  TRAIN_SCAR=1
fi
if [ "$SMOKE" = 1 ]; then
  SEEDS="1000 2000" CASES=1 VAL='^s2000/' EPOCHS=2 BATCH=4 VAL_SAMPLES=4
  # The scar path is exercised too (fine-tuned from the shipped model for a few steps on CPU).
  [ "$DEVICE" = cpu ] && TRAIN_SCAR=1 INIT_SCAR=models/scar.onnx SCAR_EXTRA=(--max-steps 4)
  LA_MINUTES=1 SCAR_MINUTES=1 EVAL_GEOMETRIES=${GEOMETRIES:-"480:12"}
  PHANTOM_ARGS=${PHANTOM_ARGS:-"--scale 0.25"}
fi
WORK=${WORK:-tmp/train-models-$DEVICE$([ "$SMOKE" = 1 ] && echo -smoke)}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
OUT=${OUT:-$WORK/models}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
if [ "$OUT" = "$ROOT/models" ] && [ "$OVERWRITE" != 1 ]; then
  echo "error: --out is the shipped models/ folder; add --overwrite-models to replace it" >&2; exit 2
fi
[ -e "$ROOT/apps/cli/dist/bin.js" ] || { echo "error: build the CLI first (npm ci && npm run build)" >&2; exit 2; }

t0=$(date +%s)
stage() { echo "[stage $(($(date +%s) - t0))s] $*"; }
seed_list=()
for r in $SEEDS; do
  if [[ $r == *-* ]]; then mapfile -t -O "${#seed_list[@]}" seed_list < <(range "$r"); else seed_list+=("$r"); fi
done
STYLE_DESCRIPTION=$STYLE
if [ "$STYLE" = mixed ]; then STYLE_DESCRIPTION="mixed: even batch seeds classic, odd randomised"; fi
SOURCE="lascar phantoms (style $STYLE_DESCRIPTION), batch seeds $SEEDS, $CASES cases each"
[ -n "$PHANTOM_ARGS" ] && SOURCE="$SOURCE (lascar phantom $PHANTOM_ARGS)"
echo "device $DEVICE; work $WORK; out $OUT; ${#seed_list[@]} batch seeds x $CASES cases"
cat >"$WORK/config.txt" <<EOF
device=$DEVICE candidates=$CANDIDATES seeds=$SEEDS cases=$CASES val=$VAL epochs=$EPOCHS batch=$BATCH lr=$LR crop=$CROP
val_samples=$VAL_SAMPLES max_steps=$MAX_STEPS init_la=$INIT_LA train_scar=$TRAIN_SCAR init_scar=$INIT_SCAR soup=$SOUP
la_width=$LA_WIDTH scar_width=$SCAR_WIDTH la_minutes=$LA_MINUTES scar_minutes=$SCAR_MINUTES phantom_args=$PHANTOM_ARGS
eval_geometries=$EVAL_GEOMETRIES smoke=$SMOKE style=$STYLE
EOF

# 1-2. Phantoms and per-seed shards, $JOBS at a time; a seed whose shards are complete is skipped.
stage "phantoms + shards (${#seed_list[@]} seeds)"
one_seed() {
  local s=$1 ph="$WORK/phantoms/s$1" sh="$WORK/shards/s$1"
  [ -f "$sh/.done" ] && return 0
  rm -rf "$ph" "$sh"
  $LASCAR phantom --out "$ph" --cases "$CASES" --seed "$s" --style "$(seed_style "$s")" --format lascarqs $PHANTOM_ARGS >"$WORK/logs/phantom-s$s.log" 2>&1 &&
    $LASCAR dataset "$ph" --out "$sh" --id-prefix "s$s/" --source "$SOURCE" >"$WORK/logs/dataset-s$s.log" 2>&1 &&
    touch "$sh/.done" && echo "  seed $s: $(grep -h "cases ->" "$WORK/logs/dataset-s$s.log" | head -1)"
}
mkdir -p "$WORK/logs"
running=0
for s in "${seed_list[@]}"; do
  one_seed "$s" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then wait -n || { echo "error: a phantom/shard job failed (see $WORK/logs)" >&2; exit 1; }; running=$((running - 1)); fi
done
while [ "$running" -gt 0 ]; do wait -n || { echo "error: a phantom/shard job failed (see $WORK/logs)" >&2; exit 1; }; running=$((running - 1)); done

# 3. One shard folder with the split fixed in its manifest.
if [ ! -f "$WORK/shards/all/.done" ]; then
  stage "merging shards${VAL:+ (validation: $VAL)}"
  rm -rf "$WORK/shards/all"
  $PY -m training merge-shards --out "$WORK/shards/all" ${VAL:+--val "$VAL"} "${seed_list[@]/#/$WORK/shards/s}"
  touch "$WORK/shards/all/.done"
fi

# 4. Training. An .onnx to continue from is imported into a checkpoint first (folded BatchNorm).
init_ckpt() { # kind source -> prints the checkpoint path
  case "$2" in
    *.onnx) [ -f "$WORK/$1-init.pt" ] || $PY -m training import-onnx "$2" --out "$WORK/$1-init.pt" >&2; echo "$WORK/$1-init.pt" ;;
    *) echo "$2" ;;
  esac
}
train_one() { # kind width minutes init extra...
  local kind=$1 width=$2 minutes=$3 init=$4
  shift 4
  local run="$WORK/run-$kind"
  if [ -f "$run/.done" ]; then echo "  $kind: trained already ($run)"; return 0; fi
  rm -rf "$run"
  local args=(--kind "$kind" --shards "$WORK/shards/all" --out "$run" --device "$DEVICE" --epochs "$EPOCHS"
    --batch "$BATCH" --lr "$LR" --keep-epochs)
  if [ -n "$init" ]; then args+=(--init "$(init_ckpt "$kind" "$init")"); else args+=(--width "$width"); fi
  [ "$DEVICE" = cuda ] && args+=(--amp --max-minutes "$minutes")
  [ "$MAX_STEPS" != 0 ] && args+=(--max-steps "$MAX_STEPS")
  $PY -m training train "${args[@]}" "$@" >"$WORK/logs/train-$kind.log" 2>&1 ||
    { tail -n 20 "$WORK/logs/train-$kind.log" >&2; return 1; }
  grep -h "^training\|^epoch\|^done" "$WORK/logs/train-$kind.log"
  touch "$run/.done"
}
la_extra=()
[ "$CROP" != 0 ] && la_extra+=(--crop "$CROP")
[ "$VAL_SAMPLES" != 0 ] && la_extra+=(--val-samples "$VAL_SAMPLES")
if [ "$DEVICE" = cuda ]; then
  # Both networks share the one GPU, as the shipped run did.
  stage "training LA (width $LA_WIDTH, $LA_MINUTES min) and scar (width $SCAR_WIDTH, $SCAR_MINUTES min) from scratch, concurrently"
  train_one la "$LA_WIDTH" "$LA_MINUTES" "" "${la_extra[@]}" --workers 6 --print-every 200 & la_pid=$!
  train_one scar "$SCAR_WIDTH" "$SCAR_MINUTES" "" --workers 4 --print-every 500 & scar_pid=$!
  wait $la_pid && wait $scar_pid
else
  stage "training LA from $INIT_LA on CPU ($EPOCHS epochs, crops $CROP, batch $BATCH)"
  train_one la "" "" "$INIT_LA" "${la_extra[@]}"
  if [ -n "$INIT_SCAR" ]; then
    stage "training scar from $INIT_SCAR on CPU"
    train_one scar "" "" "$INIT_SCAR" "${SCAR_EXTRA[@]}"
  fi
fi

# 5. The scar model of every candidate: this run's best (patch-level validation Dice, as shipped)
#    or, on CPU without --train-scar, the shipped one.
mkdir -p "$WORK/scar-model"
if [ ! -f "$WORK/scar-model/scar.json" ]; then
  if [ -n "$TRAIN_SCAR" ]; then
    $PY -m training export --kind scar --checkpoint "$WORK/run-scar/scar-best.pt" --out "$WORK/scar-model"
  else
    cp models/scar.onnx models/scar.json "$WORK/scar-model/"
  fi
fi

# 6. Every LA epoch through the whole method on the validation phantoms of the training style
#    (seeds 81001.. randomised, 80001.. classic; made once, in $WORK/eval-<style>, reused by every candidate).
stage "choosing the LA epoch by the whole method on the validation phantoms ($EVAL_GEOMETRIES)"
best="" best_dice=-1
# The K epochs with the best slice validation Dice (0: all), in epoch order.
mapfile -t chosen < <($PY - "$WORK/run-la/la-train-log.json" "$CANDIDATES" <<'PYEOF'
import json, sys
epochs = json.load(open(sys.argv[1]))["epochs"]
k = int(sys.argv[2]) or len(epochs)
top = sorted(epochs, key=lambda e: (-e["val_dice"], e["epoch"]))[:k]
for e in sorted(top, key=lambda e: e["epoch"]):
    print(f"la-epoch{e['epoch']:03d}")
PYEOF
)
# Continuing from an exported model, the model it started from competes too (first, so it wins a
# tie): a run never hands over weights that do worse on the validation phantoms than its start.
if [ "$DEVICE" = cpu ] && [[ $INIT_LA == *.onnx ]]; then
  # --soup: each chosen epoch averaged with the starting model compete too (WiSE-FT; training/README.md).
  if [ "$SOUP" = 1 ]; then for name in "${chosen[@]}"; do chosen+=("la-soup-${name#la-}"); done; fi
  chosen=(la-start "${chosen[@]}")
fi
rm -f "$WORK/candidates/.table.tmp"
for name in "${chosen[@]}"; do
  ckpt="$WORK/run-la/$name.pt"
  cand="$WORK/candidates/$name"
  if [ ! -f "$cand/validation.txt" ]; then
    rm -rf "$cand"
    mkdir -p "$cand"
    if [ "$name" = la-start ]; then
      cp "$INIT_LA" "$cand/la.onnx" && cp "${INIT_LA%.onnx}.json" "$cand/la.json"
    else
      if [[ $name == la-soup-* ]]; then
        $PY -m training average "$WORK/la-init.pt" "$WORK/run-la/la-${name#la-soup-}.pt" --out "$ckpt" \
          >"$WORK/logs/average-$name.log" 2>&1 || { tail -n 20 "$WORK/logs/average-$name.log" >&2; exit 1; }
      fi
      $PY -m training export --kind la --checkpoint "$ckpt" --out "$cand" >"$WORK/logs/export-$name.log" 2>&1 ||
        { tail -n 20 "$WORK/logs/export-$name.log" >&2; exit 1; }
    fi
    cp "$WORK/scar-model/scar.onnx" "$WORK/scar-model/scar.json" "$cand/"
    for vs in $VAL_STYLES; do
      GEOMETRIES="$EVAL_GEOMETRIES" WORK="$WORK/eval-$vs" EP=${EP:-cpu} \
        bash scripts/eval-heldout.sh "$cand" --validation --style "$vs" >>"$cand/validation.tmp"
    done
    mv "$cand/validation.tmp" "$cand/validation.txt"
  fi
  # Mean of the studies' LA Dice column (6th field of each study row; a one-study run has no mean row).
  dice=$(awk '$1 ~ /^m[0-9]+\/case_/ { s += $6; n++ } END { if (n) printf "%.4f", s / n }' "$cand/validation.txt")
  [ -n "$dice" ] || { echo "error: no LA Dice in $cand/validation.txt" >&2; exit 1; }
  echo "  $name: validation LA Dice (whole method, mean) $dice"
  echo "$name $dice" >>"$WORK/candidates/.table.tmp"
  # Highest mean; the earlier epoch on a tie.
  if awk -v d="$dice" -v b="$best_dice" 'BEGIN { exit !(d > b) }'; then best=$name best_dice=$dice; fi
done
mv "$WORK/candidates/.table.tmp" "$WORK/candidates/table.txt"
[ -n "$best" ] || { echo "error: no LA candidate was evaluated" >&2; exit 1; }

# 7. The winner into --out, with its logs (paths inside are relative to the run).
stage "winner: $best (validation LA Dice $best_dice) -> $OUT"
cp "$WORK/candidates/$best/la.onnx" "$WORK/candidates/$best/la.json" "$WORK/scar-model/scar.onnx" \
  "$WORK/scar-model/scar.json" "$OUT/"
mkdir -p "$OUT/logs"
cp "$WORK/run-la/la-train-log.json" "$OUT/logs/"
[ -f "$WORK/run-scar/scar-train-log.json" ] && cp "$WORK/run-scar/scar-train-log.json" "$OUT/logs/"
VAL_SEEDS=$(case "$STYLE" in classic) echo 80001 ;; mixed) echo "classic-80001+randomised-81001" ;; *) echo "$STYLE-81001" ;; esac)
sed "s#$WORK#\$WORK#g" "$WORK/candidates/$best/validation.txt" >"$OUT/logs/validation-$VAL_SEEDS.txt"
{
  echo "# scripts/train-models.sh --device $DEVICE$([ "$SMOKE" = 1 ] && echo ' --smoke'): LA candidates, mean LA Dice of"
  echo "# the whole method on the validation phantoms (style $VAL_STYLES, seeds $VAL_SEEDS, geometries $EVAL_GEOMETRIES)"
  cat "$WORK/candidates/table.txt"
  echo "chosen $best"
  sed 's/^/# /' "$WORK/config.txt"
} >"$OUT/logs/selection.txt"
stage "done; measure the held-out sets once with: bash scripts/eval-heldout.sh $OUT [--style randomised|shift]"
