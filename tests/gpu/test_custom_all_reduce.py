"""The custom all-reduce kernels (ncclkit.custom_all_reduce) on this machine's GPUs, against exact
results: one rank (the result is its input, bit for bit), one communicator per visible GPU in this
process (setup_all), two processes on one GPU mapping each other's buffers through CUDA IPC, and
a CUDA graph replayed on new inputs. Several processes with a GPU each are test_torchrun's."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import ncclkit  # noqa: E402
from ncclkit import _comm, custom_all_reduce  # noqa: E402
from reference import TORCH_DTYPES, assert_matches, poisoned_like, random_input  # noqa: E402

pytestmark = pytest.mark.gpu

DTYPES = ["float16", "bfloat16", "float32"]
ALGORITHMS = ["oneshot", "twoshot", "auto"]
# Packs are 16 bytes (8 half-precision elements, 4 float32): every count but 4096 leaves a tail,
# and 1 and 7 are all tail. One-shot takes its low-latency kernel up to 512 KiB, the barrier
# kernel for the largest.
COUNTS = [1, 7, 1000, 4096, 65536 + 3, (1 << 20) + 5]


@pytest.fixture(scope="module")
def custom() -> Iterator[ncclkit.Communicator]:
    """A one-rank communicator with its custom all-reduce."""
    with ncclkit.Communicator.init_rank(1, ncclkit.UniqueId.generate(), 0, device=0) as comm:
        state = custom_all_reduce.setup(comm)
        assert state.available, state.reason
        yield comm
        torch.cuda.synchronize()
        state.close()


def small_integers(dtype: str, count: int, device: int, seed: int) -> torch.Tensor:
    """Integers in [-8, 8): sums of up to 8 ranks are exact in every dtype here, in any order."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(-8, 8, (count,), generator=generator).to(f"cuda:{device}", TORCH_DTYPES[dtype])


@pytest.mark.parametrize("in_place", [False, True])
@pytest.mark.parametrize("count", COUNTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_one_rank_result_is_its_input(
    custom: ncclkit.Communicator, algorithm: str, dtype: str, count: int, in_place: bool
) -> None:
    x = random_input(dtype, count, custom.device)
    expected = x.clone()
    out = x if in_place else poisoned_like(x)
    custom.all_reduce(x, None if in_place else out, algorithm=algorithm)
    torch.cuda.synchronize()
    assert_matches(out, expected, exact=True)


@pytest.mark.parametrize("algorithm", ["oneshot", "twoshot"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_arrays_that_start_off_the_vector_width(custom: ncclkit.Communicator, algorithm: str, dtype: str) -> None:
    base = random_input(dtype, 5003, custom.device)
    x = base[1:4001]  # 2 or 4 bytes past a 16-byte boundary
    target = poisoned_like(base)
    out = target[3:4003]
    custom.all_reduce(x, out, algorithm=algorithm)
    torch.cuda.synchronize()
    assert_matches(out, x, exact=True)
    assert target[:3].view(torch.uint8).eq(0xFF).all() and target[4003:].view(torch.uint8).eq(0xFF).all()


def test_auto_leaves_to_nccl_what_the_kernels_do_not_do(custom: ncclkit.Communicator) -> None:
    for dtype, op, count in [("int32", "sum", 1000), ("float16", "max", 1000), ("float32", "sum", (8 << 20) // 4 + 4)]:
        x = random_input(dtype, count, custom.device, op)
        out = poisoned_like(x)
        custom.all_reduce(x, out, op=op)
        torch.cuda.synchronize()
        assert_matches(out, x, exact=True)


def test_explicit_algorithm_refuses_what_it_cannot_do(custom: ncclkit.Communicator) -> None:
    cannot = "^algorithm='{}' cannot run: "
    x = random_input("int32", 100, custom.device)
    with pytest.raises(
        ValueError, match=cannot.format("oneshot") + "custom all-reduce sums float16, bfloat16, float32, not int32$"
    ):
        custom.all_reduce(x, algorithm="oneshot")
    y = random_input("float16", 100, custom.device)
    with pytest.raises(
        ValueError, match=cannot.format("twoshot") + r"custom all-reduce sums only \(op='sum'\), not op='max'$"
    ):
        custom.all_reduce(y, op="max", algorithm="twoshot")
    big = random_input("float32", (8 << 20) // 4 + 1, custom.device)
    with pytest.raises(ValueError, match=cannot.format("oneshot") + "8388612 bytes do not fit its 8388608-byte buffer"):
        custom.all_reduce(big, algorithm="oneshot")


def test_explicit_algorithm_without_setup_says_so(comm: ncclkit.Communicator) -> None:
    x = random_input("float16", 100, comm.device)
    with pytest.raises(RuntimeError, match=r"^algorithm='oneshot' needs this communicator's custom all-reduce"):
        comm.all_reduce(x, algorithm="oneshot")


def test_ipc_handle_round_trip_in_one_process(comm: ncclkit.Communicator) -> None:
    buffer = _comm.CustomAllReduce(comm.device, 0, 2, 1 << 20)
    handle = buffer.ipc_handle()
    assert isinstance(handle, bytes) and len(handle) == 64 and any(handle)
    assert buffer.ipc_handle() == handle  # one allocation, one handle
    with pytest.raises(ValueError, match="^rank 1's IPC handle has 5 bytes, not 64$"):
        buffer.open_ipc_handles([handle, b"short"], 1)
    # CUDA maps a handle only in another process; setup() keeps ranks of one process off this path.
    with pytest.raises(RuntimeError, match=r"^cudaIpcOpenMemHandle\(&mapped, handle, .*\) failed"):
        buffer.open_ipc_handles([handle, handle], 1)
    assert not buffer.connected
    # The exchange through a torch store, for one rank: the handle goes out and back, and the kernel runs.
    state = custom_all_reduce.setup(comm, store=torch.distributed.HashStore(), max_bytes=1 << 16)
    assert (state.available, state.max_bytes, state.native.connected) == (True, 1 << 16, True)
    x = random_input("bfloat16", 3000, comm.device)
    out = poisoned_like(x)
    comm.all_reduce(x, out, algorithm="oneshot")
    torch.cuda.synchronize()
    assert_matches(out, x, exact=True)
    state.close()


@pytest.mark.parametrize("in_place", [False, True])
@pytest.mark.parametrize(("algorithm", "count"), [("oneshot", 40_003), ("oneshot", 600_003), ("twoshot", 40_003)])
def test_cuda_graph_replays_on_new_inputs(
    custom: ncclkit.Communicator, algorithm: str, count: int, in_place: bool
) -> None:
    static = torch.zeros(count, dtype=torch.float16, device=f"cuda:{custom.device}")
    out = static if in_place else poisoned_like(static)
    graph = torch.cuda.CUDAGraph()
    stream = torch.cuda.Stream(custom.device)
    stream.wait_stream(torch.cuda.current_stream(custom.device))
    with torch.cuda.stream(stream):
        custom.all_reduce(static, None if in_place else out, algorithm=algorithm)  # warm-up, outside the capture
        with torch.cuda.graph(graph, stream=stream):
            custom.all_reduce(static, None if in_place else out, algorithm=algorithm)
    torch.cuda.current_stream(custom.device).wait_stream(stream)
    for seed in range(3):
        fresh = small_integers("float16", count, custom.device, seed)
        static.copy_(fresh)
        graph.replay()
        torch.cuda.synchronize()
        assert_matches(out, fresh, exact=True)


@pytest.fixture(scope="module")
def in_process(comms: list[ncclkit.Communicator]) -> list[ncclkit.Communicator]:
    """Every visible GPU's communicator, with the custom all-reduce where the GPUs reach each other."""
    states = custom_all_reduce.setup_all(comms)
    devices = [c.device for c in comms]
    reachable = all(_comm.can_access_peer(a, b) for a in devices for b in devices)
    assert [s.available for s in states] == [reachable] * len(comms), states[0].reason
    return comms


def run_everywhere(comms: list[ncclkit.Communicator], dtype: str, count: int, algorithm: str, seed: int) -> None:
    inputs = [small_integers(dtype, count, c.device, seed + c.rank) for c in comms]
    outputs = [poisoned_like(x) for x in inputs]
    expected = torch.stack([x.cpu().double() for x in inputs]).sum(0)
    # One thread drives every GPU: NCCL (which "auto" picks for small messages) needs the calls
    # grouped; a custom kernel waits on its GPU for the others' launch.
    with ncclkit.group():
        for c, x, out in zip(comms, inputs, outputs):
            c.all_reduce(x, out, algorithm=algorithm)
    torch.cuda.synchronize()
    for out in outputs:
        assert_matches(out, expected, exact=True)


@pytest.mark.parametrize("count", [7, 1000, 65536 + 3, (1 << 20) + 5])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_gpu_of_this_process(
    in_process: list[ncclkit.Communicator], algorithm: str, dtype: str, count: int
) -> None:
    if algorithm != "auto" and not custom_all_reduce.get(in_process[0]).available:
        pytest.skip(f"the GPUs do not all reach each other: {custom_all_reduce.get(in_process[0]).reason}")
    run_everywhere(in_process, dtype, count, algorithm, seed=count)


def test_the_ranks_stay_in_step_over_many_calls(in_process: list[ncclkit.Communicator]) -> None:
    """Calls of changing sizes (and so grids) and algorithms, back to back: every block's count
    must advance alike on every rank, and no call may overwrite a buffer another rank still reads."""
    if not custom_all_reduce.get(in_process[0]).available:
        pytest.skip(custom_all_reduce.get(in_process[0]).reason)
    # One-shot at 7 and 20 000 elements takes the low-latency kernel; at 2^19 + 1 (1 MiB), the barrier one.
    shapes = [
        (7, "oneshot"),
        (300_001, "twoshot"),
        (20_000, "oneshot"),
        ((1 << 19) + 1, "oneshot"),
        (3, "twoshot"),
        (1 << 21, "twoshot"),
    ]
    inputs = {
        (count, c.rank): small_integers("bfloat16", count, c.device, count + c.rank)
        for count, _ in shapes
        for c in in_process
    }
    outputs = {}
    for _ in range(40):
        for count, algorithm in shapes:
            for c in in_process:
                x = inputs[(count, c.rank)]
                outputs[(count, c.rank)] = out = poisoned_like(x)
                c.all_reduce(x, out, algorithm=algorithm)
    torch.cuda.synchronize()
    for count, _ in shapes:
        expected = torch.stack([inputs[(count, c.rank)].cpu().double() for c in in_process]).sum(0)
        for c in in_process:
            assert_matches(outputs[(count, c.rank)], expected, exact=True)


TWO_PROCESSES = textwrap.dedent(
    """
    import json, sys
    import torch
    from ncclkit import custom_all_reduce

    rank, path = int(sys.argv[1]), sys.argv[2]
    store = torch.distributed.FileStore(path, 2)
    torch.cuda.set_device(0)
    state = custom_all_reduce.connect(rank, 2, 0, store=store, max_bytes=1 << 20, key="one-gpu")
    results = {"available": state.available, "reason": state.reason}
    if state.available:
        stream = torch.cuda.current_stream().cuda_stream
        codes = {"float16": 6, "float32": 7}
        for algorithm in ("oneshot", "twoshot"):
            for dtype, count in (("float16", 4099), ("float32", 100_003)):
                def mine(r):
                    g = torch.Generator().manual_seed(100 * r + count)
                    return torch.randint(-8, 8, (count,), generator=g).to(getattr(torch, dtype))
                x = mine(rank).cuda()
                out = torch.full_like(x, float("nan"))
                state.native.all_reduce(
                    x.data_ptr(), out.data_ptr(), count, codes[dtype],
                    custom_all_reduce._native().CUSTOM_ALL_REDUCE_ALGORITHMS[algorithm], stream,
                )
                torch.cuda.synchronize()
                results[f"{algorithm}_{dtype}"] = torch.equal(out.cpu(), mine(0) + mine(1))
    store.set(f"done/{rank}", "1")  # neither frees its buffer while the other may still read it
    store.get(f"done/{1 - rank}")
    print("RESULT " + json.dumps(results))
    """
)


def test_two_processes_on_one_gpu_map_each_other_through_ipc(tmp_path: Path) -> None:
    """The IPC path for real on a one-GPU machine: two processes on cuda:0 (no NCCL communicator,
    which refuses two ranks on one GPU) connect through a FileStore and reduce. Their kernels take
    turns on the GPU, so each barrier can wait for a time slice: slow, and few calls."""
    assert _comm.DTYPES["float16"] == 6 and _comm.DTYPES["float32"] == 7
    store = tmp_path / "store"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", TWO_PROCESSES, str(rank), str(store)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    outputs = [proc.communicate(timeout=300) for proc in procs]
    for proc, (stdout, stderr) in zip(procs, outputs):
        assert proc.returncode == 0, stdout + stderr
    results = [json.loads(out.split("RESULT ", 1)[1]) for out, _ in outputs]
    expected = {"available": True, "reason": None} | dict.fromkeys(
        ["oneshot_float16", "oneshot_float32", "twoshot_float16", "twoshot_float32"], True
    )
    assert results == [expected, expected]
