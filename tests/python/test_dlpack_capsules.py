"""ncclkit._comm.describe_dlpack on capsules made here with ctypes, broken ones among them: each is
a clear exception, never a read of what the capsule does not hold."""

from __future__ import annotations

import ctypes

import pytest
from dlpack_capsules import DLManagedTensor, capsule, new_capsule, tensor
from ncclkit import _comm


def test_a_well_formed_capsule() -> None:
    cap, keep = capsule(tensor([4, 8]))
    info = _comm.describe_dlpack(cap)
    assert (info["ptr"], info["shape"], info["strides"], info["readonly"]) == (0x7F0000000000, (4, 8), None, False)


def test_a_read_only_versioned_capsule() -> None:
    cap, keep = capsule(tensor([4]), versioned=True, flags=1)
    assert _comm.describe_dlpack(cap)["readonly"] is True


def test_a_null_shape_with_dimensions() -> None:
    cap, keep = capsule(tensor(None, ndim=2))
    with pytest.raises(ValueError, match="^DLPack tensor has ndim 2 and no shape$"):
        _comm.describe_dlpack(cap)


@pytest.mark.parametrize("ndim", [-1, 65, 2**31 - 1])
def test_an_ndim_out_of_range(ndim: int) -> None:
    cap, keep = capsule(tensor([4], ndim=ndim))
    with pytest.raises(ValueError, match=rf"^DLPack tensor has ndim {ndim} \(0 to 64 expected\)$"):
        _comm.describe_dlpack(cap)


def test_a_negative_extent() -> None:
    cap, keep = capsule(tensor([4, -3]))
    with pytest.raises(ValueError, match="^DLPack tensor has a negative extent -3 in dimension 1$"):
        _comm.describe_dlpack(cap)


def test_a_capsule_of_another_name() -> None:
    managed = DLManagedTensor(dl_tensor=tensor([4]))
    cap = new_capsule(ctypes.addressof(managed), b"used_dltensor", None)
    with pytest.raises(TypeError, match="got 'used_dltensor' \\(was it consumed already\\?\\)"):
        _comm.describe_dlpack(cap)
