"""NVIDIA's CUDA compiler wheels as a build gets them, and an environment that hides every toolkit
install: no nvcc on PATH, no CUDACXX or CUDA_HOME (the tests of NCCLKIT_CUDA_TOOLKIT=pypi)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Each wheel, and the file in the tree that shows it is installed.
WHEEL_FILES: dict[str, str] = json.loads((REPO / "cmake" / "NcclkitCudaWheels.json").read_text())["wheels"]
WHEELS = list(WHEEL_FILES)
RELEASE = "13.0"
_HINTS = ("CUDACXX", "CMAKE_CUDA_COMPILER", "CUDA_HOME", "CUDA_PATH", "CUDAToolkit_ROOT")


def hidden_toolkit_environment(**extra: str) -> dict[str, str]:
    """os.environ less the CUDA hints, with PATH less every directory that holds nvcc."""
    env = {name: value for name, value in os.environ.items() if name not in _HINTS}
    path = [d for d in env.get("PATH", "").split(os.pathsep) if d and not Path(d, "nvcc").exists()]
    return {**env, "PATH": os.pathsep.join(path), **extra}


def install(target: Path) -> Path:
    """The wheels of RELEASE installed into target (a site-packages); returns the nvcc."""
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target)]
        + [f"{name}=={RELEASE}.*" for name in WHEELS],
        check=True,
    )
    return target / "nvidia" / "cu13" / "bin" / "nvcc"
