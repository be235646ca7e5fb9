"""The GPU side of `ncclkit bench collectives`: the ranks this process drives, and one collective
at one size, out of place and in place, timed and checked as nccl-tests' BenchTime does
(src/common.cu): untimed calls first, then the mean time of `iters` calls, then the inputs
written again, one call, and the elements that differ from the expected result counted."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch

from .. import custom_all_reduce
from ..buffers import _ITEMSIZE
from ..comm import Communicator, group
from ..distributed import init_from_env
from ..memory import nccl_mem_pool
from .definitions import Case, Collective, Counts
from .patterns import Fill, input_row, reduce_rows, rotated
from .results import Measurement, Row

# Poison bytes: NaN in every float type, -1 or the maximum for integers: no result (patterns.LIMIT).
_POISON = 0xFF
_BITS = {1: torch.int8, 2: torch.int16, 4: torch.int32, 8: torch.int64}
# Elements compared at once: bounds the temporary mask of a large buffer.
_CHUNK = 2**28


@dataclass(frozen=True)
class Rank:
    comm: Communicator
    stream: torch.cuda.Stream


@dataclass(frozen=True)
class World:
    """The ranks this process drives: its own under torchrun, one per GPU under init_all."""

    ranks: list[Rank]
    processes: int
    launcher: str

    @property
    def size(self) -> int:
        return self.ranks[0].comm.world_size

    @property
    def is_main(self) -> bool:
        return self.ranks[0].comm.rank == 0

    def group(self) -> contextlib.AbstractContextManager:
        # One thread driving several communicators must group their calls.
        return group() if len(self.ranks) > 1 else contextlib.nullcontext()

    def synchronize(self) -> None:
        for rank in self.ranks:
            rank.stream.synchronize()

    def sum_over_processes(self, values: Sequence[float]) -> list[float]:
        if self.processes == 1:
            return list(values)
        rank = self.ranks[0]  # torchrun: one rank per process
        totals = torch.tensor(values, dtype=torch.float64, device=f"cuda:{rank.comm.device}")
        rank.comm.all_reduce(totals, stream=rank.stream)
        rank.stream.synchronize()
        return totals.tolist()

    def set_up_custom_all_reduce(self) -> None:
        """ncclkit.custom_all_reduce on every rank; a reason it cannot run is an error here."""
        comms = [rank.comm for rank in self.ranks]
        if self.launcher == "torchrun":
            states = [custom_all_reduce.setup(comms[0])]
        else:
            states = custom_all_reduce.setup_all(comms)
        for state in states:
            if state.reason is not None:
                raise RuntimeError(f"custom all-reduce cannot run here: {state.reason}")

    def close(self) -> None:
        self.synchronize()  # the custom all-reduce's buffers are freed only after the last call
        for rank in self.ranks:
            state = custom_all_reduce.get(rank.comm)
            if state is not None:
                state.close()
            rank.comm.destroy()


def open_world(*, torchrun: bool, ngpus: int | None) -> World:
    if torchrun:
        comm = init_from_env()
        torch.cuda.set_device(comm.device)
        return World([Rank(comm, torch.cuda.Stream(comm.device))], comm.world_size, "torchrun")
    comms = Communicator.init_all(range(ngpus) if ngpus else None)
    return World([Rank(c, torch.cuda.Stream(c.device)) for c in comms], 1, "init_all")


@dataclass(frozen=True)
class _Buffers:
    send: torch.Tensor
    recv: torch.Tensor
    whole: torch.Tensor  # what is poisoned before each run: recv, or in place the one buffer


@functools.cache
def _nccl_pool(device: int) -> torch.cuda.MemPool:
    """One pool over ncclMemAlloc per GPU, kept for the run: -R's buffers come from it."""
    return nccl_mem_pool()


def _allocate(comm: Communicator, counts: Counts, dtype: torch.dtype, in_place: bool, register: int) -> _Buffers:
    if not register:
        return _allocate_from(comm, counts, dtype, in_place)
    with torch.cuda.use_mem_pool(_nccl_pool(comm.device), device=comm.device):
        return _allocate_from(comm, counts, dtype, in_place)


def _allocate_from(comm: Communicator, counts: Counts, dtype: torch.dtype, in_place: bool) -> _Buffers:
    device = f"cuda:{comm.device}"
    if not in_place:
        recv = torch.empty(counts.recv, dtype=dtype, device=device)
        return _Buffers(torch.empty(counts.send, dtype=dtype, device=device), recv, recv)
    whole = torch.empty(max(counts.send, counts.recv), dtype=dtype, device=device)
    send_at, recv_at = comm.rank * counts.send_offset, comm.rank * counts.recv_offset
    return _Buffers(whole[send_at : send_at + counts.send], whole[recv_at : recv_at + counts.recv], whole)


@contextlib.contextmanager
def _registered(world: World, buffers: Sequence[_Buffers], in_place: bool, register: int) -> Iterator[None]:
    """The buffers registered as nccl-tests' -R: 1 with ncclCommRegister, 2 as symmetric windows
    (collective: every rank in the same order, from a thread per rank where one process drives
    several, since NCCL registers a window at a group's end); given back after. Empty buffers are
    left out, alike on every rank."""
    if not register:
        yield
        return
    regions = [[tensor for tensor in ((b.whole,) if in_place else (b.send, b.recv)) if tensor.numel()] for b in buffers]
    comms = [rank.comm for rank in world.ranks]
    if register == 1:
        handles = [(comm, comm.register_buffer(tensor)) for comm, tensors in zip(comms, regions) for tensor in tensors]
        try:
            yield
        finally:
            for comm, handle in handles:
                comm.deregister_buffer(handle)
        return
    with ThreadPoolExecutor(len(comms)) as pool:
        windows = list(pool.map(lambda c, ts: [c.register_window(t, symmetric=True) for t in ts], comms, regions))
        try:
            yield
        finally:
            world.synchronize()
            list(pool.map(lambda ws: [w.deregister() for w in ws], windows))


def _write(buffer: torch.Tensor, fills: Sequence[Fill]) -> None:
    for fill in fills:
        region = buffer[fill.start : fill.start + fill.length]
        if fill.row is None:
            region.view(torch.uint8).fill_(_POISON)
            continue
        row = rotated(fill.row, fill.phase)
        wide = torch.float64 if buffer.dtype.is_floating_point else torch.int64
        values = torch.tensor(row, dtype=wide).to(device=buffer.device, dtype=buffer.dtype)
        periods = fill.length // len(row) * len(row)
        region[:periods].view(-1, len(row)).copy_(values)  # broadcast: one row per period
        region[periods:].copy_(values[: fill.length - periods])


def _count_wrong(result: torch.Tensor, expected: torch.Tensor) -> int:
    """Elements whose bits differ: a NaN poison never matches, and no tolerance is needed."""
    bits = _BITS[result.element_size()]
    got, want = result.view(bits), expected.view(bits)
    wrong = torch.zeros((), dtype=torch.int64, device=result.device)
    for start in range(0, got.numel(), _CHUNK):
        wrong += (got[start : start + _CHUNK] != want[start : start + _CHUNK]).sum()
    return int(wrong)


def _time_graph(world: World, launch: Callable[[], None], iters: int, launches: int) -> float:
    """As nccl-tests' -G: `iters` calls captured in one CUDA graph, replayed `launches` times, so
    that the host costs one launch per graph instead of one per call. One GPU per process."""
    (rank,) = world.ranks
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph, stream=rank.stream):
        for _ in range(iters):
            launch()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    with torch.cuda.stream(rank.stream):
        graph.replay()  # the first replay uploads the graph
        start.record()
        for _ in range(launches):
            graph.replay()
        end.record()
    end.synchronize()
    return start.elapsed_time(end) / 1e3 / (iters * launches)


def _time(world: World, launch: Callable[[], None], warmup: int, iters: int, graph_launches: int = 0) -> float:
    """Seconds per call: the mean over `iters`, after at least one untimed call, which also lines
    the ranks up. The slowest GPU of the process counts, as under nccl-tests' one host timer."""
    for _ in range(max(warmup, 1)):
        launch()
    world.synchronize()
    if graph_launches:
        return _time_graph(world, launch, iters, graph_launches)
    events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in world.ranks]
    for (start, _), rank in zip(events, world.ranks):
        start.record(rank.stream)
    for _ in range(iters):
        launch()
    for (_, end), rank in zip(events, world.ranks):
        end.record(rank.stream)
    for _, end in events:
        end.synchronize()
    return max(start.elapsed_time(end) for start, end in events) / 1e3 / iters


def measure(
    world: World,
    collective: Collective,
    counts: Counts,
    dtype: str,
    *,
    op: str,
    root: int,
    in_place: bool,
    warmup: int,
    iters: int,
    check: int,
    graph_launches: int = 0,
    register: int = 0,
) -> Measurement:
    itemsize = _ITEMSIZE[dtype]
    rows = tuple(input_row(q, world.size, dtype, op if collective.reduces else None) for q in range(world.size))
    reduced = reduce_rows(rows, op) if collective.reduces else None
    cases = [Case(r.comm.rank, world.size, counts, rows, reduced, root, in_place) for r in world.ranks]
    buffers = [_allocate(r.comm, counts, getattr(torch, dtype), in_place, register) for r in world.ranks]
    with _registered(world, buffers, in_place, register):
        calls = [
            functools.partial(collective.call, r.comm, b.send, b.recv, op, root, r.stream)
            for r, b in zip(world.ranks, buffers)
        ]

        def launch() -> None:
            with world.group():
                for call in calls:
                    call()

        def prepare() -> None:
            for rank, buffer, case in zip(world.ranks, buffers, cases):
                with torch.cuda.stream(rank.stream):
                    _write(buffer.whole, [Fill(0, buffer.whole.numel(), None)])
                    _write(buffer.send, collective.inputs(case))

        prepare()
        (total,) = world.sum_over_processes([_time(world, launch, warmup, iters, graph_launches)])
        seconds = total / world.processes  # the mean over processes, as nccl-tests' default -a 1
        wrong = None
        if check and (collective.checked_in_place or not in_place):
            expected = []
            for rank, buffer, case in zip(world.ranks, buffers, cases):
                with torch.cuda.stream(rank.stream):
                    expected.append(torch.empty_like(buffer.recv))
                    _write(expected[-1], collective.expected(case))
            for _ in range(check):
                prepare()
                launch()
                world.synchronize()
                local = sum(_count_wrong(b.recv, e) for b, e in zip(buffers, expected))
                (total_wrong,) = world.sum_over_processes([local])
                wrong = int(total_wrong)
                if wrong:
                    break
        algbw, busbw = collective.bandwidths(counts, itemsize, world.size, seconds)
        return Measurement(seconds * 1e6, algbw, busbw, wrong)


def row(world: World, collective: Collective, size: int, dtype: str, *, op: str, root: int, **timing: int) -> Row:
    """One line of the table: `size` bytes out of place, then in place."""
    itemsize = _ITEMSIZE[dtype]
    counts = collective.counts(size // itemsize, itemsize, world.size)
    out_of_place = measure(world, collective, counts, dtype, op=op, root=root, in_place=False, **timing)
    in_place = None
    if collective.has_in_place:
        in_place = measure(world, collective, counts, dtype, op=op, root=root, in_place=True, **timing)
    return Row(
        collective.name,
        counts.size(itemsize),
        counts.param,
        dtype,
        op if collective.reduces else "none",
        root if collective.rooted else -1,
        out_of_place,
        in_place,
    )
