"""Turning arrays into NCCL buffers, and every way an argument can be wrong, without a GPU."""

from __future__ import annotations

from typing import Any

import pytest
from ncclkit.buffers import Buffer, as_buffer

SUPPORTED = [
    "bfloat16",
    "float16",
    "float32",
    "float64",
    "float8_e4m3fn",
    "float8_e5m2",
    "int32",
    "int64",
    "int8",
    "uint32",
    "uint64",
    "uint8",
]
DEVICE_MEMORY = 0x7F0000000000


class CudaArray:
    """An object exposing __cuda_array_interface__ only, like a CuPy or Numba array."""

    def __init__(
        self,
        shape: tuple[int, ...],
        typestr: str = "<f4",
        strides: tuple[int, ...] | None = None,
        ptr: int = DEVICE_MEMORY,
    ) -> None:
        self.__cuda_array_interface__ = {
            "shape": shape,
            "typestr": typestr,
            "strides": strides,
            "data": (ptr, False),
            "version": 3,
        }


class DlpackArray:
    """A DLPack producer; `describe` stands for ncclkit._comm.describe_dlpack."""

    def __init__(
        self,
        device_type: int = 2,
        code: int = 2,
        bits: int = 32,
        lanes: int = 1,
        shape: tuple[int, ...] = (4, 8),
        strides: tuple[int, ...] | None = None,
    ) -> None:
        self.device_type = device_type
        self.info = {
            "ptr": DEVICE_MEMORY,
            "shape": shape,
            "strides": strides,
            "dtype_code": code,
            "bits": bits,
            "lanes": lanes,
            "device_type": device_type,
            "device_id": 1,
            "readonly": False,
        }
        self.stream_asked: object = "not called"

    def __dlpack_device__(self) -> tuple[int, int]:
        return (self.device_type, 1)

    def __dlpack__(self, stream: Any = None) -> dict:
        self.stream_asked = stream
        return self.info


def convert(obj: Any, pointer_device: int = 0, mapped: int = -1, stream: int | None = None) -> Buffer:
    """`mapped`: what the driver says is allocated from the array's address (-1: it cannot say)."""
    return as_buffer(
        obj,
        "sendbuf",
        supported=SUPPORTED,
        pointer_device=lambda ptr: pointer_device,
        mapped_bytes=lambda ptr, wanted: mapped if mapped < 0 else min(mapped, wanted),
        describe_dlpack=lambda capsule: capsule,
        stream=stream,
    )


def test_cuda_array_interface() -> None:
    assert convert(CudaArray((4, 8), "<f2")) == Buffer(DEVICE_MEMORY, 32, "float16", 0)


@pytest.mark.parametrize(
    ("typestr", "dtype"), [("|i1", "int8"), ("|u1", "uint8"), ("<i8", "int64"), ("<f8", "float64")]
)
def test_cuda_array_interface_dtypes(typestr: str, dtype: str) -> None:
    assert convert(CudaArray((3,), typestr)).dtype == dtype


def test_explicit_c_strides_are_contiguous() -> None:
    assert convert(CudaArray((4, 8), "<f4", strides=(32, 4))).count == 32


def test_non_contiguous_names_the_argument() -> None:
    with pytest.raises(ValueError, match=r"^sendbuf is not contiguous \(shape \(4, 8\), strides \(4, 16\) bytes\)$"):
        convert(CudaArray((4, 8), "<f4", strides=(4, 16)))


def test_host_memory() -> None:
    with pytest.raises(ValueError, match="^sendbuf is in host memory; NCCL needs GPU memory$"):
        convert(CudaArray((4,)), pointer_device=-1)


def test_dtype_nccl_lacks() -> None:
    with pytest.raises(
        TypeError, match=r"^sendbuf has __cuda_array_interface__ typestr '\|b1', which is no NCCL dtype$"
    ):
        convert(CudaArray((4,), "|b1"))


def test_dtype_this_build_lacks() -> None:
    with pytest.raises(TypeError, match="^sendbuf has dtype float16, which this build's NCCL does not support"):
        as_buffer(
            CudaArray((4,), "<f2"),
            "sendbuf",
            supported=["float32"],
            pointer_device=lambda p: 0,
            mapped_bytes=lambda p, n: n,
            describe_dlpack=lambda c: c,
        )


def test_dlpack_bfloat16_keeps_its_capsule() -> None:
    array = DlpackArray(code=4, bits=16)
    buffer = convert(array)
    assert buffer[:6] == Buffer(DEVICE_MEMORY, 32, "bfloat16", 1)[:6]
    assert buffer.owner is array.info  # the capsule (describe's stand-in) lives as long as the Buffer


@pytest.mark.parametrize(("given", "asked"), [(None, 1), (0, 1), (2, 2), (0x5555, 0x5555)])
def test_dlpack_producer_orders_its_work_before_the_call_s_stream(given: int | None, asked: int) -> None:
    """DLPack's stream argument is the consumer's stream; the legacy default stream is 1 there."""
    array = DlpackArray()
    convert(array, stream=given)
    assert array.stream_asked == asked


@pytest.mark.parametrize(
    ("code", "bits", "dtype"), [(10, 8, "float8_e4m3fn"), (12, 8, "float8_e5m2"), (1, 64, "uint64")]
)
def test_dlpack_dtypes(code: int, bits: int, dtype: str) -> None:
    assert convert(DlpackArray(code=code, bits=bits)).dtype == dtype


def test_dlpack_on_the_cpu() -> None:
    with pytest.raises(ValueError, match="^sendbuf is on DLPack device type 1, not a CUDA GPU"):
        convert(DlpackArray(device_type=1))


def test_dlpack_vector_lanes_are_no_nccl_dtype() -> None:
    with pytest.raises(TypeError, match="^sendbuf has DLPack dtype code 2 of 32 bits x 4"):
        convert(DlpackArray(lanes=4))


def test_dlpack_non_contiguous() -> None:
    with pytest.raises(ValueError, match="^sendbuf is not contiguous"):
        convert(DlpackArray(strides=(1, 4)))


def test_not_an_array() -> None:
    with pytest.raises(
        TypeError,
        match=r"^sendbuf must be a GPU array \(a torch tensor, or an object with "
        r"__cuda_array_interface__ or __dlpack__\), got list$",
    ):
        convert([1, 2, 3])


def test_torch_cpu_tensor() -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="^sendbuf is in cpu memory; NCCL needs a CUDA tensor$"):
        convert(torch.zeros(4))


def test_torch_dtype_nccl_lacks() -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="^sendbuf has dtype bool, which this build's NCCL does not support"):
        convert(torch.zeros(4, dtype=torch.bool))


# What a producer may get wrong in __cuda_array_interface__: each is the promised exception,
# naming the argument, never a KeyError or a silent acceptance.


@pytest.mark.parametrize("missing", ["shape", "typestr", "data"])
def test_cuda_array_interface_without_a_key(missing: str) -> None:
    array = CudaArray((4,))
    del array.__cuda_array_interface__[missing]
    with pytest.raises(TypeError, match=rf"^sendbuf.__cuda_array_interface__ has no '{missing}'"):
        convert(array)


def test_cuda_array_interface_that_is_no_dict() -> None:
    array = CudaArray((4,))
    array.__cuda_array_interface__ = None
    with pytest.raises(TypeError, match=r"^sendbuf.__cuda_array_interface__ has no 'typestr'"):
        convert(array)


@pytest.mark.parametrize("shape", [(4.0,), (True, 2), "4", None])
def test_cuda_array_interface_shape_of_no_ints(shape: Any) -> None:
    with pytest.raises(TypeError, match=r"^sendbuf's __cuda_array_interface__ shape must be a tuple of ints"):
        convert(CudaArray(shape))


def test_cuda_array_interface_negative_extent() -> None:
    with pytest.raises(ValueError, match=r"^sendbuf has a negative extent in its __cuda_array_interface__ shape"):
        convert(CudaArray((4, -2)))


def test_cuda_array_interface_mask() -> None:
    array = CudaArray((4,))
    array.__cuda_array_interface__["mask"] = CudaArray((4,), "|b1")
    with pytest.raises(ValueError, match="^sendbuf has a __cuda_array_interface__ mask"):
        convert(array)


@pytest.mark.parametrize("data", [DEVICE_MEMORY, (DEVICE_MEMORY,), ("0x7f", False)])
def test_cuda_array_interface_data_of_another_shape(data: Any) -> None:
    array = CudaArray((4,))
    array.__cuda_array_interface__["data"] = data
    with pytest.raises(TypeError, match=r"^sendbuf's __cuda_array_interface__ data must be \(pointer, read-only"):
        convert(array)


def test_cuda_array_interface_misaligned() -> None:
    with pytest.raises(ValueError, match=r"^sendbuf is at address 0x7f0000000002, not a multiple of its 4-byte"):
        convert(CudaArray((4,), "<f4", ptr=DEVICE_MEMORY + 2))


def test_cuda_array_interface_stream_is_the_call_s_stream() -> None:
    array = CudaArray((4,))
    array.__cuda_array_interface__["stream"] = 0x5555
    buffer = convert(array)
    assert (buffer.stream, buffer.wait_for_stream) == (0x5555, True)
    assert convert(CudaArray((4,))).wait_for_stream is False


@pytest.mark.parametrize("make", [lambda: CudaArray((1 << 34,), "<f4"), lambda: DlpackArray(shape=(1 << 34,))])
def test_a_shape_larger_than_its_allocation(make: Any) -> None:
    """A 64 GiB view of a 4 KiB allocation."""
    with pytest.raises(ValueError, match=r"^sendbuf claims 68719476736 bytes at 0x7f0000000000, but only 4096 bytes"):
        convert(make(), mapped=4096)
    assert convert(make(), mapped=-1).count == 1 << 34  # a driver that cannot tell refuses nothing
    assert convert(make(), mapped=1 << 36).count == 1 << 34


@pytest.mark.parametrize("stream", [0, -1, 1.5, "1"])
def test_cuda_array_interface_bad_stream(stream: Any) -> None:
    array = CudaArray((4,))
    array.__cuda_array_interface__["stream"] = stream
    with pytest.raises(ValueError, match="^sendbuf's __cuda_array_interface__ stream must be a positive int"):
        convert(array)


def test_an_empty_array_may_have_any_strides() -> None:
    assert convert(CudaArray((0, 3), "<f4", strides=(4, 8))).count == 0


def test_dlpack_capsule_that_says_cpu() -> None:
    array = DlpackArray()
    array.info["device_type"] = 1  # __dlpack_device__ says CUDA, the capsule says otherwise
    with pytest.raises(ValueError, match="^sendbuf's DLPack capsule is on device type 1, not a CUDA GPU"):
        convert(array)


def test_dlpack_misaligned() -> None:
    array = DlpackArray()
    array.info["ptr"] = DEVICE_MEMORY + 1
    with pytest.raises(ValueError, match=r"^sendbuf is at address 0x7f0000000001, not a multiple of its 4-byte"):
        convert(array)


def test_torch_subclass_takes_the_torch_path() -> None:
    """A subclass defined outside torch, of a dtype __cuda_array_interface__ lacks, requiring grad."""
    torch = pytest.importorskip("torch")

    class Param(torch.Tensor):
        pass

    tensor = torch.zeros(4, dtype=torch.bfloat16, requires_grad=True).as_subclass(Param)
    with pytest.raises(ValueError, match="^sendbuf is in cpu memory; NCCL needs a CUDA tensor$"):
        convert(tensor)  # the torch path's own check: a CPU machine has no CUDA tensor to pass


def test_torch_sparse_tensor() -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match=r"^sendbuf is a sparse_coo tensor; NCCL needs a dense one"):
        convert(torch.zeros(4).to_sparse())


def test_torch_storage_is_no_array() -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="^sendbuf must be a GPU array"):
        convert(torch.zeros(4).untyped_storage())
