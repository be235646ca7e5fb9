"""The projects of examples/, installed for the GPU tests into a directory of their own and imported."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import ncclkit

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@contextmanager
def installed(example: str, package: str, target: Path) -> Iterator[ModuleType]:
    """examples/<example> built against the installed ncclkit and the NCCL it was built with (both
    load libnccl.so.2, and the first one loaded serves the process), then <package> imported."""
    provider = ncclkit.build_info()["nccl"]["provider"]
    # A static (source) NCCL is ncclkit's alone; the example then takes its default.
    env = dict(os.environ, NCCLKIT_NCCL=provider) if provider in ("system", "wheel") else None
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--quiet"]
        + ["--target", str(target), str(EXAMPLES / example)],
        check=True,
        env=env,
    )
    sys.path.insert(0, str(target))
    try:
        yield importlib.import_module(package)
    finally:
        sys.path.remove(str(target))
