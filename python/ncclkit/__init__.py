"""NCCL collectives for Python, built against the NCCL and CUDA you have.

Importing ncclkit defines names and loads nothing. The first use of NCCL loads the bindings and
runs the cheap part of the compatibility check (Python version, the NCCL this process loaded,
duplicate nvidia-nccl wheels), raising CompatibilityError on a mismatch;
NCCLKIT_SKIP_IMPORT_CHECK=1 leaves it out (e.g. to run `ncclkit info`). `check()` adds the checks
that look at the GPUs, the driver and torch. `load()` and `load_inline()` build an extension
on first use (ncclkit.jit).
"""

from __future__ import annotations

import importlib

from .build_info import build_info
from .comm import (
    Communicator,
    GroupSimulation,
    UniqueId,
    get_version,
    group,
    nccl_parameter,
    nccl_parameters,
    set_encryption,
    set_nccl_parameter,
)
from .compat import check, nccl_features
from .config import CollectiveConfig
from .distributed import init_from_env
from .errors import (
    CommunicatorAbortedError,
    CompatibilityError,
    ExtensionBuildError,
    NcclError,
    NcclTimeoutError,
    NcclUnavailableError,
)
from .features import Feature
from .memory import NcclMemory, mem_alloc, nccl_mem_pool
from .reduction import PreMulSum, premul_sum
from .windows import Window

__all__ = [
    "CollectiveConfig",
    "CommunicatorAbortedError",
    "CompatibilityError",
    "Communicator",
    "ExtensionBuildError",
    "Feature",
    "GroupSimulation",
    "NcclError",
    "NcclMemory",
    "NcclTimeoutError",
    "NcclUnavailableError",
    "PreMulSum",
    "UniqueId",
    "Window",
    "__version__",
    "build_info",
    "check",
    "get_version",
    "group",
    "init_from_env",
    "load",
    "load_inline",
    "mem_alloc",
    "nccl_features",
    "nccl_mem_pool",
    "nccl_parameter",
    "nccl_parameters",
    "premul_sum",
    "set_encryption",
    "set_nccl_parameter",
]


def __getattr__(name: str) -> object:
    # ncclkit.ops and ncclkit.functional import torch: they load on first use, so that importing
    # ncclkit does not; ncclkit.jit (load, load_inline) too, which nothing else needs;
    # __version__ is read from the build record when asked for.
    if name in ("ops", "functional"):
        return importlib.import_module(f"{__name__}.{name}")
    if name in ("load", "load_inline"):
        return getattr(importlib.import_module(f"{__name__}.jit"), name)
    if name == "__version__":
        return build_info()["version"]
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
