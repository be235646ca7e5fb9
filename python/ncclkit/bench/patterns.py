"""Inputs whose collective results are exact, so that #wrong compares bits, as nccl-tests does.

Every rank's input is a periodic row of small non-negative integers that depends on the rank.
Each is exact in the dtype, and so is every partial reduction of them over the ranks, in any
order: the result cannot depend on NCCL's algorithm. Buffers are described by fills (a row
repeated over a range), which the GPU side writes and the CPU tests check.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from dataclasses import dataclass

Row = tuple[int, ...]

# The largest value a row holds: rows tell ranks and positions apart modulo CAP + 1.
CAP = 64
# No input or result is above this: every integer up to it is exact in the dtype (2**(mantissa
# bits + 1) for floats), and below the all-ones bytes of the poison (NaN, -1, or unsigned max).
LIMIT = {
    "int8": 2**7 - 1,
    "uint8": 2**8 - 2,
    "int32": 2**31 - 1,
    "uint32": 2**32 - 2,
    "int64": 2**63 - 1,
    "uint64": 2**64 - 2,
    "float16": 2**11,
    "bfloat16": 2**8,
    "float32": 2**24,
    "float64": 2**53,
    "float8_e4m3fn": 2**4,
    "float8_e5m2": 2**3,
}
_REDUCE = {"sum": operator.add, "prod": operator.mul, "max": max, "min": min}
# NCCL's avg scales before it sums, which rounds: it has no exact result to compare bits with.
OPS = tuple(_REDUCE)


@dataclass(frozen=True)
class Fill:
    """buffer[start:start + length] is `row` repeated, from row[phase]; row None: the poison."""

    start: int
    length: int
    row: Row | None
    phase: int = 0


def input_row(rank: int, nranks: int, dtype: str, op: str | None) -> Row:
    """Rank `rank`'s input: element i is row[i % len(row)]. `op` is the reduction the input goes
    through, None for collectives that only move data."""
    if op == "prod":
        # One rank holds a 2 at each position and the others a 1: every product is 2 or 1.
        return tuple(2 if q == rank else 1 for q in range(nranks))
    # Sums stay within the limit. With more ranks than the limit, inputs are all 0 and #wrong
    # finds only outputs NCCL did not write.
    limit = LIMIT[dtype] // nranks if op == "sum" else LIMIT[dtype]
    period = min(CAP, limit) + 1
    return tuple((i + rank) % period for i in range(period))


def reduce_rows(rows: Sequence[Row], op: str) -> Row:
    """Element-wise `op` over the ranks' rows (input_row gives them one period for one op)."""
    return tuple(functools.reduce(_REDUCE[op], column) for column in zip(*rows))


def rotated(row: Row, phase: int) -> Row:
    """The row starting at row[phase]: what a buffer filled from `phase` repeats."""
    shift = phase % len(row)
    return row[shift:] + row[:shift]
