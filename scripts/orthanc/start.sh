#!/usr/bin/env bash
# Starts the development Orthanc (docker/orthanc/orthanc.json: port 8042, user "lascar", storage in
# .orthanc/ at the repository root) in the background and waits until it answers.
# Orthanc 1.10 listens on every interface, so this refuses to run outside a private network
# namespace. The quick start does, for example:
#   bash scripts/orthanc/in-private-network.sh bash -c 'bash scripts/orthanc/start.sh && npx lascar worker'
# Environment: ORTHANC_CONFIG (another configuration file), LASCAR_WEBHOOK_URL and
# LASCAR_WEBHOOK_SECRET (used by the Lua script when the configuration has no LAScar section).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CONFIG="${ORTHANC_CONFIG:-$ROOT/docker/orthanc/orthanc.json}"
STATE="$ROOT/.orthanc"

others="$(awk -F: 'NR > 2 { gsub(/ /, "", $1); if ($1 != "lo") print $1 }' /proc/net/dev | tr '\n' ' ')"
if [ -n "$others" ]; then
  echo "orthanc: refusing to start: network interfaces ${others}are visible and Orthanc 1.10 listens on all of them." >&2
  echo "Run inside a private network namespace: bash scripts/orthanc/in-private-network.sh <command>" >&2
  exit 1
fi
bash "$ROOT/scripts/orthanc/install.sh" >/dev/null
mkdir -p "$STATE"
ip link set lo up 2>/dev/null || true

PORT="$(sed -n 's/.*"HttpPort"[[:space:]]*:[[:space:]]*\([0-9]*\).*/\1/p' "$CONFIG" | head -1)"
PORT="${PORT:-8042}"
/usr/sbin/Orthanc "$CONFIG" >"$STATE/orthanc.log" 2>&1 &
PID=$!
echo "$PID" >"$STATE/orthanc.pid"
for _ in $(seq 1 150); do
  if ! kill -0 "$PID" 2>/dev/null; then
    echo "orthanc: exited at start; last lines of $STATE/orthanc.log:" >&2
    tail -20 "$STATE/orthanc.log" >&2
    exit 1
  fi
  # Any HTTP answer (401 without credentials) means it is up.
  if curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/system" 2>/dev/null | grep -q '^[1-5]'; then
    echo "orthanc: running (pid $PID) on http://127.0.0.1:$PORT (DICOMweb at /dicom-web), log $STATE/orthanc.log"
    exit 0
  fi
  sleep 0.2
done
echo "orthanc: no answer on port $PORT after 30 s; see $STATE/orthanc.log" >&2
kill "$PID" 2>/dev/null || true
exit 1
