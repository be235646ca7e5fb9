"""A stand-in libnccl.so.2 of an older NCCL: it says it is that version and defines what that
version has, by the build record's feature table, and nothing newer.

An extension that references an entry point newer than the version strongly (``nm -D``: ``U``)
fails to load with it, as it would with the real release. Its ncclGetVersion() reports the
version; every other entry point fails with ncclInternalError, so nothing may call one (no test
needs a GPU).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import nccl_trees

# What the bindings and the checks call before any communicator exists.
_ANSWERED = """\
int ncclGetVersion(int* version) { *version = %(code)d; return 0; }
const char* ncclGetErrorString(int result) { return "fake NCCL: internal error"; }
const char* ncclGetLastError(void* comm) { return ""; }
"""


def undefined_nccl_symbols(library: Path) -> dict[str, str]:
    """The NCCL symbols `library` leaves undefined, each with its ``nm`` type: U (strong) or w (weak)."""
    out = subprocess.run(["nm", "-D", "--undefined-only", str(library)], check=True, capture_output=True, text=True)
    return {name: kind for kind, name in re.findall(r"^\s+(\w)\s+(p?nccl\w+)$", out.stdout, re.MULTILINE)}


def entry_points_of(version: str, record: dict) -> set[str]:
    """Every entry point of `record`'s feature table that NCCL `version` has."""
    code = nccl_trees.version_code(version)
    gates = record["nccl"]["features"].values()
    return {e for gate in gates if nccl_trees.version_code(gate["since"]) <= code for e in gate["entry_points"]}


def write(directory: Path, version: str, record: dict, *, cuda: str = "13.0") -> Path:
    """``directory``/libnccl.so.2: NCCL `version` for `cuda`, with the entry points `record` says it has."""
    stubs = sorted(entry_points_of(version, record) - {"ncclGetVersion", "ncclGetErrorString", "ncclGetLastError"})
    source = directory / "fake_nccl.c"
    source.write_text(
        f'const char fake_nccl_banner[] = "NCCL version {version}+cuda{cuda}";\n'
        + _ANSWERED % {"code": nccl_trees.version_code(version)}
        + "".join(f"int {name}(void) {{ return 3; }}\n" for name in stubs)
    )
    library = directory / "libnccl.so.2"
    subprocess.run(["cc", "-shared", "-fPIC", "-Wl,-soname,libnccl.so.2", "-o", str(library), str(source)], check=True)
    return library
