"""The CUDA compiler the build will use: a toolkit install found the way CMake finds one, or the
toolkit of NVIDIA's PyPI wheels (``NCCLKIT_CUDA_TOOLKIT``; cmake/NcclkitCudaToolkit.cmake makes
that one usable to CMake)."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

from .options import ConfigSettings, build_option, choice_option
from .tools import first_executable, tool_version

_TOOLKIT_ROOT_VARS = ("CUDAToolkit_ROOT", "CUDA_HOME", "CUDA_PATH")
_DEFAULT_NVCC = Path("/usr/local/cuda/bin/nvcc")
_MODES = ("auto", "system", "pypi")
# The wheels and the default release, for this and for CMake.
_WHEELS_FILE = Path(__file__).resolve().parents[2] / "cmake" / "NcclkitCudaWheels.json"
# NVIDIA's CUDA 12 wheels hold ptxas and no nvcc.
_FIRST_PYPI_MAJOR = 13
_PYPI_NVCC = re.compile(r"/nvidia/cu\d+/bin/nvcc$")


def toolkit_mode(config_settings: ConfigSettings) -> str:
    return choice_option("NCCLKIT_CUDA_TOOLKIT", config_settings, "auto", _MODES)


def toolkit_release(config_settings: ConfigSettings) -> str:
    """``NCCLKIT_CUDA_VERSION`` (``13.0``), the release of NVIDIA's compiler wheels to build with."""
    default = json.loads(_WHEELS_FILE.read_text())["default_release"]
    release = build_option("NCCLKIT_CUDA_VERSION", config_settings, default)
    match = re.fullmatch(r"(\d+)\.(\d+)", release)
    if match is None:
        msg = f"NCCLKIT_CUDA_VERSION={release!r} is not a CUDA release: give major.minor, e.g. 13.0."
        raise RuntimeError(msg)
    if int(match.group(1)) < _FIRST_PYPI_MAJOR:
        msg = (
            f"NCCLKIT_CUDA_VERSION={release} asks for a CUDA toolkit from PyPI, and NVIDIA's CUDA "
            f"{match.group(1)} wheels hold no nvcc (only ptxas). A CUDA {match.group(1)} build needs a system "
            "toolkit: install it and point CUDACXX (or CUDA_HOME) at it, with NCCLKIT_CUDA_TOOLKIT=system."
        )
        raise RuntimeError(msg)
    return release


def pypi_toolkit_requirements(config_settings: ConfigSettings) -> list[str]:
    """NVIDIA's compiler wheels, each pinned to one release: nvcc's own requirements leave nvvm
    and crt unpinned, so `nvidia-cuda-nvcc==13.0.*` alone pulls a newer nvvm."""
    release = toolkit_release(config_settings)
    wheels = json.loads(_WHEELS_FILE.read_text())["wheels"]
    return [f"{name}=={release}.*" for name in wheels]


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


def _pypi_candidates(config_settings: ConfigSettings) -> list[tuple[str, Path]]:
    """The nvcc of a tree of NVIDIA's wheels: one the build was pointed at, else on ``sys.path``."""
    given = [(name, path) for name, path in _candidates(config_settings)[:2] if _PYPI_NVCC.search(str(path))]
    pattern = Path("nvidia", "cu*", "bin", "nvcc")
    on_path = [("sys.path", nvcc) for entry in sys.path for nvcc in sorted(Path(entry or ".").glob(str(pattern)))]
    return given + on_path or [("sys.path", Path(entry or ".", pattern)) for entry in sys.path]


def _usable(candidates: list[tuple[str, Path]]) -> bool:
    return any(path.is_file() and os.access(path, os.X_OK) for _, path in candidates)


def uses_pypi_toolkit(config_settings: ConfigSettings) -> bool:
    """Whether this build takes NVIDIA's compiler wheels: asked for, or no toolkit install found."""
    mode = toolkit_mode(config_settings)
    return mode == "pypi" or (mode == "auto" and not _usable(_candidates(config_settings)))


def find_nvcc(config_settings: ConfigSettings) -> Path:
    mode = toolkit_mode(config_settings)
    system = _candidates(config_settings)
    if mode == "system" or (mode == "auto" and _usable(system)):
        return first_executable(
            system,
            "ncclkit needs the CUDA compiler nvcc, and none was found.",
            "Install the CUDA toolkit, or point CUDACXX (or CUDA_HOME) at the one you have.",
        )
    return first_executable(
        _pypi_candidates(config_settings),
        f"NCCLKIT_CUDA_TOOLKIT={mode}: no toolkit install was found, and NVIDIA's CUDA compiler wheels are not "
        "installed where this Python looks.",
        "pip install . adds them to its build environment itself; a build without build isolation needs them "
        f"installed first: pip install {' '.join(repr(r) for r in pypi_toolkit_requirements(config_settings))}.",
    )


def nvcc_version(nvcc: Path) -> tuple[int, int]:
    return tool_version(nvcc, r"release (\d+)\.(\d+)", "CUDA")


def build_cuda_version(config_settings: ConfigSettings) -> tuple[int, int]:
    """The CUDA major and minor the build compiles with: its nvcc's, or the release of NVIDIA's
    compiler wheels it will install (before they are, as ci/build_wheel.sh asks)."""
    if uses_pypi_toolkit(config_settings) and not _usable(_pypi_candidates(config_settings)):
        major, minor = toolkit_release(config_settings).split(".")
        return int(major), int(minor)
    return nvcc_version(find_nvcc(config_settings))
