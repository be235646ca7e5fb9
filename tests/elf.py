"""What a built shared library asks of the dynamic loader."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path


def dynamic_section(library: Path) -> dict[str, list[str]]:
    """NEEDED and RUNPATH/RPATH entries, as readelf prints them."""
    out = subprocess.run(["readelf", "-d", str(library)], check=True, capture_output=True, text=True).stdout
    entries: dict[str, list[str]] = {}
    for tag, value in re.findall(r"\((NEEDED|RUNPATH|RPATH)\)\s+\S+.*?\[(.*)\]", out):
        entries.setdefault(tag, []).extend(value.split(":"))
    return entries


def exported_symbols(library: Path) -> set[str]:
    """The names the library defines in its dynamic symbol table."""
    out = subprocess.run(["nm", "-D", "--defined-only", str(library)], check=True, capture_output=True, text=True)
    return {line.split()[-1] for line in out.stdout.splitlines() if line.strip()}
