"""argparse types of the benchmarks' flags: each turns a bad value into a usage error that says
what was expected."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from .sizes import parse_size


def size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            msg = f"expected an integer of at least {minimum}, got {text!r}"
            raise argparse.ArgumentTypeError(msg)
        return value

    return parse
