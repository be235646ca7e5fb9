"""ncclkit.custom_all_reduce without a GPU: the algorithm each call runs, the errors that say why
one cannot, the fallback logged once, Communicator.all_reduce's routing, and the setup exchange
that makes every rank take the same decision, run by threads through real stores. The compiled
buffer (_comm.CustomAllReduce) is replaced by a stand-in that records what it is asked; the
kernels and the IPC mappings themselves are tests/gpu's."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from ncclkit import Communicator, custom_all_reduce
from ncclkit.buffers import Buffer
from ncclkit.custom_all_reduce import CustomAllReduce, plan

KiB = 1024
MiB = 1024 * KiB


def available(max_bytes: int = 8 * MiB, native: Any = None, world_size: int = 2) -> CustomAllReduce:
    return CustomAllReduce(0, world_size, 0, max_bytes, native if native is not None else object())


def unavailable(reason: str = "rank 1's GPU cannot reach rank 0's") -> CustomAllReduce:
    return CustomAllReduce(0, 2, 0, 8 * MiB, None, reason)


# -- the algorithm of a call ---------------------------------------------------------------------
def test_unknown_algorithm_names_the_choices() -> None:
    with pytest.raises(ValueError, match=r"^algorithm must be one of auto, nccl, oneshot, twoshot, got 'fast'$"):
        plan(available(), "fast", dtype="float16", op="sum", nbytes=64)


def test_nccl_is_nccl_whatever_was_set_up() -> None:
    for state in (None, available(), unavailable()):
        assert plan(state, "nccl", dtype="float16", op="sum", nbytes=64) == ("nccl", None)


def test_auto_without_setup_is_nccl_and_explicit_asks_for_setup() -> None:
    assert plan(None, "auto", dtype="float16", op="sum", nbytes=64) == ("nccl", None)
    with pytest.raises(RuntimeError, match=r"algorithm='oneshot' needs .*\.custom_all_reduce\.setup\(comm\) on every"):
        plan(None, "oneshot", dtype="float16", op="sum", nbytes=64)


# What "auto" runs by message size: one-shot throughout on one or two ranks; on more, two-shot from
# just over 256 KiB, NCCL from just over 4 MiB (the limits measured, in custom_all_reduce.py).
AUTO_SIZES = (0, 2, 4096, 256 * KiB, 256 * KiB + 2, 4 * MiB, 4 * MiB + 2, 8 * MiB, 8 * MiB + 2)
SMALL_WORLD = ["nccl", "oneshot", "oneshot", "oneshot", "oneshot", "oneshot", "oneshot", "oneshot", "nccl"]
LARGER_WORLD = ["nccl", "oneshot", "oneshot", "oneshot", "twoshot", "twoshot", "nccl", "nccl", "nccl"]


@pytest.mark.parametrize(
    ("world_size", "choices"),
    [(1, SMALL_WORLD), (2, SMALL_WORLD), (3, LARGER_WORLD), (4, LARGER_WORLD), (8, LARGER_WORLD)],
)
def test_auto_chooses_by_size_and_world_size(world_size: int, choices: list[str]) -> None:
    state = available(world_size=world_size)
    assert [plan(state, "auto", dtype="bfloat16", op="sum", nbytes=n)[0] for n in AUTO_SIZES] == choices


def test_auto_never_asks_more_than_the_buffer_holds() -> None:
    small = available(max_bytes=MiB)
    assert plan(small, "auto", dtype="float32", op="sum", nbytes=MiB) == ("oneshot", None)
    assert plan(small, "auto", dtype="float32", op="sum", nbytes=MiB + 4) == ("nccl", None)
    four_ranks = available(max_bytes=MiB, world_size=4)
    assert plan(four_ranks, "auto", dtype="float32", op="sum", nbytes=MiB) == ("twoshot", None)
    assert plan(four_ranks, "auto", dtype="float32", op="sum", nbytes=MiB + 4) == ("nccl", None)


def test_explicit_algorithm_runs_at_any_size_the_buffer_holds() -> None:
    state = available()
    assert plan(state, "twoshot", dtype="float16", op="sum", nbytes=2) == ("twoshot", None)
    assert plan(state, "oneshot", dtype="float32", op="sum", nbytes=8 * MiB) == ("oneshot", None)


@pytest.mark.parametrize(
    ("dtype", "op", "nbytes", "why"),
    [
        ("float16", "max", 64, "custom all-reduce sums only (op='sum'), not op='max'"),
        ("int32", "sum", 64, "custom all-reduce sums float16, bfloat16, float32, not int32"),
        ("float64", "sum", 64, "custom all-reduce sums float16, bfloat16, float32, not float64"),
        ("float16", "sum", 8 * MiB + 2, "8388610 bytes do not fit its 8388608-byte buffer (setup(max_bytes=...))"),
    ],
)
@pytest.mark.parametrize("algorithm", ["oneshot", "twoshot"])
def test_explicit_algorithm_says_why_it_cannot_run(algorithm: str, dtype: str, op: str, nbytes: int, why: str) -> None:
    with pytest.raises(ValueError) as raised:
        plan(available(), algorithm, dtype=dtype, op=op, nbytes=nbytes)
    assert str(raised.value) == f"algorithm='{algorithm}' cannot run: {why}"


def test_unavailable_setup_auto_is_nccl_and_explicit_repeats_the_reason() -> None:
    state = unavailable("rank 1's cuda:1 cannot reach rank 0's GPU peer to peer")
    assert plan(state, "auto", dtype="float16", op="sum", nbytes=64) == ("nccl", None)
    with pytest.raises(RuntimeError, match=r"^algorithm='twoshot' cannot run: rank 1's cuda:1 cannot reach rank 0's"):
        plan(state, "twoshot", dtype="float16", op="sum", nbytes=64)


def test_auto_falls_back_for_dtype_and_op_and_says_why() -> None:
    state = available()
    assert plan(state, "auto", dtype="int32", op="sum", nbytes=64) == (
        "nccl",
        "custom all-reduce sums float16, bfloat16, float32, not int32; such all_reduce calls use NCCL",
    )
    assert plan(state, "auto", dtype="float16", op="avg", nbytes=64)[1].startswith("custom all-reduce sums only")


# -- launch, logging, and Communicator.all_reduce ----------------------------------------------
class FakeBuffer:
    """Stands in for _comm.CustomAllReduce: one rank's registered buffer on a fake machine."""

    def __init__(self, machine: FakeMachine, device: int, rank: int, world_size: int, max_bytes: int) -> None:
        if device in machine.out_of_memory:
            msg = "cudaMalloc(...) failed: out of memory (cudaErrorMemoryAllocation, 2)"
            raise RuntimeError(msg)
        self.machine, self.device, self.rank, self.world_size = machine, device, rank, world_size
        self.multiprocessors = machine.multiprocessors[device]
        self.buffer = 0x7F0000000000 + (rank << 32)
        self.mapped: tuple | None = None
        self.calls: list[tuple] = []

    def ipc_handle(self) -> bytes:
        return bytes([self.rank]) * 64

    def open_ipc_handles(self, handles: list[bytes], blocks: int) -> None:
        if self.rank in self.machine.cannot_map:
            msg = "cudaIpcOpenMemHandle(&mapped, handle, cudaIpcMemLazyEnablePeerAccess) failed: invalid argument"
            raise RuntimeError(msg)
        self.mapped = (handles, blocks)

    def connect_in_process(self, buffers: list[int], devices: list[int], blocks: int) -> None:
        self.mapped = (buffers, devices, blocks)

    def all_reduce(self, *args: int) -> None:
        self.calls.append(args)


class FakeMachine(SimpleNamespace):
    """The compiled module's custom all-reduce API, for a machine of `gpus` GPUs."""

    CUSTOM_ALL_REDUCE_MAX_BLOCKS = 36
    CUSTOM_ALL_REDUCE_ALGORITHMS = {"oneshot": 1, "twoshot": 2}  # noqa: RUF012
    DTYPES = {"float16": 6, "float32": 7, "bfloat16": 9, "int32": 2}  # noqa: RUF012

    def __init__(self, gpus: int = 2) -> None:
        super().__init__(
            multiprocessors=[132] * gpus, unreachable=set(), cannot_map=set(), out_of_memory=set(), visible=gpus
        )
        self.made: list[FakeBuffer] = []

    def CustomAllReduce(self, *args: int) -> FakeBuffer:  # noqa: N802 (the compiled class's name)
        buffer = FakeBuffer(self, *args)
        self.made.append(buffer)
        return buffer

    def pci_bus_id(self, device: int) -> str:
        return f"0000:{device + 0x18:02x}:00.0"

    def device_by_pci_bus_id(self, bus_id: str) -> int:
        device = int(bus_id.split(":")[1], 16) - 0x18
        return device if device < self.visible else -1

    def can_access_peer(self, device: int, peer: int) -> bool:
        return device == peer or (device, peer) not in self.unreachable


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch) -> FakeMachine:
    fake = FakeMachine()
    monkeypatch.setattr(custom_all_reduce, "_native", lambda: fake)
    return fake


def buffer(count: int = 1000, dtype: str = "float16", ptr: int = 0x10000) -> Buffer:
    return Buffer(ptr, count, dtype, 0)


# float16 elements of a message "auto" gives the one-shot kernel.
AUTO_COUNT = 1000


def test_launch_runs_the_chosen_kernel(machine: FakeMachine) -> None:
    native = FakeBuffer(machine, 0, 0, 2, 8 * MiB)
    comm = Communicator(SimpleNamespace(valid=True))
    custom_all_reduce._states[comm] = available(native=native)
    send, recv = buffer(ptr=0x1000, count=AUTO_COUNT), buffer(ptr=0x9000, count=AUTO_COUNT)
    assert custom_all_reduce.launch(comm, send, recv, "sum", 77, "auto")
    assert custom_all_reduce.launch(comm, send, recv, "sum", 77, "twoshot")
    assert not custom_all_reduce.launch(comm, send, recv, "sum", 77, "nccl")
    assert native.calls == [(0x1000, 0x9000, AUTO_COUNT, 6, 1, 77), (0x1000, 0x9000, AUTO_COUNT, 6, 2, 77)]


def test_fallback_is_logged_once_per_reason(machine: FakeMachine, caplog: pytest.LogCaptureFixture) -> None:
    comm = Communicator(SimpleNamespace(valid=True))
    custom_all_reduce._states[comm] = available(native=FakeBuffer(machine, 0, 0, 2, 8 * MiB))
    with caplog.at_level(logging.INFO, logger="ncclkit.custom_all_reduce"):
        for _ in range(3):
            assert not custom_all_reduce.launch(comm, buffer(), buffer(), "max", 0, "auto")
        assert not custom_all_reduce.launch(comm, buffer(dtype="int32"), buffer(dtype="int32"), "sum", 0, "auto")
        assert not custom_all_reduce.launch(comm, buffer(count=8 * MiB), buffer(count=8 * MiB), "sum", 0, "auto")
    assert [r.getMessage() for r in caplog.records] == [
        "ncclkit custom all-reduce (rank 0 of 2): custom all-reduce sums only (op='sum'), not op='max'; "
        "such all_reduce calls use NCCL",
        "ncclkit custom all-reduce (rank 0 of 2): custom all-reduce sums float16, bfloat16, float32, not int32; "
        "such all_reduce calls use NCCL",
    ]


def stand_in_communicator(monkeypatch: pytest.MonkeyPatch, send: Buffer, recv: Buffer) -> tuple[Communicator, list]:
    """A communicator whose NCCL all_reduce records its call, taking `send` and `recv` for any array."""
    nccl_calls: list[tuple] = []
    handle = SimpleNamespace(valid=True, rank=0, world_size=2, device=0, all_reduce=lambda *a: nccl_calls.append(a))
    comm = Communicator(handle)
    monkeypatch.setattr(comm, "_buffer", lambda obj, name, stream=None: send if name == "sendbuf" else recv)
    monkeypatch.setattr(comm, "_dtype", lambda b: 6)
    monkeypatch.setattr(comm, "_op", lambda op: {"sum": 0, "max": 2}[op])
    return comm, nccl_calls


def test_communicator_all_reduce_routes_by_algorithm(machine: FakeMachine, monkeypatch: pytest.MonkeyPatch) -> None:
    send, recv = buffer(ptr=0x1000, count=AUTO_COUNT), buffer(ptr=0x9000, count=AUTO_COUNT)
    comm, nccl_calls = stand_in_communicator(monkeypatch, send, recv)
    comm.all_reduce("x", "y", stream=5)  # not set up: NCCL
    native = FakeBuffer(machine, 0, 0, 2, 8 * MiB)
    custom_all_reduce._states[comm] = available(native=native)
    comm.all_reduce("x", "y", stream=5)
    comm.all_reduce("x", "y", stream=5, algorithm="nccl")
    comm.all_reduce("x", "y", op="max", stream=5)
    comm.all_reduce("x", "y", stream=5, algorithm="twoshot")
    assert native.calls == [(0x1000, 0x9000, AUTO_COUNT, 6, 1, 5), (0x1000, 0x9000, AUTO_COUNT, 6, 2, 5)]
    assert nccl_calls == [
        (0x1000, 0x9000, AUTO_COUNT, 6, 0, 5),
        (0x1000, 0x9000, AUTO_COUNT, 6, 0, 5),
        (0x1000, 0x9000, AUTO_COUNT, 6, 2, 5),
    ]
    with pytest.raises(ValueError, match="^algorithm must be one of"):
        comm.all_reduce("x", "y", algorithm="ring")
    with pytest.raises(ValueError, match=r"cannot run: custom all-reduce sums only \(op='sum'\), not op='max'"):
        comm.all_reduce("x", "y", op="max", algorithm="oneshot")


# -- setup: every rank's decision, through a store ---------------------------------------------
class ThreadStore:
    """A store for ranks that are threads of this process: get() waits for the key, as torch's do."""

    def __init__(self) -> None:
        self._values: dict[str, bytes] = {}
        self._changed = threading.Condition()

    def set(self, key: str, value: str | bytes) -> None:
        with self._changed:
            self._values[key] = value.encode() if isinstance(value, str) else value
            self._changed.notify_all()

    def get(self, key: str) -> bytes:
        with self._changed:
            if not self._changed.wait_for(lambda: key in self._values, timeout=30):
                raise TimeoutError(key)
            return self._values[key]


def run_ranks(
    monkeypatch: pytest.MonkeyPatch,
    world_size: int,
    connect: Callable[[int], CustomAllReduce],
    hosts: list[str] | None = None,
    pids: list[int] | None = None,
) -> list[CustomAllReduce]:
    """connect(rank) on one thread per rank; each rank sees its own host and pid (by default, one
    host and one process per rank, as under torchrun)."""
    where = threading.local()
    monkeypatch.setattr(custom_all_reduce, "_process", lambda: {"host": where.host, "pid": where.pid})
    results: dict[int, CustomAllReduce | BaseException] = {}

    def rank_main(rank: int) -> None:
        where.host = (hosts or ["node0"] * world_size)[rank]
        where.pid = (pids or [1000 + r for r in range(world_size)])[rank]
        try:
            results[rank] = connect(rank)
        except BaseException as error:  # noqa: BLE001 (re-raised below, on the test's thread)
            results[rank] = error

    threads = [threading.Thread(target=rank_main, args=(r,)) for r in reversed(range(world_size))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for rank in range(world_size):
        if isinstance(results.get(rank), BaseException):
            raise results[rank]
    return [results[rank] for rank in range(world_size)]


def connect_all(monkeypatch: pytest.MonkeyPatch, world_size: int, **where: list) -> list[CustomAllReduce]:
    store = ThreadStore()
    return run_ranks(
        monkeypatch,
        world_size,
        lambda r: custom_all_reduce.connect(r, world_size, r, store=store, max_bytes=MiB, key="test"),
        **where,
    )


def test_ranks_map_each_others_buffers_in_rank_order(machine: FakeMachine, monkeypatch: pytest.MonkeyPatch) -> None:
    machine.multiprocessors = [132, 30]  # the grid is the same on every rank: the fewest SMs, at most 36
    states = connect_all(monkeypatch, 2)
    assert [(s.rank, s.available, s.reason, s.max_bytes) for s in states] == [
        (0, True, None, MiB),
        (1, True, None, MiB),
    ]
    handles = [bytes([0]) * 64, bytes([1]) * 64]
    assert [s.native.mapped for s in states] == [(handles, 30), (handles, 30)]


@pytest.mark.parametrize(
    ("breakage", "where", "reason"),
    [
        (
            lambda m: m.unreachable.add((1, 0)),  # only rank 1 sees the problem; rank 0 must not go ahead
            {},
            "rank 1's cuda:1 (0000:19:00.0) cannot reach rank 0's GPU (0000:18:00.0) peer to peer "
            "(cudaDeviceCanAccessPeer)",
        ),
        (
            lambda m: setattr(m, "visible", 1),
            {},
            "rank 1's GPU (0000:19:00.0) is not visible in rank 0's process (CUDA_VISIBLE_DEVICES?)",
        ),
        (
            lambda m: None,
            {"hosts": ["node0", "node1"]},
            "ranks 0 and 1 are on different hosts (node0, node1): custom all-reduce is for one node",
        ),
        (
            lambda m: None,
            {"pids": [7, 7]},
            "ranks 0 and 1 are in one process, where CUDA IPC cannot map a buffer: use setup_all() for the "
            "communicators of Communicator.init_all()",
        ),
        (
            lambda m: m.out_of_memory.add(1),
            {},
            "rank 1 could not allocate its 1048576-byte buffer on cuda:1: cudaMalloc(...) failed: out of memory "
            "(cudaErrorMemoryAllocation, 2)",
        ),
        (
            lambda m: m.cannot_map.add(1),
            {},
            "rank 1 could not map the other ranks' buffers: cudaIpcOpenMemHandle(&mapped, handle, "
            "cudaIpcMemLazyEnablePeerAccess) failed: invalid argument",
        ),
    ],
    ids=["no-peer-access", "gpu-not-visible", "two-hosts", "one-process", "out-of-memory", "mapping-fails"],
)
def test_any_rank_unable_makes_every_rank_fall_back_once(
    machine: FakeMachine,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    breakage: Callable[[FakeMachine], None],
    where: dict,
    reason: str,
) -> None:
    breakage(machine)
    with caplog.at_level(logging.INFO, logger="ncclkit.custom_all_reduce"):
        states = connect_all(monkeypatch, 2, **where)
    assert [(s.available, s.reason) for s in states] == [(False, reason), (False, reason)]
    messages = sorted(r.getMessage() for r in caplog.records)
    assert messages == [
        f"ncclkit custom all-reduce (rank {r} of 2): unavailable, all_reduce stays with NCCL: {reason}" for r in (0, 1)
    ]
    assert all(r.levelno == logging.WARNING for r in caplog.records)


def test_ranks_must_agree_on_max_bytes(machine: FakeMachine, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ThreadStore()
    states = run_ranks(
        monkeypatch, 2, lambda r: custom_all_reduce.connect(r, 2, r, store=store, max_bytes=(r + 1) * MiB, key="test")
    )
    reason = f"ranks 0 and 1 asked for buffers of {MiB} and {2 * MiB} bytes: every rank must pass the same max_bytes"
    assert [(s.available, s.reason) for s in states] == [(False, reason), (False, reason)]


def test_a_rocm_build_says_custom_all_reduce_is_cuda_only(monkeypatch: pytest.MonkeyPatch) -> None:
    rocm = SimpleNamespace(DTYPES={"float16": 6})  # _comm of NCCLKIT_NCCL=rccl: no CustomAllReduce
    monkeypatch.setattr(custom_all_reduce, "_native", lambda: rocm)
    (state,) = connect_all(monkeypatch, 1)
    assert state.reason == "custom all-reduce is CUDA-only, and this ncclkit was built against RCCL"
    with pytest.raises(RuntimeError, match="^algorithm='oneshot' cannot run: custom all-reduce is CUDA-only"):
        plan(state, "oneshot", dtype="float16", op="sum", nbytes=2)


def test_more_than_eight_ranks_are_refused(machine: FakeMachine, monkeypatch: pytest.MonkeyPatch) -> None:
    machine.multiprocessors = [132] * 9
    machine.visible = 9
    states = connect_all(monkeypatch, 9)
    assert {s.reason for s in states} == {"custom all-reduce supports up to 8 ranks on one node, not 9"}
    assert machine.made == []


def test_the_exchange_goes_through_a_tcp_store(machine: FakeMachine, monkeypatch: pytest.MonkeyPatch) -> None:
    torch_distributed = pytest.importorskip("torch.distributed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = torch_distributed.TCPStore("127.0.0.1", port, 2, is_master=True, wait_for_workers=False)

    def rank_main(rank: int) -> CustomAllReduce:
        store = server if rank == 0 else torch_distributed.TCPStore("127.0.0.1", port, 2, is_master=False)
        return custom_all_reduce.connect(rank, 2, rank, store=store, max_bytes=MiB)

    states = run_ranks(monkeypatch, 2, rank_main)
    assert [s.available for s in states] == [True, True]
    assert states[0].native.mapped == states[1].native.mapped == ([bytes([0]) * 64, bytes([1]) * 64], 36)


def test_each_connect_of_a_rank_is_its_own_exchange(machine: FakeMachine, monkeypatch: pytest.MonkeyPatch) -> None:
    machine.multiprocessors = [132, 132, 20]
    machine.visible = 3
    store = ThreadStore()
    states = run_ranks(
        monkeypatch,
        2,
        lambda r: [custom_all_reduce.connect(r, 2, r + first, store=store, max_bytes=MiB) for first in (0, 1)],
    )
    # The second exchange (devices 1 and 2) agrees on 20 blocks; reading the first's entries, it would take 36.
    assert [[s.native.mapped[1] for s in per_rank] for per_rank in states] == [[36, 20], [36, 20]]


def test_several_ranks_need_a_store_outside_torchrun(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match=r"of 2 ranks exchanges its buffers through a store: pass store="):
        custom_all_reduce.connect(0, 2, 0)


@pytest.mark.parametrize("max_bytes", [0, -16, 100, 2**31 + 16, 2**63])
def test_max_bytes_is_a_bounded_positive_multiple_of_16(max_bytes: int) -> None:
    with pytest.raises(
        ValueError,
        match=rf"^max_bytes must be a positive multiple of 16 of at most 2147483648 \(2 GiB\), got {max_bytes}$",
    ):
        custom_all_reduce.connect(0, 1, 0, max_bytes=max_bytes)


@pytest.mark.parametrize("max_bytes", [1.5, "8MiB", True])
def test_max_bytes_is_an_int(max_bytes: Any) -> None:
    with pytest.raises(TypeError, match="^max_bytes must be an int, got "):
        custom_all_reduce.connect(0, 1, 0, max_bytes=max_bytes)


def test_the_bound_is_the_native_one() -> None:
    from ncclkit import _comm

    assert custom_all_reduce.MAX_BYTES == _comm.CUSTOM_ALL_REDUCE_MAX_BYTES


@pytest.mark.parametrize("max_bytes", [2**31 + 16, 2**63])
def test_the_native_buffer_refuses_an_unbounded_size(max_bytes: int) -> None:
    """Checked before any CUDA call, so without a GPU too."""
    from ncclkit import _comm

    with pytest.raises(ValueError, match="^max_bytes must be a positive multiple of 16 of at most 2147483648, got"):
        _comm.CustomAllReduce(0, 0, 1, max_bytes)


# -- setup_all: the communicators of one process -----------------------------------------------
def in_process(ranks: list[int], devices: list[int] | None = None) -> list[Communicator]:
    devices = devices if devices is not None else ranks
    return [
        Communicator(SimpleNamespace(valid=True, rank=r, world_size=len(ranks), device=d))
        for r, d in zip(ranks, devices)
    ]


def test_setup_all_shares_buffers_by_peer_access(machine: FakeMachine) -> None:
    comms = in_process([1, 0])  # any order: the buffers and devices are passed in rank order
    states = custom_all_reduce.setup_all(comms, max_bytes=MiB)
    assert [(s.rank, s.device, s.available) for s in states] == [(1, 1, True), (0, 0, True)]
    assert [custom_all_reduce.get(c) for c in comms] == states
    by_rank = sorted(machine.made, key=lambda b: b.rank)
    expected = ([b.buffer for b in by_rank], [0, 1], 36)
    assert [b.mapped for b in machine.made] == [expected, expected]


def test_setup_all_without_peer_access_falls_back_once(machine: FakeMachine, caplog: pytest.LogCaptureFixture) -> None:
    machine.unreachable.add((0, 1))
    with caplog.at_level(logging.INFO, logger="ncclkit.custom_all_reduce"):
        states = custom_all_reduce.setup_all(in_process([0, 1]), max_bytes=MiB)
    reason = "cuda:0 cannot reach cuda:1 peer to peer (cudaDeviceCanAccessPeer)"
    assert [(s.available, s.reason) for s in states] == [(False, reason), (False, reason)]
    assert [r.getMessage() for r in caplog.records] == [
        f"ncclkit custom all-reduce (rank 0 of 2): unavailable, all_reduce stays with NCCL: {reason}"
    ]


def test_setup_all_needs_every_rank_once(machine: FakeMachine) -> None:
    comms = in_process([0, 1, 2])
    with pytest.raises(ValueError, match=r"^setup_all needs every rank of one communicator once, got ranks \[0, 2\]$"):
        custom_all_reduce.setup_all([comms[0], comms[2]])
