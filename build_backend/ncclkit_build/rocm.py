"""The HIP a ROCm build (NCCLKIT_NCCL=rccl) compiles with, for its version label."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .tools import first_executable, tool_version


def find_hipconfig() -> Path:
    candidates = [
        (f"${name}/bin", Path(os.environ[name], "bin", "hipconfig"))
        for name in ("HIP_PATH", "ROCM_PATH")
        if os.environ.get(name)
    ]
    on_path = shutil.which("hipconfig")
    if on_path:
        candidates.append(("PATH", Path(on_path)))
    candidates.append(("default location", Path("/opt/rocm/bin/hipconfig")))
    return first_executable(
        candidates,
        "NCCLKIT_NCCL=rccl builds for ROCm, and ROCm's hipconfig was not found.",
        "Install ROCm (or Debian's hipcc), or point ROCM_PATH at it.",
    )


def hip_version(hipconfig: Path) -> tuple[int, int]:
    return tool_version(hipconfig, r"^\s*(\d+)\.(\d+)", "HIP")
