#!/usr/bin/env bash
# Install the CUDA toolkit a wheel is built with, from NVIDIA's RHEL 8 repository:
#   CUDA_VERSION=13.0 ci/install_cuda.sh [--dry-run]
# cibuildwheel's before-all, in the manylinux_2_28 (AlmaLinux 8) container. It installs what the
# build finds through CMake's CUDA language and FindCUDAToolkit (nvcc, the runtime's headers and
# libcudart_static.a: NVIDIA's cuda-minimal-build), and cuobjdump, with which the wheel check
# compares the device code to the build record, into /usr/local/cuda-X.Y.
# --dry-run checks the version and prints the commands without running them.
set -euo pipefail

# The CUDA versions this script installs, each pinned to a toolkit release. NVIDIA names every
# minor's packages apart (cuda-nvcc-12-8), so a package of another minor never comes in.
declare -A releases=([12.8]=12.8.1 [13.0]=13.0.2)
known=$(printf '%s\n' "${!releases[@]}" | sort -V | paste -sd ' ')

dry_run=false
case ${1:-} in
  "") ;;
  --dry-run) dry_run=true ;;
  *) echo "usage: CUDA_VERSION=X.Y ci/install_cuda.sh [--dry-run]" >&2; exit 2 ;;
esac

version=${CUDA_VERSION:-}
if [[ ! $version =~ ^[0-9]+\.[0-9]+$ || -z ${releases[$version]:-} ]]; then
  echo "install_cuda: CUDA_VERSION='$version' is not a CUDA this script installs; it knows: $known." \
    "Build one of those, or add the version and its release to the table in ci/install_cuda.sh." >&2
  exit 2
fi

case $(uname -m) in
  x86_64) repo_arch=x86_64 ;;
  aarch64) repo_arch=sbsa ;; # NVIDIA's repository for Arm servers
  *) echo "install_cuda: NVIDIA has no RHEL 8 CUDA repository for $(uname -m)" >&2; exit 2 ;;
esac

run() {
  echo "+ $*"
  if ! $dry_run; then "$@"; fi
}

suffix=${version/./-}
run dnf config-manager --add-repo \
  "https://developer.download.nvidia.com/compute/cuda/repos/rhel8/$repo_arch/cuda-rhel8.repo"
run dnf install -y "cuda-minimal-build-$suffix-${releases[$version]}" "cuda-cuobjdump-$suffix"
run dnf clean all

nvcc=/usr/local/cuda-$version/bin/nvcc
echo "+ $nvcc --version"
$dry_run && exit 0
reported=$("$nvcc" --version)
echo "$reported"
if [[ $reported != *"release $version,"* ]]; then
  echo "install_cuda: $nvcc is not CUDA $version; fix its release in the table of ci/install_cuda.sh" >&2
  exit 1
fi
