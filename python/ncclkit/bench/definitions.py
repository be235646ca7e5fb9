"""The collectives as nccl-tests defines them (NVIDIA/nccl-tests, src/<collective>.cu): the
element counts of a size (GetCollByteCount), algbw and busbw (GetBw), where in-place buffers
start, and what each rank must receive.

A size of S bytes is count = S // itemsize elements. The table's size column is the larger of
the send and receive buffers in bytes, its count column the count passed to NCCL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..comm import group
from .patterns import Fill, Row


@dataclass(frozen=True)
class Counts:
    """Elements of one rank's buffers. In place, the send buffer starts at rank * send_offset of
    the receive buffer, and the received elements at rank * recv_offset."""

    send: int
    recv: int
    param: int  # the count argument of the NCCL call
    send_offset: int = 0
    recv_offset: int = 0

    def size(self, itemsize: int) -> int:
        return max(self.send, self.recv) * itemsize


@dataclass(frozen=True)
class Case:
    """One rank's side of one checked run."""

    rank: int
    nranks: int
    counts: Counts
    rows: tuple[Row, ...]  # every rank's input
    reduced: Row | None  # the op over rows, for collectives that reduce
    root: int
    in_place: bool


# (communicator, send, recv, op, root, stream): one rank's call.
Call = Callable[[Any, Any, Any, str, int, Any], None]


@dataclass(frozen=True)
class Collective:
    name: str
    counts: Callable[[int, int, int], Counts]  # (count, itemsize, nranks)
    bus_factor: Callable[[int], float]  # busbw / algbw for nranks
    expected: Callable[[Case], list[Fill]]  # the receive buffer after the call
    call: Call
    reduces: bool = False  # takes an op; the redop column is "none" otherwise
    rooted: bool = False  # takes a root; the root column is -1 otherwise
    moves_per_rank: bool = False  # algbw counts count elements from each rank
    root_sends_only: bool = False
    checked_in_place: bool = True  # nccl-tests reports N/A for in-place sendrecv
    has_in_place: bool = True  # ncclkit's all_to_all refuses overlapping buffers: no in-place column
    custom_all_reduce: bool = False  # runs ncclkit's custom all-reduce, which needs setting up

    def bandwidths(self, counts: Counts, itemsize: int, nranks: int, seconds: float) -> tuple[float, float]:
        """algbw and busbw in GB/s (10**9 bytes per second)."""
        data = counts.param * itemsize * (nranks if self.moves_per_rank else 1)
        algbw = data / 1e9 / seconds if seconds > 0 else 0.0
        return algbw, algbw * self.bus_factor(nranks)

    def inputs(self, case: Case) -> list[Fill]:
        """The send buffer before the call."""
        if self.root_sends_only and case.rank != case.root:
            return []
        return [Fill(0, case.counts.send, case.rows[case.rank])]


def _whole(count: int, itemsize: int, nranks: int) -> Counts:
    return Counts(count, count, count)


def _block(count: int, itemsize: int, nranks: int) -> int:
    """Each rank's share of count, rounded down to a multiple of 16 bytes."""
    return (count // nranks) & ~(16 // itemsize - 1)


def _gathered(count: int, itemsize: int, nranks: int) -> Counts:
    block = _block(count, itemsize, nranks)
    return Counts(block, block * nranks, block, send_offset=block)


def _scattered(count: int, itemsize: int, nranks: int) -> Counts:
    block = _block(count, itemsize, nranks)
    return Counts(block * nranks, block, block, recv_offset=block)


def _exchanged(count: int, itemsize: int, nranks: int) -> Counts:
    block = _block(count, itemsize, nranks)
    return Counts(block * nranks, block * nranks, block)


# -- all_reduce: nccl-tests src/all_reduce.cu, AllReduceGetBw: busbw = algbw * 2(n-1)/n ------------
def _all_reduce_expected(c: Case) -> list[Fill]:
    return [Fill(0, c.counts.recv, c.reduced)]


def _all_reduce_by(algorithm: str) -> Call:
    """NCCL's all_reduce, or ncclkit's custom one-shot or two-shot (ncclkit.custom_all_reduce)."""

    def call(comm: Any, send: Any, recv: Any, op: str, root: int, stream: Any) -> None:
        comm.all_reduce(send, recv, op=op, stream=stream, algorithm=algorithm)

    return call


# -- all_gather: src/all_gather.cu, AllGatherGetBw: algbw of count * n elements, busbw * (n-1)/n ---
def _all_gather_expected(c: Case) -> list[Fill]:
    block = c.counts.send
    return [Fill(q * block, block, c.rows[q]) for q in range(c.nranks)]


def _all_gather(comm: Any, send: Any, recv: Any, op: str, root: int, stream: Any) -> None:
    comm.all_gather(send, recv, stream=stream)


# -- reduce_scatter: src/reduce_scatter.cu, ReduceScatterGetBw: as all_gather ----------------------
def _reduce_scatter_expected(c: Case) -> list[Fill]:
    return [Fill(0, c.counts.recv, c.reduced, phase=c.rank * c.counts.recv)]


def _reduce_scatter(comm: Any, send: Any, recv: Any, op: str, root: int, stream: Any) -> None:
    comm.reduce_scatter(send, recv, op=op, stream=stream)


# -- broadcast: src/broadcast.cu, BroadcastGetBw: busbw = algbw -------------------------------------
def _broadcast_expected(c: Case) -> list[Fill]:
    return [Fill(0, c.counts.recv, c.rows[c.root])]


def _broadcast(comm: Any, send: Any, recv: Any, op: str, root: int, stream: Any) -> None:
    comm.broadcast(send, recv, root=root, stream=stream)


# -- reduce: src/reduce.cu, ReduceGetBw: busbw = algbw ----------------------------------------------
def _reduce_expected(c: Case) -> list[Fill]:
    if c.rank == c.root:
        return [Fill(0, c.counts.recv, c.reduced)]
    # Other ranks' receive buffers stay as they were: the poison, or in place the input.
    return [Fill(0, c.counts.recv, c.rows[c.rank] if c.in_place else None)]


def _reduce(comm: Any, send: Any, recv: Any, op: str, root: int, stream: Any) -> None:
    comm.reduce(send, recv, op=op, root=root, stream=stream)


# -- all_to_all: src/alltoall.cu, AlltoAllGetBw: algbw of count * n elements, busbw * (n-1)/n ------
def _all_to_all_expected(c: Case) -> list[Fill]:
    block = c.counts.param
    return [Fill(q * block, block, c.rows[q], phase=c.rank * block) for q in range(c.nranks)]


def _all_to_all(comm: Any, send: Any, recv: Any, op: str, root: int, stream: Any) -> None:
    comm.all_to_all(send, recv, stream=stream)


# -- gather: src/gather.cu, GatherGetBw: as all_gather; block r of the root's recv from rank r ----
def _gather_expected(c: Case) -> list[Fill]:
    block = c.counts.send
    if c.rank == c.root:
        return [Fill(q * block, block, c.rows[q]) for q in range(c.nranks)]
    # The other ranks' receive buffers are not theirs to write: the poison, in place their input.
    mine = [Fill(c.rank * block, block, c.rows[c.rank])] if c.in_place else []
    return [Fill(0, c.counts.recv, None), *mine]


def _gather(comm: Any, send: Any, recv: Any, op: str, root: int, stream: Any) -> None:
    comm.gather(send, recv if comm.rank == root else None, root=root, stream=stream)


# -- scatter: src/scatter.cu, ScatterGetBw: as all_gather; rank r gets block r of the root's send --
def _scatter_expected(c: Case) -> list[Fill]:
    return [Fill(0, c.counts.recv, c.rows[c.root], phase=c.rank * c.counts.recv)]


def _scatter(comm: Any, send: Any, recv: Any, op: str, root: int, stream: Any) -> None:
    comm.scatter(send if comm.rank == root else None, recv, root=root, stream=stream)


# -- sendrecv: src/sendrecv.cu, SendRecvGetBw: busbw = algbw; rank r sends to r+1, receives from r-1
def _sendrecv_expected(c: Case) -> list[Fill]:
    return [Fill(0, c.counts.recv, c.rows[(c.rank - 1) % c.nranks])]


def _sendrecv(comm: Any, send: Any, recv: Any, op: str, root: int, stream: Any) -> None:
    with group():
        comm.send(send, (comm.rank + 1) % comm.world_size, stream=stream)
        comm.recv(recv, (comm.rank - 1) % comm.world_size, stream=stream)


COLLECTIVES = {
    c.name: c
    for c in (
        Collective(
            "all_reduce", _whole, lambda n: 2 * (n - 1) / n, _all_reduce_expected, _all_reduce_by("nccl"), reduces=True
        ),
        *(
            Collective(
                f"all_reduce_{algorithm}",
                _whole,
                lambda n: 2 * (n - 1) / n,
                _all_reduce_expected,
                _all_reduce_by(algorithm),
                reduces=True,
                custom_all_reduce=True,
            )
            for algorithm in ("oneshot", "twoshot")
        ),
        Collective(
            "all_gather", _gathered, lambda n: (n - 1) / n, _all_gather_expected, _all_gather, moves_per_rank=True
        ),
        Collective(
            "reduce_scatter",
            _scattered,
            lambda n: (n - 1) / n,
            _reduce_scatter_expected,
            _reduce_scatter,
            reduces=True,
            moves_per_rank=True,
        ),
        Collective(
            "broadcast", _whole, lambda n: 1.0, _broadcast_expected, _broadcast, rooted=True, root_sends_only=True
        ),
        Collective("reduce", _whole, lambda n: 1.0, _reduce_expected, _reduce, reduces=True, rooted=True),
        Collective(
            "all_to_all",
            _exchanged,
            lambda n: (n - 1) / n,
            _all_to_all_expected,
            _all_to_all,
            moves_per_rank=True,
            has_in_place=False,
        ),
        Collective(
            "gather",
            _gathered,
            lambda n: (n - 1) / n,
            _gather_expected,
            _gather,
            rooted=True,
            moves_per_rank=True,
        ),
        Collective(
            "scatter",
            _scattered,
            lambda n: (n - 1) / n,
            _scatter_expected,
            _scatter,
            rooted=True,
            moves_per_rank=True,
            root_sends_only=True,
        ),
        Collective("sendrecv", _whole, lambda n: 1.0, _sendrecv_expected, _sendrecv, checked_in_place=False),
    )
}
