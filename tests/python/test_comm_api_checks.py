"""The checks of gather, scatter, the uneven collectives, windows and the one-sided calls, without
a GPU: a stand-in handle records what would reach NCCL, and the arrays are Buffers already."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from ncclkit import Communicator, Window, premul_sum
from ncclkit.buffers import Buffer

BASE = 0x7F0000000000
NAMES = [
    "gather",
    "scatter",
    "all_gather_v",
    "reduce_scatter_v",
    "all_to_all_v",
    "all_reduce",
    "all_reduce_with",
    "register_window",
    "deregister_window",
    "put_signal",
    "signal",
    "wait_signal",
    "split",
    "shrink",
    "grow",
    "grow_unique_id",
]


def buffer(offset: int, count: int, dtype: str = "float32") -> Buffer:
    """`count` elements, `offset` float32 elements into one allocation."""
    return Buffer(BASE + 4 * offset, count, dtype, 0)


@pytest.fixture
def comm(monkeypatch: pytest.MonkeyPatch) -> tuple[Communicator, list[tuple]]:
    """Rank 1 of 3, on device 0; the list gets (name, args) of each call that reached the bindings."""
    called: list[tuple] = []
    handle = SimpleNamespace(valid=True, rank=1, world_size=3, device=0)
    for name in NAMES:
        setattr(handle, name, lambda *args, name=name: called.append((name, args)) or 0x5000)
    communicator = Communicator(handle)
    monkeypatch.setattr(communicator, "_buffer", lambda obj, name, stream=None: obj)
    monkeypatch.setattr(communicator, "_dtype", lambda b: 7)
    return communicator, called


def test_gather_takes_a_recvbuf_on_the_root_alone(comm) -> None:
    c, called = comm
    c.gather(buffer(0, 4), None, root=0)
    c.gather(buffer(4, 4), buffer(0, 12), root=1)  # in place: sendbuf is block 1 of recvbuf
    with pytest.raises(ValueError, match=r"^recvbuf is the root's \(rank 2\) alone: pass None on rank 1$"):
        c.gather(buffer(0, 4), buffer(8, 12), root=2)
    with pytest.raises(ValueError, match=r"^gather needs a recvbuf on the root \(rank 1\)$"):
        c.gather(buffer(0, 4), root=1)
    with pytest.raises(ValueError, match="^recvbuf has 8 elements, expected 12$"):
        c.gather(buffer(0, 4), buffer(8, 8), root=1)
    assert [(name, args[2], args[4]) for name, args in called] == [("gather", 4, 0), ("gather", 4, 1)]


def test_scatter_takes_a_sendbuf_on_the_root_alone(comm) -> None:
    c, called = comm
    c.scatter(None, buffer(0, 4), root=0)
    c.scatter(buffer(0, 12), buffer(4, 4), root=1)  # in place: recvbuf is block 1 of sendbuf
    with pytest.raises(ValueError, match=r"^sendbuf is the root's \(rank 0\) alone: pass None on rank 1$"):
        c.scatter(buffer(0, 12), buffer(12, 4), root=0)
    with pytest.raises(ValueError, match="^sendbuf has 10 elements, not a multiple of world_size 3$"):
        c.scatter(buffer(0, 10), buffer(12, 4), root=1)
    with pytest.raises(ValueError, match=r"^scatter needs a recvbuf$"):
        c.scatter(buffer(0, 12), None, root=1)
    assert [(name, args[2]) for name, args in called] == [("scatter", 4), ("scatter", 4)]


def test_uneven_collectives_check_counts_against_their_buffers(comm) -> None:
    c, called = comm
    c.all_gather_v(buffer(0, 5), buffer(8, 10), [2, 5, 3])
    c.all_gather_v(buffer(2, 5), buffer(0, 10), [2, 5, 3])  # in place: after rank 0's two
    c.reduce_scatter_v(buffer(0, 10), buffer(16, 5), [2, 5, 3], op="max")
    c.all_to_all_v(buffer(0, 6), buffer(8, 4), [1, 2, 3], [0, 4, 0])
    with pytest.raises(ValueError, match=r"^sendbuf has 4 elements, and counts\[1\] is 5$"):
        c.all_gather_v(buffer(0, 4), buffer(8, 10), [2, 5, 3])
    with pytest.raises(ValueError, match=r"^counts must have one count per rank \(3\), got 2$"):
        c.all_gather_v(buffer(0, 5), buffer(8, 10), [5, 5])
    with pytest.raises(ValueError, match=r"^counts\[2\] must be in \[0, \d+\], got -1$"):
        c.reduce_scatter_v(buffer(0, 10), buffer(16, 5), [6, 5, -1])
    with pytest.raises(TypeError, match="^counts must be a sequence of 3 ints, got int$"):
        c.reduce_scatter_v(buffer(0, 10), buffer(16, 5), 5)
    with pytest.raises(ValueError, match=r"^sendbuf has 6 elements, and sum\(send_counts\) is 7$"):
        c.all_to_all_v(buffer(0, 6), buffer(8, 4), [1, 3, 3], [0, 4, 0])
    with pytest.raises(ValueError, match=r"^recvbuf overlaps sendbuf \(this collective has no in-place form\)$"):
        c.all_to_all_v(buffer(0, 6), buffer(2, 4), [1, 2, 3], [0, 4, 0])
    assert [name for name, _ in called] == ["all_gather_v", "all_gather_v", "reduce_scatter_v", "all_to_all_v"]
    assert called[3][1][1] == [1, 2, 3] and called[3][1][3] == [0, 4, 0]


def test_a_premul_sum_or_a_config_takes_the_full_binding(comm, monkeypatch: pytest.MonkeyPatch) -> None:
    from ncclkit import comm as comm_module

    c, called = comm
    fake = SimpleNamespace(
        DTYPES={"float32": 7},
        OPS={"sum": 0},
        PreMulSum=SimpleNamespace(on_host=lambda scalar, dtype: ("premul", scalar, dtype)),
    )
    monkeypatch.setattr(comm_module, "_nccl", lambda: fake)
    c.all_reduce(buffer(0, 4), op=premul_sum(0.5))
    (name, args), *_ = called
    assert name == "all_reduce_with"
    assert args[4] == ("premul", b"\x00\x00\x00?", 7)
    with pytest.raises(
        TypeError, match="^config must be a ncclkit.CollectiveConfig, a dict of its fields or None, got"
    ):
        c.all_reduce(buffer(0, 4), config=[("max_ctas", 2)])


def test_window_flags_by_name(comm, monkeypatch: pytest.MonkeyPatch) -> None:
    from ncclkit import comm as comm_module

    c, called = comm
    monkeypatch.setattr(
        comm_module, "_nccl", lambda: SimpleNamespace(WINDOW_FLAGS={"coll_symmetric": 1, "strict_ordering": 2})
    )
    with c.register_window(buffer(0, 1024), symmetric=True, flags=["strict_ordering"]) as window:
        assert (window.ptr, window.nbytes, window.flags, window.handle) == (BASE, 4096, 3, 0x5000)
    assert not window.registered
    with pytest.raises(ValueError, match="^this window has been deregistered$"):
        window.handle  # noqa: B018
    window.deregister()  # once is enough
    assert [name for name, _ in called] == ["register_window", "deregister_window"]
    with pytest.raises(
        ValueError, match=r"^flags has 'gin_only', and this NCCL header's are coll_symmetric, strict_ord"
    ):
        c.register_window(buffer(0, 8), flags=["gin_only"])
    with pytest.raises(TypeError, match="^flags must be a sequence of names, of coll_symmetric, strict_ordering, got"):
        c.register_window(buffer(0, 8), flags="strict_ordering")
    with pytest.raises(ValueError, match="^buf is empty: a window holds at least one byte$"):
        c.register_window(buffer(0, 0))


def test_one_sided_calls_check_peer_window_and_bounds(comm) -> None:
    c, called = comm
    window = Window(c, 0x5000, None, BASE, 64, 1)  # symmetric: NCCL_WIN_COLL_SYMMETRIC
    c._windows.add(window)
    c.put_signal(buffer(0, 8), 2, window, 32, signal=1)
    c.signal(0, context=1, stream=7)
    c.wait_signal({0: 2, 2: 1})
    with pytest.raises(ValueError, match=r"^offset 40 \+ buf's 32 bytes run past the window's 64$"):
        c.put_signal(buffer(0, 8), 2, window, 40)
    with pytest.raises(TypeError, match="^window must be a Window this communicator registered, got int$"):
        c.put_signal(buffer(0, 8), 2, 0x5000)
    with pytest.raises(ValueError, match=r"^buf must lie inside a symmetric window this communicator registered"):
        c.put_signal(buffer(12, 8), 2, window)  # past the window's 64 bytes
    plain = Window(c, 0x6000, None, BASE + 4096, 64, 0)
    c._windows.add(plain)
    with pytest.raises(ValueError, match=r"^window must be symmetric \(register_window\(\.\.\., symmetric=True\)\)"):
        c.put_signal(buffer(0, 8), 2, plain)
    with pytest.raises(ValueError, match=r"^buf must lie inside a symmetric window"):
        c.put_signal(buffer(1024, 8), 2, window)  # inside the plain window only
    with pytest.raises(ValueError, match=r"^peer 3 is out of range for a communicator of 3 ranks$"):
        c.signal(3)
    with pytest.raises(ValueError, match=r"^counts\[0\] must be in \[1, \d+\], got 0$"):
        c.wait_signal({0: 0})
    with pytest.raises(TypeError, match="^counts must be a non-empty dict of peer -> number of signals, got list$"):
        c.wait_signal([(0, 1)])
    assert called == [
        ("put_signal", (BASE, 8, 7, 2, 0x5000, 32, 1, 0, 0)),
        ("signal", (0, 0, 1, 7)),
        ("wait_signal", ([(0, 2, 0, 0), (2, 1, 0, 0)], 0)),
    ]


def test_children_pass_their_config_or_none(comm) -> None:
    c, called = comm
    c.split(0)
    c.split(1, 5, comm_name="tp", blocking=False)
    c.shrink([0], abort_first=True)
    assert c.shrink([2, 1]) is None  # this rank is left out: NCCL takes no call from it
    c.split(2, comm_name=None)  # unset: as no config at all
    with pytest.raises(TypeError, match=r"^shrink got unknown config field\(s\) 'blockng'"):
        c.shrink([0], blockng=False)
    with pytest.raises(ValueError, match=r"^exclude_ranks has a rank twice: \[0, 0\]$"):
        c.shrink([0, 0])
    with pytest.raises(ValueError, match=r"^exclude_ranks entry 3 is out of range for a communicator of 3 ranks$"):
        c.shrink([3])
    with pytest.raises(ValueError, match=r"^grow needs a world_size above the communicator's 3, got 3$"):
        c.grow(3)
    with pytest.raises(TypeError, match="^unique_id must be a ncclkit.UniqueId or None, got bytes$"):
        c.grow(4, b"x" * 128)
    assert called == [
        ("split", (0, 1, None)),
        ("split", (1, 5, [("comm_name", "tp"), ("blocking", 0)])),
        ("shrink", ([0], True, None)),
        ("split", (2, 1, None)),
    ]


def test_a_simulated_group_reports_the_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    import ncclkit
    from ncclkit import comm as comm_module

    calls: list[str] = []
    fake = SimpleNamespace(
        group_start=lambda simulate: calls.append("simulate start" if simulate else "start"),
        group_end=lambda: calls.append("end"),
        group_simulate_end=lambda: calls.append("simulate") or 12.5,
    )
    monkeypatch.setattr(comm_module, "_nccl", lambda: fake)
    with ncclkit.group(simulate=True) as simulation:
        assert simulation.estimated_us is None
    assert simulation.estimated_us == 12.5
    with ncclkit.group() as nothing:
        assert nothing is None
    with pytest.raises(KeyError), ncclkit.group(simulate=True):
        raise KeyError  # the group still ends, simulated: nothing queued in it runs
    assert calls == ["simulate start", "simulate", "start", "end", "simulate start", "simulate"]
    with pytest.raises(TypeError, match="^simulate must be True or False, got int$"), ncclkit.group(simulate=1):
        pass


def test_a_parameter_is_set_only_where_nccl_then_reports_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """NCCL reads each parameter from the environment once: one read already keeps its value."""
    import os

    import ncclkit
    from ncclkit import comm as comm_module

    values = {"NCCL_ALGO": "", "NCCL_PROTO": ""}
    read = set()

    def parameter(name: str) -> str:
        if name not in values:
            raise ncclkit.NcclError("ncclParamGetParameter", 4, "ncclInvalidArgument", "invalid argument")
        if name not in read and name in os.environ:
            values[name] = os.environ[name]
        read.add(name)
        return values[name]

    monkeypatch.setattr(comm_module, "_nccl", lambda: SimpleNamespace(parameters=dict, parameter=parameter))
    monkeypatch.delenv("NCCL_ALGO", raising=False)
    monkeypatch.setenv("NCCL_PROTO", "Simple")
    ncclkit.set_nccl_parameter("NCCL_ALGO", "Ring")
    assert (ncclkit.nccl_parameter("NCCL_ALGO"), os.environ["NCCL_ALGO"]) == ("Ring", "Ring")
    ncclkit.nccl_parameter("NCCL_PROTO")  # read: NCCL keeps "Simple"
    with pytest.raises(
        RuntimeError, match=r"^NCCL_PROTO='LL' was set in the environment, and NCCL still reports 'Simple'"
    ):
        ncclkit.set_nccl_parameter("NCCL_PROTO", "LL")
    assert os.environ["NCCL_PROTO"] == "Simple"  # put back: the environment says what NCCL has
    with pytest.raises(ncclkit.NcclError, match="^ncclParamGetParameter failed"):
        ncclkit.set_nccl_parameter("NCCL_NO_SUCH", 1)
    assert "NCCL_NO_SUCH" not in os.environ
    with pytest.raises(TypeError, match="^name must be a str, got int 5$"):
        ncclkit.nccl_parameter(5)
    with pytest.raises(TypeError, match="^name must be a str, got NoneType None$"):
        ncclkit.set_nccl_parameter(None, 1)


def test_an_encryption_key_is_a_str() -> None:
    import ncclkit

    for psk in (b"key", "", "a\0b", 5):
        with pytest.raises(TypeError, match="^psk must be a non-empty str without NUL characters, or None, got"):
            ncclkit.set_encryption(psk)
