"""An extension built with ncclkit: checked against this machine before it is loaded."""

from __future__ import annotations

from typing import Any

from ncclkit.compat import check_extension

check_extension(f"{__name__}._ext", full=False)

from . import _ext  # noqa: E402  (after the check: a mismatch is a CompatibilityError, not a loader error)

nccl_version = _ext.nccl_version
nccl_parameter = _ext.nccl_parameter  # RuntimeError where the loaded NCCL is older than 2.30.4


def _float32_pointer(array: Any) -> tuple[int, int]:
    """Device pointer and length of a contiguous float32 CUDA array (torch tensor, CuPy array)."""
    interface = array.__cuda_array_interface__
    if interface["typestr"] != "<f4":
        msg = f"expected float32, got typestr {interface['typestr']!r}"
        raise TypeError(msg)
    if interface.get("strides") not in (None, (4,)) or len(interface["shape"]) != 1:
        msg = f"expected a contiguous 1-d array, got shape {interface['shape']} strides {interface.get('strides')}"
        raise ValueError(msg)
    return interface["data"][0], interface["shape"][0]


def scale(x: Any, y: Any, factor: float) -> None:
    """y = factor * x, on the legacy default stream."""
    (x_ptr, n), (y_ptr, m) = _float32_pointer(x), _float32_pointer(y)
    if n != m:
        msg = f"x has {n} elements, y has {m}"
        raise ValueError(msg)
    _ext.scale(x_ptr, y_ptr, n, factor)


def all_reduce_sum(x: Any, y: Any, device: int) -> None:
    """y = sum of x over a one-rank NCCL communicator on `device` (so y == x), synchronously."""
    (x_ptr, n), (y_ptr, m) = _float32_pointer(x), _float32_pointer(y)
    if n != m:
        msg = f"x has {n} elements, y has {m}"
        raise ValueError(msg)
    _ext.all_reduce_sum(x_ptr, y_ptr, n, device)
