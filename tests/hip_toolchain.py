"""A HIP compiler for the ROCm build tests: ROCm's own under /opt/rocm, or Debian's packaged one
(apt install hipcc libamdhip64-dev). Neither has a GPU or RCCL here, so those tests compile only."""

from __future__ import annotations

import glob
import re
import shutil
import subprocess
from pathlib import Path

from nccl_trees import MULTIARCH


def hip_settings() -> tuple[list[str], dict[str, str]] | None:
    """The CMake arguments and environment that compile CMake's HIP language, or None."""
    rocm_clang = Path("/opt/rocm/llvm/bin/clang++")
    if rocm_clang.exists():
        return [f"-DCMAKE_HIP_COMPILER={rocm_clang}"], {}
    # Debian: clang from llvm-N, the HIP runtime and device libraries under /usr. CUDA being
    # installed too, the platform must be named.
    bitcode = Path(f"/usr/lib/{MULTIARCH}/amdgcn/bitcode")
    clangs = sorted(glob.glob("/usr/lib/llvm-*/bin/clang++"), key=lambda p: int(p.split("-")[1].split("/")[0]))
    if not (shutil.which("hipconfig") and bitcode.is_dir() and clangs) or _cmake_version() < (3, 27):
        return None  # before 3.27, CMake looks for hip-lang in lib/cmake only, not lib/<multiarch>/cmake
    env = {"HIP_PLATFORM": "amd", "HIPFLAGS": f"--rocm-path=/usr --rocm-device-lib-path={bitcode}"}
    return [f"-DCMAKE_HIP_COMPILER={clangs[-1]}"], env


def _cmake_version() -> tuple[int, int]:
    out = subprocess.run(["cmake", "--version"], capture_output=True, text=True).stdout
    match = re.search(r"version (\d+)\.(\d+)", out)
    return (int(match[1]), int(match[2])) if match else (0, 0)


HIP = hip_settings()
SKIP_REASON = "needs a HIP compiler: ROCm, or apt install hipcc libamdhip64-dev with CMake 3.27 or newer"
