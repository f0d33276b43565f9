#!/usr/bin/env bash
# Quick start on a fresh machine: installs what is missing, builds, makes two synthetic LGE
# studies (DICOM + ground truth) and segments them with the shipped (SYNTHETIC-trained) weights.
set -euo pipefail
cd "$(dirname "$0")/.."
export TURBO_TELEMETRY_DISABLED=1 NEXT_TELEMETRY_DISABLED=1 ONNXRUNTIME_NODE_INSTALL=skip
bash scripts/install-system-deps.sh
[ -d node_modules ] || npm ci --no-fund --no-audit
npm run build
demo=${DEMO_DIR:-demo}
rm -rf "$demo"
npx lascar phantom --out "$demo/studies" --cases 2 --seed 2026 --format both --scale 0.5
npx lascar segment "$demo/studies" --out "$demo/results" --ep auto
npx lascar segment "$demo/studies/case_000/dicom" --out "$demo/results/case_000-dicom" --ep auto
npx lascar phantom --preview "$demo/studies/case_000" --png "$demo/results/case_000-preview.png"
echo
echo "Results: $demo/results/<case>/report.json, la.nii.gz, scar.nii.gz;"
echo "         $demo/results/case_000-dicom/seg.dcm (DICOM Segmentation); preview: $demo/results/case_000-preview.png"
