"""Every collective, dtype and op, on one rank and on every GPU of this machine, against torch."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import ncclkit  # noqa: E402
from reference import DTYPES, OPS, assert_matches, on_every_gpu, poisoned_like, random_input, reduce, run_collective  # noqa: E402

pytestmark = pytest.mark.gpu

COUNT = 1000  # not a multiple of any vector width, on purpose


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


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_all_reduce_every_gpu(comms: list[ncclkit.Communicator], dtype: str, op: str) -> None:
    inputs = [random_input(dtype, COUNT, c.device, op) for c in comms]
    outputs = [poisoned_like(x) for x in inputs]
    expected = reduce(inputs, op)
    run_collective(dtype, op, lambda: on_every_gpu(comms, ncclkit.Communicator.all_reduce, inputs, outputs, op=op))
    torch.cuda.synchronize()
    for out in outputs:
        assert_matches(out, expected, exact=len(comms) == 1)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_reduce_every_gpu(comms: list[ncclkit.Communicator], dtype: str, op: str) -> None:
    root = len(comms) - 1
    inputs = [random_input(dtype, COUNT, c.device, op) for c in comms]
    outputs = [poisoned_like(x) for x in inputs]
    expected = reduce(inputs, op)
    run_collective(
        dtype, op, lambda: on_every_gpu(comms, ncclkit.Communicator.reduce, inputs, outputs, op=op, root=root)
    )
    torch.cuda.synchronize()
    assert_matches(outputs[root], expected, exact=len(comms) == 1)


@pytest.mark.parametrize("in_place", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_broadcast_every_gpu(comms: list[ncclkit.Communicator], dtype: str, in_place: bool) -> None:
    root = len(comms) - 1
    inputs = [random_input(dtype, COUNT, c.device) for c in comms]
    expected = inputs[root].clone()
    outputs = inputs if in_place else [poisoned_like(x) for x in inputs]
    with ncclkit.group():
        for c, x, out in zip(comms, inputs, outputs):
            c.broadcast(x, None if in_place else out, root=root)
    torch.cuda.synchronize()
    for out in outputs:
        assert_matches(out, expected, exact=True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_all_gather_every_gpu(comms: list[ncclkit.Communicator], dtype: str) -> None:
    inputs = [random_input(dtype, COUNT, c.device) for c in comms]
    outputs = [poisoned_like(x, COUNT * len(comms)) for x in inputs]
    on_every_gpu(comms, ncclkit.Communicator.all_gather, inputs, outputs)
    torch.cuda.synchronize()
    expected = torch.cat([x.to(outputs[0].device) for x in inputs])
    for out in outputs:
        assert_matches(out, expected, exact=True)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_reduce_scatter_every_gpu(comms: list[ncclkit.Communicator], dtype: str, op: str) -> None:
    n = len(comms)
    inputs = [random_input(dtype, COUNT * n, c.device, op) for c in comms]
    outputs = [poisoned_like(x, COUNT) for x in inputs]
    expected = reduce(inputs, op)
    run_collective(dtype, op, lambda: on_every_gpu(comms, ncclkit.Communicator.reduce_scatter, inputs, outputs, op=op))
    torch.cuda.synchronize()
    for rank, out in enumerate(outputs):
        assert_matches(out, expected[rank * COUNT : (rank + 1) * COUNT], exact=n == 1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_all_to_all_every_gpu(comms: list[ncclkit.Communicator], dtype: str) -> None:
    n = len(comms)
    inputs = [random_input(dtype, COUNT * n, c.device) for c in comms]
    outputs = [poisoned_like(x) for x in inputs]
    on_every_gpu(comms, ncclkit.Communicator.all_to_all, inputs, outputs)
    torch.cuda.synchronize()
    for rank, out in enumerate(outputs):
        expected = torch.cat([x[rank * COUNT : (rank + 1) * COUNT].to(out.device) for x in inputs])
        assert_matches(out, expected, exact=True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_send_recv_ring(comms: list[ncclkit.Communicator], dtype: str) -> None:
    n = len(comms)
    inputs = [random_input(dtype, COUNT, c.device) for c in comms]
    outputs = [poisoned_like(x) for x in inputs]
    with ncclkit.group():
        for rank, (c, x, out) in enumerate(zip(comms, inputs, outputs)):
            c.send(x, (rank + 1) % n)
            c.recv(out, (rank - 1) % n)
    torch.cuda.synchronize()
    for rank, out in enumerate(outputs):
        assert_matches(out, inputs[(rank - 1) % n], exact=True)


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
