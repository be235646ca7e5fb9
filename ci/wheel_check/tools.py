"""The programs some rules run, and the skip of a rule whose program is missing."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

from .results import Result, Status

try:  # NVIDIA's own search for its tools (wheels, conda, CUDA_PATH/CUDA_HOME), where installed
    from cuda.pathfinder import find_nvidia_binary_utility
except ImportError:
    find_nvidia_binary_utility = None

# Where each program comes from, for the message of a rule skipped without it.
SOURCES = {
    "cuobjdump": "CUDA toolkit, or pip install nvidia-cuda-cuobjdump",
    "auditwheel": "pip install auditwheel",
}


def find(tool: str) -> str | None:
    """The path of ``tool``; None where it is not installed."""
    if (on_path := shutil.which(tool)) or tool != "cuobjdump":
        return on_path
    if find_nvidia_binary_utility and (found := find_nvidia_binary_utility(tool)):
        return found
    # cuobjdump is in the CUDA toolkit, which is often not on PATH, or in NVIDIA's wheel of it
    # (nvidia-cuda-cuobjdump: nvidia/cu13/bin).
    places = [Path(os.environ.get("CUDA_HOME", "/usr/local/cuda"), "bin")]
    nvidia = importlib.util.find_spec("nvidia")
    if nvidia and nvidia.submodule_search_locations:
        places += sorted(b for location in nvidia.submodule_search_locations for b in Path(location).glob("*/bin"))
    return next(filter(None, (shutil.which(tool, path=str(p)) for p in places)), None)


def run(tool: str, *args: str) -> str:
    """``tool``'s standard output; a rule calls it once skipped_without() found the tool."""
    found = find(tool)
    if found is None:
        msg = f"check_wheel needs `{tool}` ({SOURCES[tool]}) on PATH"
        raise RuntimeError(msg)
    return subprocess.run([found, *args], capture_output=True, text=True, check=False).stdout


def skipped_without(rule: str, *tools: str) -> Result | None:
    """``rule`` skipped, naming what to install, where a tool it runs is missing; None when every one is there."""
    missing = [f"{tool} is not installed ({SOURCES[tool]})" for tool in tools if find(tool) is None]
    return Result(rule, Status.SKIP, "not looked at: " + ", ".join(missing)) if missing else None
