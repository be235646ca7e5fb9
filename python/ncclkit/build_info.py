"""What the build chose for each extension, as ncclkit_add_extension recorded it beside the
extension in <name>.build.json."""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path
from typing import Any

RECORD_SUFFIX = ".build.json"
PACKAGE_DIR = Path(__file__).parent


def record_path(module: str) -> Path:
    """Where the build record of extension `module` ("mypkg._myext") is, found without loading it."""
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:  # its parent package is missing
        spec = None
    if spec is None or not spec.origin:
        msg = f"no module named {module!r}: is its package installed?"
        raise ModuleNotFoundError(msg, name=module)
    return Path(spec.origin).with_name(module.rpartition(".")[2] + RECORD_SUFFIX)


def read_record(module: str) -> dict[str, Any]:
    """The build record of an extension built with ncclkit_add_extension()."""
    path = record_path(module)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        msg = f"{path} is missing: {module} was not built with ncclkit_add_extension(), or was installed without it."
        raise ImportError(msg) from None


def built_dir() -> Path:
    """Where CMake installed ncclkit's compiled modules, their records and cmake/: beside this file
    in a wheel's install, in site-packages for an editable one (whose Python files stay in the
    checkout)."""
    try:
        return record_path("ncclkit._cuda").parent
    except ModuleNotFoundError:
        msg = (
            f"{PACKAGE_DIR} has no compiled modules (ncclkit._cuda): this ncclkit was not built. "
            "Install it with `pip install .` (or `pip install -e .`) from the checkout rather than importing "
            "the source tree."
        )
        raise ImportError(msg) from None


@functools.cache
def build_info() -> dict[str, Any]:
    """ncclkit's own build: the record of ncclkit._comm (ncclkit._cuda when built without NCCL)."""
    directory = built_dir()
    for name in ("_comm", "_cuda"):
        path = directory / f"{name}{RECORD_SUFFIX}"
        if path.exists():
            return json.loads(path.read_text())
    msg = f"{directory} has no build record (_cuda{RECORD_SUFFIX}): ncclkit was installed without them."
    raise ImportError(msg)
