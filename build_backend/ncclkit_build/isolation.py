"""The directories of the isolated environment a frontend (pip, build, uv) builds in: the entries
of sys.path outside this interpreter's own prefixes. They move from one build to the next, so the
compiler cache strips them from what it hashes and CMake copies what the build takes from them to
paths that stay (cmake/NcclkitBuildEnvironment.cmake)."""

from __future__ import annotations

import sys
from pathlib import Path


def build_environment_dirs() -> list[str]:
    own = [Path(p).resolve() for p in (sys.base_prefix, sys.prefix)]
    entries = (Path(entry).resolve() for entry in sys.path if entry)
    inside = (e for e in entries if e.is_dir() and not any(e.is_relative_to(p) for p in own))
    return list(dict.fromkeys(str(e) for e in inside))
