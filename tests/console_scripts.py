"""Finding a tool the test extra installs (hadolint, cibuildwheel, ...): on PATH, or beside this
interpreter, for a virtual environment that is used without being activated."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def console_script(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
