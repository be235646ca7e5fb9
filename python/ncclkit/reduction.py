"""Reductions besides NCCL's built-in ones ("sum", "prod", "max", "min", "avg"): premul_sum(scale),
NCCL's PreMulSum, each rank's input times `scale` and then summed (ncclRedOpCreatePreMulSum):
a gradient average with a factor of one's own, in one pass."""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import Any

from .buffers import Buffer

# The host scalar's bytes per NCCL dtype; bfloat16 is float32's upper half, rounded (below).
_FORMATS = {
    "int8": "<b",
    "uint8": "<B",
    "int32": "<i",
    "uint32": "<I",
    "int64": "<q",
    "uint64": "<Q",
    "float16": "<e",
    "float32": "<f",
    "float64": "<d",
}


class PreMulSum:
    """The op ``premul_sum(scale)`` makes; pass it as ``op=`` to all_reduce, reduce,
    reduce_scatter or reduce_scatter_v."""

    __slots__ = ("scale",)

    def __init__(self, scale: Any) -> None:
        if type(scale) is bool:
            msg = "premul_sum's scale must be a number or a one-element device array, got a bool"
            raise TypeError(msg)
        if isinstance(scale, float) and not math.isfinite(scale):
            msg = f"premul_sum's scale must be finite, got {scale!r}"
            raise ValueError(msg)
        self.scale = scale

    def native(self, nccl: Any, data: Buffer, device_scalar: Callable[[Any], Buffer]) -> Any:
        """The bindings' PreMulSum for a collective over `data`: the scale converted to data's
        dtype on the host, or, for an array, its address (checked by `device_scalar`)."""
        code = nccl.DTYPES[data.dtype]
        if not isinstance(self.scale, (int, float)):
            scalar = device_scalar(self.scale)
            if scalar.count != 1:
                msg = f"premul_sum's scale must hold one element, it holds {scalar.count}"
                raise ValueError(msg)
            if scalar.dtype != data.dtype:
                msg = f"premul_sum's scale has dtype {scalar.dtype}, and the data {data.dtype}: NCCL takes the same"
                raise TypeError(msg)
            return nccl.PreMulSum.on_device(scalar.ptr, code)
        return nccl.PreMulSum.on_host(host_bytes(self.scale, data.dtype), code)

    def __repr__(self) -> str:
        return f"premul_sum({self.scale!r})"


def premul_sum(scale: Any) -> PreMulSum:
    """``op=premul_sum(scale)``: sum over ranks of scale × input. `scale` is a Python number,
    converted to the data's type, or a one-element array of that type on the communicator's
    device, read while the collective runs (keep it alive and unchanged until then)."""
    if isinstance(scale, PreMulSum):
        return scale
    return PreMulSum(scale)


def host_bytes(scale: int | float, dtype: str) -> bytes:
    """One element of `dtype` holding `scale`, as NCCL reads a host scalar."""
    if dtype.startswith("float8"):
        msg = f"premul_sum over {dtype} data takes its scale as a one-element {dtype} device array, not a number"
        raise TypeError(msg)
    if dtype == "bfloat16":
        (bits,) = struct.unpack("<I", struct.pack("<f", scale))
        return struct.pack("<H", (bits + 0x7FFF + (bits >> 16 & 1)) >> 16)  # round to nearest even
    integral = dtype.startswith(("int", "uint"))
    if integral:
        if isinstance(scale, float) and not scale.is_integer():
            msg = f"premul_sum over {dtype} data needs a whole scale, got {scale!r}"
            raise TypeError(msg)
        scale = int(scale)
    try:
        return struct.pack(_FORMATS[dtype], scale)
    except (struct.error, OverflowError):
        msg = f"premul_sum's scale {scale!r} does not fit {dtype}"
        raise ValueError(msg) from None
