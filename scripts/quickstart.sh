#!/usr/bin/env bash
# Quick start on a fresh machine: the product's main job, end to end.
#   1. installs what is missing (Debian: Orthanc + DICOMweb plugin, tools; npm packages) and builds;
#   2. starts a local Orthanc (inside a private network namespace: nothing outside can reach it)
#      and the embedded database (no database server needed);
#   3. stores three synthetic LGE studies and one cine (non-LGE) series into Orthanc;
#   4. runs the worker until they are processed: SEG and SR objects go back into Orthanc, results
#      into the database; prints the results table and where to look;
#   5. starts the dashboard on the same database (http://127.0.0.1:${LASCAR_DASHBOARD_PORT:-3000},
#      bridged out of the namespace through a Unix socket) and prints two demo logins whose
#      passwords are generated and shown once. In a terminal it serves until Ctrl-C; otherwise
#      (or with QUICKSTART_SERVE=0) it checks the dashboard answers and stops.
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
port=${LASCAR_DASHBOARD_PORT:-3000}
socket="$(cd "$demo" && pwd)/dashboard.sock"
# The dashboard runs inside the namespace with Orthanc; this bridge brings it to the host's loopback.
node scripts/socket-bridge.mjs "127.0.0.1:$port" "$socket" &
bridge=$!
trap 'kill $bridge 2>/dev/null || true' EXIT
QUICKSTART_SOCKET="$socket" QUICKSTART_PUBLIC_URL="http://127.0.0.1:$port" \
  bash scripts/orthanc/in-private-network.sh node apps/worker/dist/quickstart.js "$demo"
echo
echo "Single studies without a PACS: npx lascar segment <DICOM folder> --out <dir> (see README)."
