"""PEP 517 backend: scikit-build-core, plus what only ncclkit's build knows.

- The build environment gets the nvidia-nccl wheel of the CUDA major being built for.
- NCCLKIT_INDEX_NAME=ON names the wheel for an index: ``ncclkit-cu13``, no local label.
- The wheel's requirements are finished after CMake ran, from the NCCL CMake really used
  (``prepare_metadata_for_build_wheel`` is left out on purpose, so that frontends read the
  requirements from the finished wheel).
"""

from __future__ import annotations

import os
from pathlib import Path

from scikit_build_core import build as _skbuild
from scikit_build_core.build import build_sdist, get_requires_for_build_sdist

from .cuda import find_nvcc, nvcc_version
from .options import ConfigSettings, build_option
from .version import index_name_requested, index_name_suffix
from .wheel import finish_wheel

__all__ = [
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
]

# Modes whose build may take NCCL from the nvidia-nccl wheel (see cmake/NcclkitProvider.cmake).
_WHEEL_MODES = {"auto", "wheel"}


def _export_cuda_compiler(config_settings: ConfigSettings) -> tuple[int, int]:
    """Pin the nvcc this build uses, so the version label and CMake agree on it."""
    nvcc = find_nvcc(config_settings)
    os.environ.setdefault("CUDACXX", str(nvcc))
    return nvcc_version(nvcc)


def get_requires_for_build_wheel(config_settings: ConfigSettings = None) -> list[str]:
    requires = _skbuild.get_requires_for_build_wheel(config_settings)
    if build_option("NCCLKIT_NCCL", config_settings, "auto").lower() in _WHEEL_MODES:
        cuda_major, _ = _export_cuda_compiler(config_settings)
        requires.append(f"nvidia-nccl-cu{cuda_major}")
    return requires


def build_wheel(
    wheel_directory: str,
    config_settings: ConfigSettings = None,
    metadata_directory: str | None = None,
) -> str:
    mode = build_option("NCCLKIT_NCCL", config_settings, "auto").lower()
    if mode == "rccl":
        os.environ["NCCLKIT_NCCL"] = mode  # for the version label, which sees no config settings
    else:
        _export_cuda_compiler(config_settings)
    name = _skbuild.build_wheel(wheel_directory, config_settings, metadata_directory)
    suffix = index_name_suffix() if index_name_requested() else ""
    return finish_wheel(Path(wheel_directory) / name, suffix).name
