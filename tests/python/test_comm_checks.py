"""Communicator's checks of its buffers, without a GPU: a stand-in handle records what would reach
NCCL, and the arrays are Buffers already (what as_buffer makes of them)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from ncclkit import Communicator
from ncclkit.buffers import Buffer

BASE = 0x7F0000000000


def buffer(offset: int, count: int, *, readonly: bool = False) -> Buffer:
    """float32 elements, `offset` elements into one allocation."""
    return Buffer(BASE + 4 * offset, count, "float32", 0, None, readonly)


@pytest.fixture
def comm(monkeypatch: pytest.MonkeyPatch) -> tuple[Communicator, list[str]]:
    """Rank 1 of 2, on device 0; the list gets the name of each collective that reached NCCL."""
    called: list[str] = []
    names = ["all_reduce", "broadcast", "reduce", "all_gather", "reduce_scatter", "all_to_all", "send", "recv"]
    handle = SimpleNamespace(valid=True, rank=1, world_size=2, device=0)
    for name in names:
        setattr(handle, name, lambda *args, name=name: called.append(name))
    communicator = Communicator(handle)
    monkeypatch.setattr(communicator, "_buffer", lambda obj, name, stream=None: obj)
    monkeypatch.setattr(communicator, "_dtype", lambda b: 7)
    monkeypatch.setattr(communicator, "_op", lambda op: 0)
    return communicator, called


def test_read_only_outputs(comm: tuple[Communicator, list[str]]) -> None:
    c, called = comm
    with pytest.raises(ValueError, match=r"^recvbuf is read-only \(its producer says so\)"):
        c.all_reduce(buffer(0, 8), buffer(8, 8, readonly=True))
    with pytest.raises(ValueError, match=r"^sendbuf \(written in place: recvbuf is None\) is read-only"):
        c.all_reduce(buffer(0, 8, readonly=True))
    with pytest.raises(ValueError, match="^buf is read-only"):
        c.recv(buffer(0, 8, readonly=True), 0)
    c.all_reduce(buffer(0, 8, readonly=True), buffer(8, 8))
    c.send(buffer(0, 8, readonly=True), 0)
    assert called == ["all_reduce", "send"]


@pytest.mark.parametrize("method", ["all_reduce", "broadcast", "reduce"])
def test_same_shape_collectives_take_the_same_buffer_or_another(comm, method: str) -> None:
    c, called = comm
    with pytest.raises(ValueError, match=r"^recvbuf overlaps sendbuf \(in place, they must be the same buffer\)$"):
        getattr(c, method)(buffer(0, 8), buffer(4, 8))
    getattr(c, method)(buffer(0, 8), buffer(0, 8))
    getattr(c, method)(buffer(0, 8), buffer(8, 8))
    assert called == [method, method]


def test_all_gather_in_place_is_sendbuf_at_block_rank(comm) -> None:
    c, called = comm
    c.all_gather(buffer(4, 4), buffer(0, 8))  # rank 1: its block starts 4 elements in
    c.all_gather(buffer(8, 4), buffer(0, 8))
    with pytest.raises(ValueError, match=r"^recvbuf overlaps sendbuf \(in place, sendbuf must start 16 bytes into"):
        c.all_gather(buffer(0, 4), buffer(0, 8))
    assert called == ["all_gather", "all_gather"]


def test_reduce_scatter_in_place_is_recvbuf_at_block_rank(comm) -> None:
    c, called = comm
    c.reduce_scatter(buffer(0, 8), buffer(4, 4))
    c.reduce_scatter(buffer(0, 8), buffer(8, 4))
    with pytest.raises(ValueError, match=r"^recvbuf overlaps sendbuf \(in place, recvbuf must start 16 bytes into"):
        c.reduce_scatter(buffer(0, 8), buffer(2, 4))
    assert called == ["reduce_scatter", "reduce_scatter"]


def test_all_to_all_takes_no_overlap(comm) -> None:
    c, called = comm
    with pytest.raises(ValueError, match=r"^recvbuf overlaps sendbuf \(this collective has no in-place form\)$"):
        c.all_to_all(buffer(0, 8), buffer(0, 8))
    with pytest.raises(ValueError, match="^all_to_all needs a recvbuf distinct from sendbuf$"):
        c.all_to_all(buffer(0, 8), None)
    c.all_to_all(buffer(0, 8), buffer(8, 8))
    assert called == ["all_to_all"]


def test_empty_buffers_overlap_nothing(comm) -> None:
    c, called = comm
    c.all_reduce(buffer(0, 0), buffer(0, 0))
    c.all_to_all(buffer(0, 0), buffer(0, 0))
    assert called == ["all_reduce", "all_to_all"]


# Arguments of the wrong type or size: the exception names the argument, before NCCL or CUDA.


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"world_size": 2.0}, TypeError, r"^world_size must be an int, got float 2\.0$"),
        ({"world_size": 2**40}, ValueError, r"^world_size must be in \[1, 2147483647\], got 1099511627776$"),
        ({"world_size": 0}, ValueError, r"^world_size must be in \[1, 2147483647\], got 0$"),
        ({"rank": 0.0}, TypeError, r"^rank must be an int, got float 0\.0$"),
        ({"rank": True}, TypeError, r"^rank must be an int, got bool True$"),
        ({"rank": 3}, ValueError, r"^rank 3 is out of range for world_size 2$"),
        ({"device": 0.0}, TypeError, r"^device must be an int, got float 0\.0$"),
        ({"blocking": "yes"}, TypeError, r"^config field blocking must be True or False, got str 'yes'$"),
        ({"min_ctas": 1.5}, TypeError, r"^config field min_ctas must be an int, got float 1\.5$"),
        ({"max_ctas": 0}, ValueError, r"^config field max_ctas must be in \[1, 2147483647\], got 0$"),
        ({"net_name": 5}, TypeError, r"^config field net_name must be a str, got int 5$"),
        ({"cta_policy": "fast"}, ValueError, r"^config field cta_policy must be one of default, efficiency, zero"),
        ({"host_cft_mode": 1.0}, TypeError, r"^config field host_cft_mode must be one of enable, disable, fall"),
        ({"comm_name": "a\0b"}, ValueError, r"^config field comm_name must not hold a NUL character$"),
        ({"min_cta": 1}, TypeError, r"^init_rank got unknown config field\(s\) 'min_cta'; NCCL's are: blocking, "),
        ({"unique_id": []}, TypeError, r"^unique_id must be a ncclkit\.UniqueId or a non-empty sequence of them"),
        ({"unique_id": [b"x"]}, TypeError, r"^unique_id must be .* sequence of them, got a bytes among them$"),
        ({"timeout": "5"}, TypeError, r"^timeout must be a number of seconds or None, got str '5'$"),
        ({"timeout": 0, "blocking": False}, ValueError, r"^timeout must be a positive, finite number of seconds"),
        ({"timeout": float("nan"), "blocking": False}, ValueError, r"^timeout must be a positive, finite number"),
        ({"timeout": 5.0}, ValueError, r"^timeout needs blocking=False: a blocking communicator waits inside NCCL"),
    ],
)
def test_init_rank_arguments(change: dict, error: type[Exception], message: str) -> None:
    from ncclkit import UniqueId, _comm

    args = {"world_size": 2, "unique_id": UniqueId(bytes(_comm.UNIQUE_ID_BYTES)), "rank": 0, "device": 0, **change}
    with pytest.raises(error, match=message):
        Communicator.init_rank(args.pop("world_size"), args.pop("unique_id"), args.pop("rank"), **args)


def test_a_unique_id_serves_one_communicator_per_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    from ncclkit import UniqueId, _comm, comm

    made: list[tuple] = []

    class StandIn:
        @staticmethod
        def init_rank(*args: object, **config: object) -> SimpleNamespace:
            made.append(args[:3])
            return SimpleNamespace(valid=True, timeout=None)

    monkeypatch.setattr(comm, "check_device", lambda device: None)
    monkeypatch.setattr(comm, "_claimed", set())
    monkeypatch.setattr(comm._nccl(), "Comm", StandIn)
    uid = UniqueId(bytes(range(_comm.UNIQUE_ID_BYTES)))
    Communicator.init_rank(2, uid, 0, device=0)
    Communicator.init_rank(2, uid, 1, device=0)  # the other rank, in this process: allowed
    with pytest.raises(
        ValueError, match=r"^unique_id UniqueId\(0001020304050607\.\.\.\) was already used by this process for rank 0"
    ):
        Communicator.init_rank(2, uid, 0, device=0)
    assert [rank for _, _, rank in made] == [0, 1]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda c: c.broadcast(buffer(0, 8), root=1.0), TypeError, r"^root must be an int, got float 1\.0$"),
        (lambda c: c.send(buffer(0, 8), "0"), TypeError, r"^peer must be an int, got str '0'$"),
        (lambda c: c.all_reduce(buffer(0, 8), stream=-1), ValueError, r"^stream must be in \[0, \d+\], got -1$"),
        (lambda c: c.all_reduce(buffer(0, 8), stream=2**64), ValueError, r"^stream must be in \[0, \d+\], got"),
        (lambda c: c.all_reduce(buffer(0, 8), stream=True), TypeError, r"^stream must be an int, got bool True$"),
        (lambda c: c.all_reduce(buffer(0, 8), stream=1.5), TypeError, r"^stream must be an int handle, a torch"),
    ],
)
def test_collective_arguments(comm, call, error: type[Exception], message: str) -> None:
    c, called = comm
    with pytest.raises(error, match=message):
        call(c)
    assert called == []


@pytest.mark.parametrize("op", [[], None, 0])
def test_an_op_that_is_no_name(comm, op) -> None:
    c, _ = comm
    c._op = Communicator._op.__get__(c)  # the real lookup, not the stand-in's
    with pytest.raises(TypeError, match=r"^op must be a str, one of .*, got "):
        c.all_reduce(buffer(0, 8), op=op)


class Index:
    """An integer of another type, as numpy's are: it has __index__."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value


def test_integers_of_other_types_are_ints(comm) -> None:
    c, called = comm
    c.broadcast(buffer(0, 8), root=Index(1))
    c.send(buffer(0, 8), Index(0))
    assert called == ["broadcast", "send"]


def test_a_call_on_another_stream_waits_for_the_producer_s(comm, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CUDA array interface's stream holds the producer's pending work: a call on it needs no
    wait, a call on any other stream waits for it first (an event), for sendbuf and recvbuf alike."""
    from ncclkit import comm as comm_module

    c, called = comm
    waits: list[tuple[int, int, int]] = []
    monkeypatch.setattr(comm_module, "_cuda", lambda: SimpleNamespace(stream_wait=lambda *a: waits.append(a)))
    streams: list[int] = []
    c._handle.all_reduce = lambda send, recv, count, dtype, op, stream: streams.append(stream)
    produced = Buffer(BASE, 8, "float32", 0, 0x10, False, True)
    current = Buffer(BASE + 64, 8, "float32", 0, 0x30)  # torch's current stream: no producer's work

    c.all_reduce(produced, buffer(8, 8))
    c.all_reduce(produced, buffer(8, 8), stream=0x20)
    c.all_reduce(current, produced._replace(ptr=BASE + 128))
    assert streams == [0x10, 0x20, 0x30]
    assert waits == [(0x20, 0x10, 0), (0x30, 0x10, 0)]


def test_a_forked_child_is_refused_before_any_cuda_call(comm) -> None:
    import os

    c, called = comm
    pid = os.fork()
    if pid == 0:  # the child: exit status 0 only for the fork error
        try:
            c.all_reduce(buffer(0, 8))
        except RuntimeError as e:
            os._exit(0 if str(e).startswith("this communicator was made before fork(), in the parent") else 1)
        os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    c.all_reduce(buffer(0, 8))  # the parent's is still its own
    assert called == ["all_reduce"]
