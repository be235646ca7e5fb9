#!/usr/bin/env bash
# Build, repair and check one ncclkit wheel of the checkout this script is in:
#   ci/build_wheel.sh OUT_DIR
# The bare-metal build, and exactly what docker/Dockerfile runs. Settings, from the environment:
#   PYTHON              interpreter the wheel is for (python3)
#   NCCLKIT_NCCL, NCCLKIT_CUDA_ARCHS, ...   the build options of docs/build-options.md, passed through
#   NCCLKIT_INDEX_NAME  ON: name it for an index after the repair, ncclkit-cu13 without a local label (OFF)
#   NCCLKIT_REPAIR      auditwheel, or none for a wheel for this machine only (auditwheel)
#   SOURCE_DATE_EPOCH   the time stamped into the build (the commit's time)
#   PIP_INDEX_URL, PIP_EXTRA_INDEX_URL   where pip finds the build requirements
# Every build starts from an empty build directory, so its wheel depends only on these.
set -euo pipefail
out=${1:?usage: ci/build_wheel.sh OUT_DIR}
repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}

if [[ -z ${SOURCE_DATE_EPOCH:-} ]]; then
  SOURCE_DATE_EPOCH=$(git -C "$repo" log -1 --format=%ct) \
    || { echo "build: no git history to date the build: set SOURCE_DATE_EPOCH" >&2; exit 2; }
fi
export SOURCE_DATE_EPOCH

# The version label the backend will give the wheel, from its own logic (which nvcc).
label=$(cd "$repo/build_backend" && "$python" -c '
import sys
from ncclkit_build import version
try:
    label = version.local_label(None)
except RuntimeError as error:
    sys.exit(f"build: {error}")
print("+" + label if label else "(no local label)")')

echo "ncclkit wheel build"
printf '  %-20s %s\n' \
  source "$repo" \
  commit "$(git -C "$repo" rev-parse HEAD 2> /dev/null || echo "${NCCLKIT_GIT_COMMIT:-unknown}")" \
  python "$("$python" -c 'import sys; print(sys.executable, sys.version.split()[0])')" \
  wheel "ncclkit $label" \
  NCCLKIT_INDEX_NAME "${NCCLKIT_INDEX_NAME:-OFF}" \
  CUDACXX "${CUDACXX:-(found by the backend)}" \
  NCCLKIT_NCCL "${NCCLKIT_NCCL:-auto}" \
  NCCLKIT_CUDA_ARCHS "${NCCLKIT_CUDA_ARCHS:-(default list)}" \
  NCCLKIT_REPAIR "${NCCLKIT_REPAIR:-auditwheel}" \
  SOURCE_DATE_EPOCH "$SOURCE_DATE_EPOCH" \
  PIP_INDEX_URL "${PIP_INDEX_URL:-(pip default)}" \
  out "$out"

build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
# The build directory is this one: scikit-build-core ranks SKBUILD_BUILD_DIR (docker/Dockerfile
# sets one for `make shell`) above -Cbuild-dir.
env -u SKBUILD_BUILD_DIR NCCLKIT_COMPILER_CACHE_STATS="$build/sccache-stats.txt" \
  "$python" -m pip wheel --no-deps --wheel-dir "$build/dist" -Cbuild-dir="$build/cmake" "$repo"
if [[ -f $build/sccache-stats.txt ]]; then
  echo "compiler cache (sccache):"
  grep -E '^Cache (hits|misses) \(' "$build/sccache-stats.txt" | sed 's/^/  /'
fi
built=("$build"/dist/*.whl)
bash "$repo/ci/repair_wheel.sh" "${built[0]}" "$out"
