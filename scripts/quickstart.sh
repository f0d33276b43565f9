#!/usr/bin/env bash
# Quick start on a fresh machine: the product's main job, end to end.
#   1. installs what is missing (Debian: Orthanc + DICOMweb plugin, tools; npm packages) and builds;
#   2. starts a local Orthanc (inside a private network namespace: nothing outside can reach it)
#      and the embedded database (no database server needed);
#   3. stores three synthetic LGE studies and one cine (non-LGE) series into Orthanc;
#   4. runs the worker until they are processed: SEG objects go back into Orthanc, results into the
#      database; prints the results table and where to look.
# The shipped networks are trained on SYNTHETIC phantoms only: not for clinical use.
set -euo pipefail
cd "$(dirname "$0")/.."
export TURBO_TELEMETRY_DISABLED=1 NEXT_TELEMETRY_DISABLED=1 ONNXRUNTIME_NODE_INSTALL=skip
bash scripts/install-system-deps.sh
[ -x /usr/sbin/Orthanc ] && [ -f /usr/share/orthanc/plugins/libOrthancDicomWeb.so ] || bash scripts/orthanc/install.sh
[ -d node_modules ] || npm ci --no-fund --no-audit
npm run build
demo=${DEMO_DIR:-demo}
mkdir -p "$demo"
bash scripts/orthanc/in-private-network.sh node apps/worker/dist/quickstart.js "$demo"
echo
echo "Single studies without a PACS: npx lascar segment <DICOM folder> --out <dir> (see README)."
