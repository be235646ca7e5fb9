"""The CUDA compiler the build will use, found the way CMake finds it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from .options import ConfigSettings, build_option

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
    candidates = _candidates(config_settings)
    for _, path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    searched = "\n".join(f"  {origin}: {path}" for origin, path in candidates)
    msg = (
        "ncclkit needs the CUDA compiler nvcc, and none was found. Searched:\n"
        f"{searched}\n"
        "Install the CUDA toolkit, or point CUDACXX (or CUDA_HOME) at the one you have."
    )
    raise RuntimeError(msg)


def nvcc_version(nvcc: Path) -> tuple[int, int]:
    out = subprocess.run([str(nvcc), "--version"], check=True, capture_output=True, text=True).stdout
    match = re.search(r"release (\d+)\.(\d+)", out)
    if match is None:
        msg = f"could not read the CUDA version from `{nvcc} --version`:\n{out}"
        raise RuntimeError(msg)
    return int(match.group(1)), int(match.group(2))
