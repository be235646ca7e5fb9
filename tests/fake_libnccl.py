"""A stand-in libnccl.so.2 that says it is an older NCCL and lacks what came after it.

It defines exactly the NCCL symbols some extensions need to load, those they reference strongly
(``nm -D``: ``U``), and none they bind weakly (``w``): what an older NCCL would give them. Its
ncclGetVersion() reports the version asked for; every other entry point fails with
ncclInternalError, so nothing may call one (no test needs a GPU).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable
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


def write(directory: Path, version: str, extensions: Iterable[Path], *, cuda: str = "13.0") -> Path:
    """``directory``/libnccl.so.2, NCCL `version` for `cuda`, enough to load every one of `extensions`."""
    code = nccl_trees.version_code(version)
    needed = {name for e in extensions for name, kind in undefined_nccl_symbols(e).items() if kind == "U"}
    stubs = sorted(needed - {"ncclGetVersion", "ncclGetErrorString", "ncclGetLastError"})
    source = directory / "fake_nccl.c"
    source.write_text(
        f'const char fake_nccl_banner[] = "NCCL version {version}+cuda{cuda}";\n'
        + _ANSWERED % {"code": code}
        + "".join(f"int {name}(void) {{ return 3; }}\n" for name in stubs)
    )
    library = directory / "libnccl.so.2"
    subprocess.run(["cc", "-shared", "-fPIC", "-Wl,-soname,libnccl.so.2", "-o", str(library), str(source)], check=True)
    return library
