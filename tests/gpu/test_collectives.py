"""Every collective, dtype and op, on one rank and on every GPU of this machine, against exact
expected results computed by torch."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import pytest

torch = pytest.importorskip("torch")

import ncclkit  # noqa: E402
from collective_matrix import COUNT, Case, cases, enqueue, every_rank_input, verify  # noqa: E402
from reference import DTYPES, OPS, assert_matches, poisoned_like, random_input, reduce, run_collective  # noqa: E402

pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("in_place", [False, True])
@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_all_reduce_one_rank(comm: ncclkit.Communicator, dtype: str, op: str, in_place: bool) -> None:
    x = random_input(dtype, COUNT, comm.device, op)
    expected = reduce([x], op)
    out = x if in_place else poisoned_like(x)
    run_collective(dtype, op, lambda: comm.all_reduce(x, None if in_place else out, op=op))
    torch.cuda.synchronize()
    assert_matches(out, expected, exact=True)


@pytest.mark.parametrize("in_place", [False, True])
@pytest.mark.parametrize("op", OPS)
def test_one_rank_on_a_gpu_that_is_not_current(op: str, in_place: bool) -> None:
    """Collectives leave the device to NCCL, which makes the communicator's current for its launches
    but not, with one rank, for avg's kernel or for a copy on the default stream (handle 0, which
    names the current device's): ncclkit makes it current for those. The input is written on the
    communicator's GPU after a sleep there, so work run on the other GPU would read it too early."""
    if torch.cuda.device_count() < 2:
        pytest.skip("needs 2 GPUs: a communicator on one while the other is current")
    device = torch.cuda.device_count() - 1
    with ncclkit.Communicator.init_rank(1, ncclkit.UniqueId.generate(), 0, device=device) as comm:
        x = poisoned_like(random_input("float32", COUNT, device, op))
        values = random_input("float32", COUNT, device, op)
        expected = reduce([values], op)
        out = x if in_place else poisoned_like(x)
        with torch.cuda.device(device):  # on its default stream, as comm.all_reduce(x) below
            torch.cuda._sleep(50_000_000)
            x.copy_(values)
        torch.cuda.set_device(0)
        run_collective("float32", op, lambda: comm.all_reduce(x, None if in_place else out, op=op))
        assert torch.cuda.current_device() == 0
        for d in range(torch.cuda.device_count()):
            torch.cuda.synchronize(d)
        assert_matches(out, expected, exact=True)


@pytest.mark.parametrize("case", cases(), ids=str)
def test_every_gpu(comms: list[ncclkit.Communicator], case: Case) -> None:
    inputs = every_rank_input(case, len(comms), comms[0].device, seed=random.randrange(2**31))
    results = []

    def run() -> None:
        with ncclkit.group():
            for c in comms:
                results.append(enqueue(c, case, [x.to(c.device) for x in inputs]))

    run_collective(case.dtype, case.op, run)
    torch.cuda.synchronize()
    for out, expected in results:
        verify(case, len(comms), out, expected)


def test_explicit_stream(comm: ncclkit.Communicator) -> None:
    stream = torch.cuda.Stream(device=comm.device)
    x = random_input("float32", COUNT, comm.device)
    out = poisoned_like(x)
    torch.cuda.current_stream().synchronize()
    comm.all_reduce(x, out, stream=stream)
    stream.synchronize()
    assert_matches(out, x, exact=True)


class DlpackOnly:
    """A DLPack producer that is not a torch tensor, to take the DLPack path."""

    def __init__(self, tensor: torch.Tensor) -> None:
        self.tensor = tensor

    def __dlpack__(self, stream: object = None) -> object:
        return self.tensor.__dlpack__(stream=stream)

    def __dlpack_device__(self) -> tuple:
        return self.tensor.__dlpack_device__()


class CudaArrayOnly:
    def __init__(self, tensor: torch.Tensor) -> None:
        self.__cuda_array_interface__ = tensor.__cuda_array_interface__


@pytest.mark.parametrize("dtype", ["bfloat16", "float8_e4m3fn", "float32", "int64"])
def test_dlpack_inputs(comm: ncclkit.Communicator, dtype: str) -> None:
    if dtype not in DTYPES:
        pytest.skip(f"this build's NCCL has no {dtype}")
    x = random_input(dtype, COUNT, comm.device)
    out = poisoned_like(x)
    comm.all_gather(DlpackOnly(x), DlpackOnly(out))
    torch.cuda.synchronize()
    assert_matches(out, x, exact=True)


def test_cuda_array_interface_inputs(comm: ncclkit.Communicator) -> None:
    x = random_input("float16", COUNT, comm.device)
    out = poisoned_like(x)
    comm.all_reduce(CudaArrayOnly(x), CudaArrayOnly(out))
    torch.cuda.synchronize()
    assert_matches(out, x, exact=True)


def test_cupy_arrays(comm: ncclkit.Communicator) -> None:
    cupy = pytest.importorskip("cupy")
    with cupy.cuda.Device(comm.device):
        x = cupy.random.standard_normal(COUNT, dtype=cupy.float32)
        out = cupy.full(COUNT, cupy.nan, dtype=cupy.float32)
        comm.all_reduce(x, out, stream=cupy.cuda.get_current_stream())
        cupy.cuda.get_current_stream().synchronize()
        assert bool((out == x).all())


def test_split_and_finalize(comm: ncclkit.Communicator) -> None:
    child = comm.split(color=0)
    assert (child.rank, child.world_size, child.device) == (0, 1, comm.device)
    assert comm.split(color=-1) is None
    x = random_input("float32", COUNT, comm.device)
    out = poisoned_like(x)
    child.all_reduce(x, out)
    child.finalize()
    child.destroy()
    torch.cuda.synchronize()
    assert_matches(out, x, exact=True)


def test_split_into_halves_every_gpu(comms: list[ncclkit.Communicator]) -> None:
    n = len(comms)
    half = [c.rank * 2 // n for c in comms]  # 0 below n / 2, 1 from there
    # ncclCommSplit is collective and blocks until every rank has called it: one thread per rank.
    with ThreadPoolExecutor(n) as pool:
        children = list(pool.map(lambda c, color: c.split(color=color), comms, half))
    try:
        for color in set(half):
            members = [child for child, h in zip(children, half) if h == color]
            assert [(m.rank, m.world_size) for m in members] == [(r, len(members)) for r in range(len(members))]
        inputs = [random_input("int32", COUNT, c.device) for c in comms]
        outputs = [poisoned_like(x) for x in inputs]
        with ncclkit.group():
            for child, x, out in zip(children, inputs, outputs):
                child.all_reduce(x, out)
        torch.cuda.synchronize()
        for out, color in zip(outputs, half):
            expected = reduce([x for x, h in zip(inputs, half) if h == color], "sum")
            assert_matches(out, expected, exact=True)
    finally:
        for child in children:
            child.destroy()


def test_non_blocking_communicator() -> None:
    with ncclkit.Communicator.init_rank(1, ncclkit.UniqueId.generate(), 0, device=0, blocking=False) as c:
        x = random_input("float32", COUNT, 0)
        out = poisoned_like(x)
        c.all_reduce(x, out)
        torch.cuda.synchronize()
        assert_matches(out, x, exact=True)


def test_registered_buffer(comm: ncclkit.Communicator) -> None:
    if not ncclkit.build_info()["features"]["NCCLKIT_HAS_BUFFER_REGISTRATION"]:
        pytest.skip("NCCL older than 2.19")
    x = random_input("float32", 1 << 20, comm.device)
    handle = comm.register_buffer(x)
    out = poisoned_like(x)
    comm.all_reduce(x, out)
    torch.cuda.synchronize()
    comm.deregister_buffer(handle)
    assert_matches(out, x, exact=True)
