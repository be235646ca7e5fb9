"""Finding a compiler tool and reading its version, as the backend does for nvcc and hipconfig."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path


def first_executable(candidates: list[tuple[str, Path]], missing: str, fix: str) -> Path:
    """The first executable of (origin, path) candidates; else RuntimeError naming every one."""
    for _, path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    searched = "\n".join(f"  {origin}: {path}" for origin, path in candidates)
    msg = f"{missing} Searched:\n{searched}\n{fix}"
    raise RuntimeError(msg)


def tool_version(tool: Path, pattern: str, what: str) -> tuple[int, int]:
    """Major and minor from `tool --version`, the first two groups of `pattern`."""
    out = subprocess.run([str(tool), "--version"], check=True, capture_output=True, text=True).stdout
    match = re.search(pattern, out)
    if match is None:
        msg = f"could not read the {what} version from `{tool} --version`:\n{out}"
        raise RuntimeError(msg)
    return int(match.group(1)), int(match.group(2))
