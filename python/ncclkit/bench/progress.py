"""A progress bar over a sweep's steps: tqdm's where it is installed, else one stderr line that
each step rewrites."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TextIO, TypeVar

T = TypeVar("T")


def progress(
    steps: Sequence[T], describe: Callable[[T], str], *, enabled: bool, stream: TextIO | None = None
) -> Iterator[T]:
    """Yields `steps`, showing the one under way (`describe(step)`) and how many are done."""
    stream = stream or sys.stderr
    if not enabled:
        yield from steps
        return
    try:
        from tqdm import tqdm
    except ImportError:
        yield from _line(steps, describe, stream)
        return
    with tqdm(total=len(steps), file=stream, leave=False, unit="step") as bar:
        for step in steps:
            bar.set_description(describe(step))
            yield step
            bar.update()


def _line(steps: Sequence[T], describe: Callable[[T], str], stream: TextIO) -> Iterator[T]:
    width = 0
    for done, step in enumerate(steps):
        text = f"[{done}/{len(steps)}] {describe(step)}"
        stream.write("\r" + text.ljust(width))
        stream.flush()
        width = len(text)
        yield step
    stream.write("\r" + " " * width + "\r")  # leaves the terminal as it was, as tqdm's leave=False
    stream.flush()
