"""Reading what CMake printed, whose messages it re-wraps and indents."""

from __future__ import annotations

import re


def words(text: str) -> str:
    """Text with its whitespace normalised."""
    return " ".join(text.split())


def first_error(stderr: str) -> str:
    """The message of the first `CMake Error`, whitespace normalised; empty when there is none."""
    match = re.search(r"^CMake Error at [^\n]*:\n(.*?)(?=^(?:Call Stack|CMake Error|-- )|\Z)", stderr, re.M | re.S)
    return words(match[1]) if match else ""
