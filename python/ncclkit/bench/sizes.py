"""Size sweeps as nccl-tests takes them: -b and -e with K, M or G (binary), stepped by a factor
(-f) or by a number of bytes (-i)."""

from __future__ import annotations

import re

_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30}
_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?)\s*([KMG]?)\s*", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes of `8`, `64K`, `0.5M` or `8G`: K, M and G are 2**10, 2**20 and 2**30, as in
    nccl-tests' parsesize (src/common.cu)."""
    match = _SIZE.fullmatch(text)
    if not match:
        msg = f"invalid size {text!r}: bytes, with an optional K, M or G (binary), e.g. 8, 64K, 8G"
        raise ValueError(msg)
    number, unit = match.groups()
    return int(float(number) * _UNITS[unit.upper()])


def sweep(minbytes: int, maxbytes: int, *, factor: int = 1, step: int = 2**20) -> list[int]:
    """minbytes, then times `factor` when it is above 1, else plus `step`, up to maxbytes: the
    size loop of nccl-tests' TimeTest (src/common.cu)."""
    if minbytes > maxbytes:
        msg = f"invalid sizes: minbytes {minbytes} > maxbytes {maxbytes}"
        raise ValueError(msg)
    if factor > 1 and minbytes == 0:
        msg = "a step factor never leaves 0 bytes: start at 1 byte or more (-b)"
        raise ValueError(msg)
    if factor <= 1 and step <= 0:
        msg = f"the step must be at least 1 byte, got {step} (-i)"
        raise ValueError(msg)
    sizes = []
    size = minbytes
    while size <= maxbytes:
        sizes.append(size)
        size = size * factor if factor > 1 else size + step
    return sizes
