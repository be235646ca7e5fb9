"""Loading ncclkit._comm, with an error that says why it failed instead of a bare loader message."""

from __future__ import annotations

import ctypes
import functools
import os
import re
import sys
from types import ModuleType

from .build_info import build_info
from .errors import CompatibilityError


@functools.cache
def load() -> ModuleType | None:
    """The NCCL bindings; None when ncclkit was built without NCCL (NCCLKIT_NCCL=off)."""
    nccl = build_info()["nccl"]
    if nccl["provider"] == "off":
        return None
    try:
        from . import _comm
    except ImportError as error:
        raise CompatibilityError([_explain(str(error), build_info())]) from error
    return _comm


def require() -> ModuleType:
    comm = load()
    if comm is None:
        msg = "this ncclkit was built without NCCL (NCCLKIT_NCCL=off): rebuild it with NCCLKIT_NCCL=auto"
        raise RuntimeError(msg)
    return comm


def reopen(path: str) -> ctypes.CDLL | None:
    """A library this process has loaded, by its file, to look up its symbols; None where it cannot
    be opened again (not loaded, or replaced on disk since)."""
    try:
        return ctypes.CDLL(path, mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
    except OSError:
        return None


def _library_version(path: str) -> int | None:
    """ncclGetVersion() of a libnccl this process has loaded; None where it cannot be asked."""
    library = reopen(path)
    if library is None or not hasattr(library, "ncclGetVersion"):
        return None
    version = ctypes.c_int(0)
    return version.value if library.ncclGetVersion(ctypes.byref(version)) == 0 else None


def _explain(error: str, build: dict) -> object:
    from .compat import Facts, Problem, check_nccl, loaded_nccl_files

    nccl = build["nccl"]
    built = f"NCCL {nccl['version']} ({nccl['library']})"
    symbol = re.search(r"undefined symbol: (\w+)", error)
    if symbol:
        files = loaded_nccl_files()
        version = _library_version(files[0]) if files else None
        if version is not None:  # an NCCL older than the floor lacks what the floor has: say that
            older = check_nccl(Facts(sys.version_info[:2], nccl_loaded_code=version, nccl_loaded_file=files[0]), build)
            if older:
                return older[0]
        loaded = ", ".join(files) or "a libnccl this process loaded earlier"
        return Problem(
            f"the loaded NCCL lacks {symbol.group(1)}",
            f"{loaded} ({error})",
            built,
            "an older libnccl.so.2 was loaded first (by another package or LD_LIBRARY_PATH): import "
            "ncclkit first, remove the stale path, or upgrade that NCCL",
        )
    if "libnccl" in error:
        fix = (
            f"pip install '{nccl.get('requirement') or nccl['wheel']}'"
            if nccl["wheel"]
            else f"put {nccl['library']}'s directory back, or add the NCCL's lib directory to LD_LIBRARY_PATH"
        )
        return Problem("NCCL library not found", error, built, fix)
    return Problem("ncclkit._comm does not load", error, built, "reinstall ncclkit for this Python and machine")
