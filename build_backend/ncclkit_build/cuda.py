"""The CUDA compiler the build will use, found the way CMake finds it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .options import ConfigSettings, build_option
from .tools import first_executable, tool_version

_TOOLKIT_ROOT_VARS = ("CUDAToolkit_ROOT", "CUDA_HOME", "CUDA_PATH")
_DEFAULT_NVCC = Path("/usr/local/cuda/bin/nvcc")


def _candidates(config_settings: ConfigSettings) -> list[tuple[str, Path]]:
    found: list[tuple[str, Path]] = []
    for name in ("CMAKE_CUDA_COMPILER", "CUDACXX"):
        value = build_option(name, config_settings, "")
        if value:
            found.append((name, Path(value)))
    for name in _TOOLKIT_ROOT_VARS:
        if os.environ.get(name):
            found.append((f"${name}/bin", Path(os.environ[name], "bin", "nvcc")))
    on_path = shutil.which("nvcc")
    if on_path:
        found.append(("PATH", Path(on_path)))
    found.append(("default location", _DEFAULT_NVCC))
    return found


def find_nvcc(config_settings: ConfigSettings) -> Path:
    return first_executable(
        _candidates(config_settings),
        "ncclkit needs the CUDA compiler nvcc, and none was found.",
        "Install the CUDA toolkit, or point CUDACXX (or CUDA_HOME) at the one you have.",
    )


def nvcc_version(nvcc: Path) -> tuple[int, int]:
    return tool_version(nvcc, r"release (\d+)\.(\d+)", "CUDA")
