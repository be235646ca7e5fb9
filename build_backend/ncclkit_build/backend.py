"""PEP 517 and PEP 660 backend: scikit-build-core, plus what only ncclkit's build knows.

- The CUDA compiler: a toolkit install, or NVIDIA's compiler wheels added to the build
  environment (all of one release) when there is none or ``NCCLKIT_CUDA_TOOLKIT=pypi`` asks.
- The build environment gets the nvidia-nccl wheel of the CUDA major being built for.
- Compiles go through sccache, whose cache outlives pip's build environments
  (``NCCLKIT_COMPILER_CACHE``, compiler_cache.py).
- The version's local label (``+cu130``) is computed once, from the config settings and the
  nvcc chosen here, and handed to the version provider (version.py).
- The wheel's requirements are finished after CMake ran, from the NCCL CMake really used
  (``prepare_metadata_for_build_wheel`` and ``_editable`` are left out on purpose, so that
  frontends read the requirements from the finished wheel).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from scikit_build_core import build as _skbuild
from scikit_build_core.build import *  # noqa: F403 - every hook; those below replace theirs

from . import compiler_cache, cuda, version
from .isolation import build_environment_dirs
from .options import ConfigSettings, build_option
from .wheel import finish_wheel

# Without these two, frontends read the requirements from the finished wheel (see above).
del prepare_metadata_for_build_wheel, prepare_metadata_for_build_editable  # noqa: F821

# Modes whose build may take NCCL from the nvidia-nccl wheel (see cmake/NcclkitProvider.cmake).
_WHEEL_MODES = {"auto", "wheel"}


def _nccl_mode(config_settings: ConfigSettings) -> str:
    return build_option("NCCLKIT_NCCL", config_settings, "auto").lower()


def _requirements(config_settings: ConfigSettings) -> list[str]:
    """What ncclkit's build adds to scikit-build-core's requirements."""
    requires = compiler_cache.requirements(config_settings)
    if _nccl_mode(config_settings) == "rccl":
        return requires
    if cuda.uses_pypi_toolkit(config_settings):
        requires += cuda.pypi_toolkit_requirements(config_settings)
    cuda_major, _ = cuda.build_cuda_version(config_settings)
    if _nccl_mode(config_settings) in _WHEEL_MODES:
        requires.append(f"nvidia-nccl-cu{cuda_major}")
    return requires


def get_requires_for_build_wheel(config_settings: ConfigSettings = None) -> list[str]:
    return _skbuild.get_requires_for_build_wheel(config_settings) + _requirements(config_settings)


def get_requires_for_build_editable(config_settings: ConfigSettings = None) -> list[str]:
    return _skbuild.get_requires_for_build_editable(config_settings) + _requirements(config_settings)


def _build(
    skbuild_hook: Callable[..., str],
    wheel_directory: str,
    config_settings: ConfigSettings,
    metadata_directory: str | None,
) -> str:
    settings = dict(config_settings or {})
    if _nccl_mode(settings) != "rccl":
        # The nvcc chosen here is CMake's (and the version label's), even over a cached one.
        settings["cmake.define.CMAKE_CUDA_COMPILER"] = str(cuda.find_nvcc(settings))
    environment = build_environment_dirs()
    if environment:  # headers and libraries from there get paths that stay (NcclkitBuildEnvironment.cmake)
        settings["cmake.define.NCCLKIT_BUILD_ENVIRONMENT"] = ";".join(environment)
    label = version.local_label(settings)  # of the nvcc above; the version provider sees no config settings
    with version.labelled(label), compiler_cache.compiler_cache(settings, Path.cwd()) as defines:
        name = skbuild_hook(wheel_directory, {**settings, **defines}, metadata_directory)
    finish_wheel(Path(wheel_directory) / name)
    return name


def build_wheel(
    wheel_directory: str,
    config_settings: ConfigSettings = None,
    metadata_directory: str | None = None,
) -> str:
    return _build(_skbuild.build_wheel, wheel_directory, config_settings, metadata_directory)


def build_editable(
    wheel_directory: str,
    config_settings: ConfigSettings = None,
    metadata_directory: str | None = None,
) -> str:
    return _build(_skbuild.build_editable, wheel_directory, config_settings, metadata_directory)
