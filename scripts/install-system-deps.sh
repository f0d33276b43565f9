#!/usr/bin/env bash
# Installs the Debian packages the tests and tools use, only where they are missing:
#   dicom3tools (dciodvfy), dcmtk (dcmdump), dcm2niix (reference DICOM -> NIfTI converter),
#   python3-pydicom / python3-nibabel (real sample DICOM series, an independent reader),
#   python3-numpy / python3-scipy (reference metric implementations in tests),
#   python3-torch / python3-onnx / python3-pytest (the training pipeline and its tests; the
#   TypeScript tests train tiny models and compare onnxruntime-node with PyTorch),
#   iproute2 / util-linux (ip, unshare: Orthanc runs in a private network namespace in tests),
#   postgresql (the worker tests start a private PostgreSQL cluster inside that namespace),
#   chromium (the dashboard tests drive Debian Chromium with playwright-core; never a browser download).
set -euo pipefail
packages=(dicom3tools dcmtk dcm2niix python3-pydicom python3-nibabel python3-numpy python3-scipy
  python3-torch python3-onnx python3-pytest iproute2 util-linux postgresql chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
