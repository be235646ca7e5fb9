#!/usr/bin/env bash
# Python of the Dockerfile's stages, in a virtual environment at /opt/venv, with extra apt packages:
#   [PYTHON_FROM_IMAGE=/path/to/python3.X] docker/install_python.sh PYTHON_VERSION [PACKAGE...]
# PYTHON_FROM_IMAGE names an interpreter the base image already has (CI copies Pythons into a
# Debian image); else:
# From Ubuntu, or from the deadsnakes PPA for a version Ubuntu lacks, as vLLM's Dockerfile does: a
# distribution build of CPython (shared libpython, the system's OpenSSL) in any version, on every
# Ubuntu the CUDA images come in. The PPA only when needed: Launchpad is one more server a build
# can fail on. Apt versions are not pinned: the PPA keeps only its newest builds, so a pin breaks
# within weeks; a base image pinned by digest (BASE_IMAGE_DIGEST) fixes the rest. The virtual
# environment: Ubuntu 24.04 refuses pip installs into the system Python (PEP 668).
set -euo pipefail
version=${1:?usage: docker/install_python.sh PYTHON_VERSION [PACKAGE...]}
shift
export DEBIAN_FRONTEND=noninteractive
apt-get update
if [[ -n ${PYTHON_FROM_IMAGE:-} ]]; then
  # An interpreter the base image brings (a Python copied into it), with its headers: only the
  # packages asked for that are not the distribution's Python (python3.X-dev).
  python=$PYTHON_FROM_IMAGE
  packages=()
  for package in "$@"; do
    [[ $package == "python${version}-"* ]] || packages+=("$package")
  done
  ((${#packages[@]} == 0)) || apt-get install -y --no-install-recommends "${packages[@]}"
else
  python=python${version}
  if ! apt-cache show "python${version}-venv" > /dev/null 2>&1; then
    apt-get install -y --no-install-recommends software-properties-common
    add-apt-repository -y ppa:deadsnakes/ppa
  fi
  apt-get install -y --no-install-recommends "python${version}-venv" "$@"
fi
rm -rf /var/lib/apt/lists/*
"$python" -m venv /opt/venv
