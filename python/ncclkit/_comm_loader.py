"""Loading ncclkit._comm, with an error that says why it failed instead of a bare loader message."""

from __future__ import annotations

import functools
import re
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
        raise CompatibilityError([_explain(str(error), nccl)]) from error
    return _comm


def require() -> ModuleType:
    comm = load()
    if comm is None:
        msg = "this ncclkit was built without NCCL (NCCLKIT_NCCL=off): rebuild it with NCCLKIT_NCCL=auto"
        raise RuntimeError(msg)
    return comm


def _explain(error: str, nccl: dict) -> object:
    from .compat import Problem, loaded_nccl_files

    built = f"NCCL {nccl['version']} ({nccl['library']})"
    symbol = re.search(r"undefined symbol: (\w+)", error)
    if symbol:
        loaded = ", ".join(loaded_nccl_files()) or "a libnccl this process loaded earlier"
        return Problem(
            f"the loaded NCCL lacks {symbol.group(1)}",
            f"{loaded} ({error})",
            built,
            "an older libnccl.so.2 was loaded first (by another package or LD_LIBRARY_PATH): import "
            "ncclkit first, remove the stale path, or upgrade that NCCL",
        )
    if "libnccl" in error:
        fix = (
            f"pip install '{nccl['wheel']}>={nccl['version']}'"
            if nccl["wheel"]
            else f"put {nccl['library']}'s directory back, or add the NCCL's lib directory to LD_LIBRARY_PATH"
        )
        return Problem("NCCL library not found", error, built, fix)
    return Problem("ncclkit._comm does not load", error, built, "reinstall ncclkit for this Python and machine")
