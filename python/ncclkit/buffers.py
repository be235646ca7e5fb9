"""GPU arrays as NCCL sees them: an address, an element count, a dtype, a device.

Accepts torch tensors (read directly: their __cuda_array_interface__ has no bfloat16 or fp8),
objects with __cuda_array_interface__ (CuPy, Numba) and DLPack producers (JAX, ...). Every
problem is a ValueError or TypeError naming the argument, raised before NCCL is called.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Collection
from typing import Any, NamedTuple

# __cuda_array_interface__ typestr -> NCCL dtype name
_TYPESTRS = {
    "|i1": "int8",
    "|u1": "uint8",
    "<i4": "int32",
    "<u4": "uint32",
    "<i8": "int64",
    "<u8": "uint64",
    "<f2": "float16",
    "<f4": "float32",
    "<f8": "float64",
}
# DLPack (type code, bits) -> NCCL dtype name
_DLPACK_TYPES = {
    (0, 8): "int8",
    (0, 32): "int32",
    (0, 64): "int64",
    (1, 8): "uint8",
    (1, 32): "uint32",
    (1, 64): "uint64",
    (2, 16): "float16",
    (2, 32): "float32",
    (2, 64): "float64",
    (4, 16): "bfloat16",
    (10, 8): "float8_e4m3fn",
    (12, 8): "float8_e5m2",
}
_DLPACK_CUDA, _DLPACK_CUDA_MANAGED = 2, 13
_ITEMSIZE = {
    "int8": 1,
    "uint8": 1,
    "float8_e4m3fn": 1,
    "float8_e5m2": 1,
    "float16": 2,
    "bfloat16": 2,
    "int32": 4,
    "uint32": 4,
    "float32": 4,
    "int64": 8,
    "uint64": 8,
    "float64": 8,
}


class Buffer(NamedTuple):
    """A tuple, not a dataclass: one is made per collective call, and a tuple is made fastest."""

    ptr: int
    count: int
    dtype: str
    device: int
    stream: int | None = None  # the stream a call runs on by default: torch's current, or the producer's
    readonly: bool = False  # its producer says it must not be written (CUDA array interface, DLPack 1.0)
    wait_for_stream: bool = False  # `stream` has the producer's pending work (CUDA array interface v3)
    owner: Any = None  # what must live until the call has been queued (a DLPack capsule)

    @property
    def itemsize(self) -> int:
        return _ITEMSIZE[self.dtype]

    @property
    def nbytes(self) -> int:
        return self.count * _ITEMSIZE[self.dtype]


def _count(shape: tuple[int, ...]) -> int:
    count = 1
    for extent in shape:
        count *= extent
    return count


def _is_contiguous(shape: tuple[int, ...], strides: tuple[int, ...] | None, itemsize: int) -> bool:
    """C order; `strides` in units where one element is `itemsize`. Extents of 1 may have any stride,
    and an empty array any strides."""
    if strides is None or 0 in shape:
        return True
    expected = itemsize
    for extent, stride in zip(reversed(shape), reversed(strides)):
        if extent != 1 and stride != expected:
            return False
        expected *= extent
    return True


def _checked_dtype(name: str, dtype: str, supported: Collection[str]) -> str:
    if dtype not in supported:
        listed = ", ".join(sorted(supported))
        msg = f"{name} has dtype {dtype}, which this build's NCCL does not support (supported: {listed})"
        raise TypeError(msg)
    return dtype


@functools.cache
def _torch_current_stream() -> Callable[[int], int]:
    """The current stream's handle on a device, by index. torch.cuda.current_stream builds a
    Stream object, which costs more than the whole NCCL call; torch's own raw getter does not."""
    import torch

    raw = getattr(torch._C, "_cuda_getCurrentRawStream", None)
    return raw or (lambda device: torch.cuda.current_stream(device).cuda_stream)


@functools.cache
def _torch_strided() -> Any:
    import torch

    return torch.strided


# What the per-call torch path looks up instead of working out again: torch's tensor types (by
# their module, without importing torch), and the NCCL name of each torch dtype.
_torch_tensor_types: set[type] = set()
_torch_dtype_names: dict[Any, str] = {}
# A NamedTuple's own __new__ is a Python function; tuple.__new__ builds the same Buffer in half the time.
_new_buffer = functools.partial(tuple.__new__, Buffer)


def _is_torch_tensor(obj: Any) -> bool:
    """Any torch.Tensor, subclasses too (their __cuda_array_interface__, where they have one, knows no
    bfloat16 and refuses tensors that require grad); without torch imported there is none."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(obj, torch.Tensor):
        _torch_tensor_types.add(type(obj))
        return True
    return False


def _from_torch(obj: Any, name: str, supported: Collection[str]) -> Buffer:
    torch_dtype = obj.dtype
    dtype_name = _torch_dtype_names.get(torch_dtype)
    if dtype_name is None:
        dtype_name = _torch_dtype_names.setdefault(torch_dtype, str(torch_dtype).removeprefix("torch."))
    dtype = _checked_dtype(name, dtype_name, supported)
    if obj.layout is not _torch_strided():
        msg = f"{name} is a {str(obj.layout).removeprefix('torch.')} tensor; NCCL needs a dense one ({name}.to_dense())"
        raise TypeError(msg)
    if not obj.is_cuda:
        msg = f"{name} is in {obj.device.type} memory; NCCL needs a CUDA tensor"
        raise ValueError(msg)
    if not obj.is_contiguous():
        msg = f"{name} is not contiguous; pass {name}.contiguous()"
        raise ValueError(msg)
    device = obj.get_device()
    return _new_buffer(
        (obj.data_ptr(), obj.numel(), dtype, device, _torch_current_stream()(device), False, False, None)
    )


def _cai_field(cai: Any, key: str, name: str) -> Any:
    try:
        return cai[key]
    except (KeyError, TypeError, IndexError):
        msg = f"{name}.__cuda_array_interface__ has no {key!r}: it must be a dict with shape, typestr and data"
        raise TypeError(msg) from None


def _integers(values: Any, name: str, what: str) -> tuple[int, ...]:
    if not isinstance(values, (tuple, list)) or not all(type(v) is int for v in values):
        msg = f"{name}'s __cuda_array_interface__ {what} must be a tuple of ints, got {values!r}"
        raise TypeError(msg)
    return tuple(values)


def _check_aligned(name: str, ptr: int, count: int, dtype: str) -> None:
    if count and ptr % _ITEMSIZE[dtype]:
        msg = f"{name} is at address {ptr:#x}, not a multiple of its {_ITEMSIZE[dtype]}-byte {dtype} elements"
        raise ValueError(msg)


def _check_mapped(name: str, ptr: int, count: int, dtype: str, mapped_bytes: Callable[[int, int], int]) -> None:
    """That the memory the array claims is allocated (the driver knows; a torch tensor's is)."""
    nbytes = count * _ITEMSIZE[dtype]
    mapped = mapped_bytes(ptr, nbytes) if nbytes else -1
    if 0 <= mapped < nbytes:
        msg = (
            f"{name} claims {nbytes} bytes at {ptr:#x}, but only {mapped} bytes from there are allocated: "
            "its shape is larger than its memory"
        )
        raise ValueError(msg)


def _from_cuda_array_interface(
    obj: Any,
    name: str,
    supported: Collection[str],
    pointer_device: Callable[[int], int],
    mapped_bytes: Callable[[int, int], int],
) -> Buffer:
    cai = obj.__cuda_array_interface__
    typestr = _cai_field(cai, "typestr", name)
    if typestr not in _TYPESTRS:
        msg = f"{name} has __cuda_array_interface__ typestr {typestr!r}, which is no NCCL dtype"
        raise TypeError(msg)
    dtype = _checked_dtype(name, _TYPESTRS[typestr], supported)
    shape = _integers(_cai_field(cai, "shape", name), name, "shape")
    if any(extent < 0 for extent in shape):
        msg = f"{name} has a negative extent in its __cuda_array_interface__ shape {shape}"
        raise ValueError(msg)
    strides = cai.get("strides")
    if strides is not None:
        strides = _integers(strides, name, "strides")
    if not _is_contiguous(shape, strides, _ITEMSIZE[dtype]):
        msg = f"{name} is not contiguous (shape {shape}, strides {strides} bytes)"
        raise ValueError(msg)
    if cai.get("mask") is not None:
        msg = f"{name} has a __cuda_array_interface__ mask; NCCL reads and writes every element"
        raise ValueError(msg)
    data = _cai_field(cai, "data", name)
    if not isinstance(data, (tuple, list)) or len(data) != 2 or type(data[0]) is not int:
        msg = f"{name}'s __cuda_array_interface__ data must be (pointer, read-only flag), got {data!r}"
        raise TypeError(msg)
    ptr = data[0]
    count = _count(shape)
    _check_aligned(name, ptr, count, dtype)
    device = pointer_device(ptr) if count else -1
    if count and device < 0:
        msg = f"{name} is in host memory; NCCL needs GPU memory"
        raise ValueError(msg)
    _check_mapped(name, ptr, count, dtype, mapped_bytes)
    # Version 3: the producer's stream, on which its work on the array may still be pending. The
    # call runs on it, or, given a stream of its own, waits for it first (as the protocol asks).
    stream = cai.get("stream")
    if stream is not None and (type(stream) is not int or stream <= 0):
        msg = f"{name}'s __cuda_array_interface__ stream must be a positive int (a cudaStream_t), got {stream!r}"
        raise ValueError(msg)
    return Buffer(ptr, count, dtype, device, stream, bool(data[1]), stream is not None)


def _from_dlpack(
    obj: Any,
    name: str,
    supported: Collection[str],
    describe: Callable[[Any], dict],
    mapped_bytes: Callable[[int, int], int],
    stream: int | None,
) -> Buffer:
    device_type, device_id = obj.__dlpack_device__()
    if device_type not in (_DLPACK_CUDA, _DLPACK_CUDA_MANAGED):
        msg = f"{name} is on DLPack device type {device_type}, not a CUDA GPU; NCCL needs GPU memory"
        raise ValueError(msg)
    # The stream the call runs on (none given: the legacy default stream, DLPack's 1), so that the
    # producer orders its pending work before the call's.
    try:
        capsule = obj.__dlpack__(stream=stream or 1)
    except TypeError:
        capsule = obj.__dlpack__()
    info = describe(capsule)
    if info["device_type"] not in (_DLPACK_CUDA, _DLPACK_CUDA_MANAGED):
        msg = f"{name}'s DLPack capsule is on device type {info['device_type']}, not a CUDA GPU; NCCL needs GPU memory"
        raise ValueError(msg)
    key = (info["dtype_code"], info["bits"])
    if info["lanes"] != 1 or key not in _DLPACK_TYPES:
        msg = f"{name} has DLPack dtype code {key[0]} of {key[1]} bits x {info['lanes']}, which is no NCCL dtype"
        raise TypeError(msg)
    dtype = _checked_dtype(name, _DLPACK_TYPES[key], supported)
    if not _is_contiguous(info["shape"], info["strides"], 1):  # DLPack strides count elements
        msg = f"{name} is not contiguous (shape {info['shape']}, strides {info['strides']} elements)"
        raise ValueError(msg)
    count = _count(info["shape"])
    _check_aligned(name, info["ptr"], count, dtype)
    _check_mapped(name, info["ptr"], count, dtype, mapped_bytes)
    # The capsule keeps the producer's memory: it lives as long as the Buffer, past the call's queueing.
    return Buffer(info["ptr"], count, dtype, device_id, None, info["readonly"], False, capsule)


def as_buffer(
    obj: Any,
    name: str,
    *,
    supported: Collection[str],
    pointer_device: Callable[[int], int],
    mapped_bytes: Callable[[int, int], int],
    describe_dlpack: Callable[[Any], dict],
    stream: int | None = None,
) -> Buffer:
    """`obj` as a Buffer, or a ValueError/TypeError that names `name`. `stream`: the one the call
    runs on, where the caller gave one."""
    if type(obj) in _torch_tensor_types or _is_torch_tensor(obj):
        return _from_torch(obj, name, supported)
    if hasattr(obj, "__cuda_array_interface__"):
        return _from_cuda_array_interface(obj, name, supported, pointer_device, mapped_bytes)
    if hasattr(obj, "__dlpack__") and hasattr(obj, "__dlpack_device__"):
        return _from_dlpack(obj, name, supported, describe_dlpack, mapped_bytes, stream)
    msg = (
        f"{name} must be a GPU array (a torch tensor, or an object with __cuda_array_interface__ or "
        f"__dlpack__), got {type(obj).__name__}"
    )
    raise TypeError(msg)
