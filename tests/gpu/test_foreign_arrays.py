"""Arrays that are not torch tensors, on a real GPU: the producer's stream is honoured, and the
memory an array claims must be allocated."""

from __future__ import annotations

from typing import Any

import pytest

torch = pytest.importorskip("torch")

import ncclkit  # noqa: E402
from reference import poisoned_like, random_input  # noqa: E402

pytestmark = pytest.mark.gpu

SLEEP_CYCLES = 200_000_000  # about 0.1 s of a spinning kernel: the producer's writes land after it


class Produced:
    """`tensor` through the CUDA array interface, as a producer on `stream` presents it."""

    def __init__(self, tensor: torch.Tensor, stream: torch.cuda.Stream | None, shape: tuple[int, ...] | None = None):
        self.tensor = tensor
        self.__cuda_array_interface__: dict[str, Any] = {
            "shape": shape or tuple(tensor.shape),
            "typestr": "<f4",
            "data": (tensor.data_ptr(), False),
            "version": 3,
            "strides": None,
        }
        if stream is not None:
            self.__cuda_array_interface__["stream"] = stream.cuda_stream


def pending_write(tensor: torch.Tensor, value: torch.Tensor, stream: torch.cuda.Stream) -> None:
    """Queue on `stream` a long wait, then tensor = value: not done when this returns."""
    with torch.cuda.stream(stream):
        torch.cuda._sleep(SLEEP_CYCLES)
        tensor.copy_(value)


def test_a_call_on_another_stream_waits_for_the_producer_s_writes(comm: ncclkit.Communicator) -> None:
    producer, consumer = torch.cuda.Stream(), torch.cuda.Stream()
    value = random_input("float32", 1 << 20, comm.device)
    x = poisoned_like(value)
    out = poisoned_like(value)
    torch.cuda.synchronize()
    pending_write(x, value, producer)
    comm.all_reduce(Produced(x, producer), out, stream=consumer)  # one rank, out of place: a copy
    consumer.synchronize()
    assert torch.equal(out, value)


def test_without_a_stream_the_call_runs_on_the_producer_s(comm: ncclkit.Communicator) -> None:
    producer = torch.cuda.Stream()
    value = random_input("float32", 1 << 20, comm.device)
    x, out = poisoned_like(value), poisoned_like(value)
    torch.cuda.synchronize()
    pending_write(x, value, producer)
    comm.all_reduce(Produced(x, producer), Produced(out, None))
    producer.synchronize()
    assert torch.equal(out, value)


def test_a_shape_larger_than_its_allocation(comm: ncclkit.Communicator) -> None:
    small = torch.empty(1024, dtype=torch.float32, device="cuda")  # 4 KiB
    with pytest.raises(ValueError, match=r"^sendbuf claims 68719476736 bytes at 0x[0-9a-f]+, but only \d+ bytes"):
        comm.all_reduce(Produced(small, None, shape=(1 << 34,)))
    whole = random_input("float32", 1 << 20, comm.device)
    out = poisoned_like(whole)
    comm.all_reduce(Produced(whole, None), Produced(out, None))  # its real size passes
    torch.cuda.synchronize()
    assert torch.equal(out, whole)


def test_cupy_arrays_of_its_memory_pool() -> None:
    cupy = pytest.importorskip("cupy")
    with ncclkit.Communicator.init_rank(1, ncclkit.UniqueId.generate(), 0, device=0) as comm:
        x = cupy.random.random(1 << 20, dtype=cupy.float32)
        out = cupy.full_like(x, cupy.nan)
        comm.all_reduce(x, out)
        cupy.cuda.Device(0).synchronize()
        assert bool((out == x).all())


def test_a_dlpack_producer_is_asked_for_the_call_s_stream(comm: ncclkit.Communicator) -> None:
    class OnlyDlpack:
        def __init__(self, tensor: torch.Tensor) -> None:
            self.tensor = tensor
            self.asked: list[object] = []

        def __dlpack__(self, stream: object = None) -> object:
            self.asked.append(stream)
            return self.tensor.__dlpack__(stream=stream)

        def __dlpack_device__(self) -> tuple[int, int]:
            return self.tensor.__dlpack_device__()

    consumer = torch.cuda.Stream()
    x = random_input("float32", 4096, comm.device)
    out = poisoned_like(x)
    send = OnlyDlpack(x)
    torch.cuda.synchronize()
    comm.all_reduce(send, out, stream=consumer)
    consumer.synchronize()
    assert send.asked == [consumer.cuda_stream]
    assert torch.equal(out, x)
