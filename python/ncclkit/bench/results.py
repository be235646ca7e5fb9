"""What `ncclkit bench collectives` measured: one row per size, as nccl-tests prints them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Measurement:
    time_us: float  # mean time of one iteration
    algbw: float  # GB/s
    busbw: float  # GB/s
    wrong: int | None  # elements that differ from the expected result; None: not checked (N/A)


@dataclass(frozen=True)
class Row:
    collective: str
    size: int  # bytes
    count: int  # elements
    type: str
    redop: str  # "none" for collectives without an op
    root: int  # -1 for collectives without a root
    out_of_place: Measurement
    in_place: Measurement | None  # None: the collective has no in-place form

    def measurements(self) -> dict[str, Measurement]:
        places = {"out_of_place": self.out_of_place, "in_place": self.in_place}
        return {place: m for place, m in places.items() if m is not None}
