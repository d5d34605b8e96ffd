#!/usr/bin/env bash
# Installs everything tcc needs on a fresh Debian/Ubuntu machine, then tcc itself.
#   bash scripts/bootstrap.sh          the compiler (with torch 2.13.0 CPU for the PyTorch
#                                      frontend and TTE .pkl files), ARM toolchain and qemu
#   bash scripts/bootstrap.sh --test   also the test tools (lit, FileCheck, TFLite Micro)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

apt_packages=(gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm make)
missing=()
for package in "${apt_packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  echo "bootstrap: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

pip() { "$PYTHON" -m pip install -q --disable-pip-version-check "$@"; }
# torch first and pinned: an unpinned torch requirement would pull CUDA wheels.
pip torch==2.13.0
if [ "${1:-}" = "--test" ]; then
  # tflite-micro runs TFLite Micro's reference kernels (the bit-exact int8 oracle);
  # ai-edge-litert ships the .tflite flatbuffer schema the tests write models with.
  # triton runs the GPU kernels in its interpreter on the CPU (TRITON_INTERPRET=1) and
  # compiles them ahead of time to PTX; it depends on no torch.
  pip "pytest>=7" "lit>=18" "filecheck>=1.0" hypothesis tflite-micro ai-edge-litert \
    triton==3.9.0
fi
pip -r scripts/build-requirements.txt
pip "numpy>=1.24" scikit-learn
pip --no-build-isolation --no-deps -e .
command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
echo "bootstrap: tcc is installed ($("$PYTHON" -c 'import tcc; print(tcc.__file__)'))"
