#!/usr/bin/env bash
# GPU smoke check and throughput numbers for the training package, run from the repository root
# on a CUDA host (see ../shared/gpu/README.md): the test suite under that host's PyTorch, training
# and inference throughput at width 64, and a real-size (640 x 640, width 64) train -> export ->
# onnxruntime-vs-PyTorch round trip. Results land in $OUT (default /tmp/lascar-gpu-check).
set -uo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/lascar-gpu-check}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
W=$(mktemp -d)
status=0
run() { echo "+ $*"; "$@" || { echo "FAILED: $*"; status=1; }; }

$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name() if torch.cuda.is_available() else '')"
run $PY -m pytest -q -p no:cacheprovider training/tests
run $PY -m training bench --kind la --width 64 --batch 24 --steps 10 --infer 88 --amp --device cuda
run $PY -m training bench --kind la --width 64 --batch 24 --steps 6 --infer 88 --device cuda
run $PY -m training bench --kind scar --width 64 --batch 24 --steps 10 --infer 1024 --amp --device cuda
run $PY -m training tiny-shards --out "$W/shards" --cases 3 --per-case 8 --la-size 640 --patch 64
run $PY -m training train --kind la --shards "$W/shards" --out "$W/run" --width 64 --batch 8 --max-steps 4 --amp --print-every 1
run $PY -m training export --checkpoint "$W/run/la-best.pt" --out "$W/models"
run $PY -m training reference-output --checkpoint "$W/run/la-best.pt" --batch 1 --out "$W/ref"
run $PY -m training check-onnx --kind la --models "$W/models" --ref "$W/ref"
cp "$W/models/la.json" "$OUT/la-width64.json" 2>/dev/null
ls -l "$W/models"
rm -rf "$W"
exit $status
