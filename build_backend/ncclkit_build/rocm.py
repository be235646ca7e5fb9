"""The HIP a ROCm build (NCCLKIT_NCCL=rccl) compiles with, for its version label."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path


def find_hipconfig() -> Path:
    roots = [os.environ[name] for name in ("HIP_PATH", "ROCM_PATH") if os.environ.get(name)]
    candidates = [Path(root, "bin", "hipconfig") for root in roots]
    on_path = shutil.which("hipconfig")
    candidates += [Path(on_path)] if on_path else []
    candidates.append(Path("/opt/rocm/bin/hipconfig"))
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    searched = "\n".join(f"  {path}" for path in candidates)
    msg = (
        f"NCCLKIT_NCCL=rccl builds for ROCm, and ROCm's hipconfig was not found. Searched:\n{searched}\n"
        "Install ROCm (or Debian's hipcc), or point ROCM_PATH at it."
    )
    raise RuntimeError(msg)


def hip_version(hipconfig: Path) -> tuple[int, int]:
    out = subprocess.run([str(hipconfig), "--version"], check=True, capture_output=True, text=True).stdout
    match = re.match(r"\s*(\d+)\.(\d+)", out)
    if match is None:
        msg = f"could not read the HIP version from `{hipconfig} --version`:\n{out}"
        raise RuntimeError(msg)
    return int(match.group(1)), int(match.group(2))
