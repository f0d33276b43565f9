#!/usr/bin/env bash
# Installs Orthanc and its DICOMweb plugin from Debian/Ubuntu packages when missing (idempotent).
# The package's own service is not used: tests and the quick start start /usr/sbin/Orthanc with
# their own configuration inside a private network namespace (see in-private-network.sh).
set -euo pipefail

PLUGIN=/usr/share/orthanc/plugins/libOrthancDicomWeb.so
if [ -x /usr/sbin/Orthanc ] && [ -f "$PLUGIN" ]; then
  echo "orthanc: already installed ($(/usr/sbin/Orthanc --version 2>/dev/null | head -1))"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "orthanc: not installed, and installing needs root (apt-get install orthanc orthanc-dicomweb)" >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "orthanc: apt-get not found; install Orthanc >= 1.10 with the DICOMweb plugin yourself" >&2
  exit 1
fi

# Serialise with other installers on this machine when a lock file is in use.
LOCK=/tmp/apt.lock
run_apt() {
  if command -v flock >/dev/null 2>&1; then flock "$LOCK" $SUDO "$@"; else $SUDO "$@"; fi
}
run_apt apt-get update -qq
run_apt env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq orthanc orthanc-dicomweb
# The Debian service listens on every interface; it is never needed here.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet orthanc 2>/dev/null; then
  $SUDO systemctl disable --now orthanc || true
fi
echo "orthanc: installed ($(/usr/sbin/Orthanc --version 2>/dev/null | head -1))"
