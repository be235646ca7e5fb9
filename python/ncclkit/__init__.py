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
from .comm import Communicator, UniqueId, get_version, group, nccl_parameters
from .compat import check, nccl_features
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

__all__ = [
    "CommunicatorAbortedError",
    "CompatibilityError",
    "Communicator",
    "ExtensionBuildError",
    "Feature",
    "NcclError",
    "NcclTimeoutError",
    "NcclUnavailableError",
    "UniqueId",
    "__version__",
    "build_info",
    "check",
    "get_version",
    "group",
    "init_from_env",
    "load",
    "load_inline",
    "nccl_features",
    "nccl_parameters",
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
