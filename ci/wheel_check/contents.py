"""The unpacked wheel: its .dist-info directory, METADATA, and every extension with its build record."""

from __future__ import annotations

import contextlib
import email
import email.message
import functools
import json
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import elf


@dataclass(frozen=True)
class Extension:
    path: Path  # unpacked
    name: str  # inside the wheel, e.g. ncclkit/_comm.cpython-312-x86_64-linux-gnu.so
    record: dict[str, Any]

    @functools.cached_property
    def dynamic(self) -> dict[str, list[str]]:
        """Its NEEDED and RUNPATH/RPATH entries: read once, by the first rule that asks."""
        return elf.dynamic_section(self.path)


@contextlib.contextmanager
def unpacked(wheel: Path) -> Iterator[tuple[Path, Path, email.message.Message, list[Extension]]]:
    """The unpacked wheel, its .dist-info directory, its METADATA, and every extension with a build record."""
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(wheel) as archive:
        archive.extractall(tmp)
        root = Path(tmp)
        (metadata_file,) = root.glob("*.dist-info/METADATA")
        extensions = []
        for record_file in sorted(root.rglob("*.build.json")):
            (library,) = record_file.parent.glob(record_file.name.removesuffix(".build.json") + ".*.so")
            record = json.loads(record_file.read_text())
            extensions.append(Extension(library, library.relative_to(root).as_posix(), record))
        yield root, metadata_file.parent, email.message_from_string(metadata_file.read_text()), extensions
