#!/usr/bin/env bash
# Python of the Dockerfile's stages, in a virtual environment at /opt/venv, with extra apt packages:
#   docker/install_python.sh PYTHON_VERSION [PACKAGE...]
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
if ! apt-cache show "python${version}-venv" > /dev/null 2>&1; then
  apt-get install -y --no-install-recommends software-properties-common
  add-apt-repository -y ppa:deadsnakes/ppa
fi
apt-get install -y --no-install-recommends "python${version}-venv" "$@"
rm -rf /var/lib/apt/lists/*
"python${version}" -m venv /opt/venv
