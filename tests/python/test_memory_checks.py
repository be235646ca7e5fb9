"""NCCL's allocator without a GPU: the C functions torch's pluggable allocator looks up by name in
ncclkit._comm, and the checks before any allocation."""

from __future__ import annotations

import ctypes

import pytest
from ncclkit import _comm, comm, mem_alloc


@pytest.mark.skipif(not hasattr(_comm, "mem_alloc"), reason="built against an NCCL header older than 2.19")
def test_the_torch_allocator_functions_are_exported() -> None:
    library = ctypes.CDLL(_comm.__file__)  # what torch.cuda.memory.CUDAPluggableAllocator opens
    assert library.ncclkit_torch_alloc and library.ncclkit_torch_free


@pytest.mark.parametrize(
    ("nbytes", "error", "message"),
    [
        (1.5, TypeError, r"^nbytes must be an int, got float 1\.5$"),
        (True, TypeError, r"^nbytes must be an int, got bool True$"),
        (0, ValueError, r"^nbytes must be positive, got 0$"),
    ],
)
def test_sizes_that_are_no_allocation(nbytes: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        mem_alloc(nbytes, device=0)


def test_a_device_that_is_not_visible(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    monkeypatch.setattr(comm, "_cuda", lambda: SimpleNamespace(device_count=lambda: 2))
    with pytest.raises(ValueError, match=r"^device 2 is out of range: 2 CUDA device\(s\) are visible$"):
        mem_alloc(64, device=2)
    monkeypatch.setattr(comm, "_cuda", lambda: SimpleNamespace(device_count=lambda: 0))
    with pytest.raises(RuntimeError, match="^no CUDA GPU is visible"):
        mem_alloc(64, device=0)
