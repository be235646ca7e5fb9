"""Which NCCL features this process can use. Each feature of the build record's table is compiled
in when the header the extension was built against has it (what the extension *can* call), and
available when the NCCL this process loaded has it too (what it *may* call): that NCCL is at
least the release that brought it and defines each of its entry points. An NCCL linked
statically is the header's own, so there the two are the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import _comm_loader


@dataclass(frozen=True)
class Feature:
    name: str  # as Python spells it: "comm_shrink" for NCCLKIT_HAS_COMM_SHRINK
    since: str  # the NCCL release that brought it
    entry_points: tuple[str, ...]
    compiled: bool
    available: bool
    reason: str  # why it is not available; "" when it is


def nccl_version_string(code: int) -> str:
    """NCCL_VERSION_CODE as X.Y.Z (the encoding changed after 2.8)."""
    if code < 10000:
        return f"{code // 1000}.{code % 1000 // 100}.{code % 100}"
    return f"{code // 10000}.{code % 10000 // 100}.{code % 100}"


def nccl_version_code(version: str) -> int:
    """X.Y.Z as NCCL_VERSION_CODE."""
    major, minor, patch = (int(part) for part in version.split("."))
    if major <= 2 and minor <= 8:
        return major * 1000 + minor * 100 + patch
    return major * 10000 + minor * 100 + patch


def entry_points(build: Mapping[str, Any]) -> list[str]:
    """Every entry point of the build record's feature table."""
    return [e for gate in build["nccl"].get("features", {}).values() for e in gate["entry_points"]]


def exported_entry_points(library: str, names: Iterable[str]) -> frozenset[str] | None:
    """Those of `names` that `library`, a file this process has loaded, defines (dlsym); None when
    it cannot be opened again (replaced on disk since, say): not known."""
    handle = _comm_loader.reopen(library)
    if handle is None:
        return None
    return frozenset(name for name in names if hasattr(handle, name))


def loaded_exports(build: Mapping[str, Any], library: str | None) -> frozenset[str] | None:
    """The table's entry points that the loaded NCCL defines; None where that cannot differ from
    the header (NCCL linked statically, its symbols hidden) or is not known."""
    if not library or build["nccl"]["static"]:
        return None
    return exported_entry_points(library, entry_points(build))


def features(build: Mapping[str, Any], loaded_code: int | None, exports: frozenset[str] | None) -> dict[str, Feature]:
    """Each feature of `build`'s table, for an NCCL of version `loaded_code` (None: none loaded) that
    defines `exports` (None: all of them)."""
    nccl = build["nccl"]
    found = {}
    for name, gate in nccl.get("features", {}).items():
        compiled = bool(build["features"].get(f"NCCLKIT_HAS_{name}"))
        missing = [e for e in gate["entry_points"] if exports is not None and e not in exports]
        if not compiled:
            reason = f"not compiled in: the header built against, NCCL {nccl['version']}, is older"
        elif loaded_code is None:
            reason = "no NCCL is loaded"
        elif loaded_code < nccl_version_code(gate["since"]):
            reason = f"the NCCL loaded, {nccl_version_string(loaded_code)}, is older"
        elif missing:
            reason = f"the NCCL loaded lacks {', '.join(missing)}"
        else:
            reason = ""
        found[name.lower()] = Feature(
            name.lower(), gate["since"], tuple(gate["entry_points"]), compiled, compiled and not reason, reason
        )
    return found
