"""Loading the NCCL bindings (ncclkit._comm), and reopening a library the process has loaded to
look up its symbols. Why a load failed is ncclkit.compat's to say (compat.load_comm)."""

from __future__ import annotations

import ctypes
import os
from types import ModuleType

from .build_info import build_info


def load() -> ModuleType | None:
    """The NCCL bindings; None when ncclkit was built without NCCL (NCCLKIT_NCCL=off)."""
    nccl = build_info()["nccl"]
    if nccl["provider"] == "off":
        return None
    from . import _comm  # an ImportError says why it did not load

    return _comm


def reopen(path: str) -> ctypes.CDLL | None:
    """A library this process has loaded, by its file, to look up its symbols; None where it cannot
    be opened again (not loaded, or replaced on disk since)."""
    try:
        return ctypes.CDLL(path, mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
    except OSError:
        return None
