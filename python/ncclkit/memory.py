"""Memory from NCCL's allocator (ncclMemAlloc, NCCL 2.19): what window registration and NCCL's
symmetric kernels want, as one allocation (mem_alloc) or as a torch memory pool whose tensors
come from it (nccl_mem_pool), the way vLLM's pynccl allocator and torch's NCCL symmetric memory
get theirs. The pool's allocator is two C functions of ncclkit._comm itself: nothing to compile.
"""

from __future__ import annotations

import functools
from typing import Any

from . import compat
from .build_info import build_info
from .comm import check_device
from .errors import NcclUnavailableError


def _native() -> Any:
    nccl = compat.require_comm()
    if not hasattr(nccl, "mem_alloc"):
        raise NcclUnavailableError("ncclMemAlloc", "2.19.0", "", "", header=build_info()["nccl"]["version"])
    return nccl


class NcclMemory:
    """`nbytes` of device memory from ncclMemAlloc, freed by free(), at the end of a with-block,
    or when nothing refers to it any more. A uint8 array to CUDA libraries
    (__cuda_array_interface__: torch.as_tensor and cupy.asarray view it and keep it alive) and to
    ncclkit's collectives."""

    __slots__ = ("__weakref__", "device", "nbytes", "ptr")

    def __init__(self, nbytes: int, device: int) -> None:
        if type(nbytes) is bool or not isinstance(nbytes, int):
            msg = f"nbytes must be an int, got {type(nbytes).__name__} {nbytes!r:.40}"
            raise TypeError(msg)
        if nbytes <= 0:
            msg = f"nbytes must be positive, got {nbytes}"
            raise ValueError(msg)
        check_device(device)
        self.device = device
        self.ptr = 0
        self.nbytes = nbytes
        self.ptr = _native().mem_alloc(nbytes, self.device)

    @property
    def __cuda_array_interface__(self) -> dict[str, Any]:
        if not self.ptr:
            msg = "this NCCL memory has been freed"
            raise ValueError(msg)
        return {"shape": (self.nbytes,), "typestr": "|u1", "data": (self.ptr, False), "version": 3, "strides": None}

    def free(self) -> None:
        """ncclMemFree, once; what still views the memory must not be used after."""
        if self.ptr:
            ptr, self.ptr = self.ptr, 0
            _native().mem_free(ptr, self.device)

    def __enter__(self) -> NcclMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.free()

    def __del__(self) -> None:
        if getattr(self, "ptr", 0):
            self.free()

    def __repr__(self) -> str:
        state = f"ptr=0x{self.ptr:x}" if self.ptr else "freed"
        return f"NcclMemory(nbytes={self.nbytes}, device={self.device}, {state})"


def mem_alloc(nbytes: int, *, device: int) -> NcclMemory:
    """`nbytes` of NCCL's memory on `device` (ncclMemAlloc rounds up to its granularity)."""
    return NcclMemory(nbytes, device)


@functools.cache  # one allocator per process, as torch's pluggable allocators are meant to be
def _torch_allocator() -> Any:
    import torch

    return torch.cuda.memory.CUDAPluggableAllocator(_native().__file__, "ncclkit_torch_alloc", "ncclkit_torch_free")


def nccl_mem_pool() -> Any:
    """A torch.cuda.MemPool over ncclMemAlloc: tensors made under
    ``torch.cuda.use_mem_pool(pool)`` live in NCCL's memory, which register_window(...,
    symmetric=True) takes and NCCL's symmetric kernels need. Keep the pool alive while its tensors
    are."""
    import torch

    if not torch.cuda.is_available():
        msg = "nccl_mem_pool needs a CUDA torch and a visible GPU (torch.cuda.is_available() is False)"
        raise RuntimeError(msg)
    return torch.cuda.MemPool(_torch_allocator().allocator())
