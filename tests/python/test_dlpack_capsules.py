"""ncclkit._comm.describe_dlpack on capsules made here with ctypes, broken ones among them: each is
a clear exception, never a read of what the capsule does not hold."""

from __future__ import annotations

import ctypes

import pytest
from ncclkit import _comm


class DLTensor(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("device_type", ctypes.c_int32),
        ("device_id", ctypes.c_int32),
        ("ndim", ctypes.c_int32),
        ("code", ctypes.c_uint8),
        ("bits", ctypes.c_uint8),
        ("lanes", ctypes.c_uint16),
        ("shape", ctypes.POINTER(ctypes.c_int64)),
        ("strides", ctypes.POINTER(ctypes.c_int64)),
        ("byte_offset", ctypes.c_uint64),
    ]


class DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", ctypes.c_void_p)]


class DLManagedTensorVersioned(ctypes.Structure):
    _fields_ = [
        ("major", ctypes.c_uint32),
        ("minor", ctypes.c_uint32),
        ("manager_ctx", ctypes.c_void_p),
        ("deleter", ctypes.c_void_p),
        ("flags", ctypes.c_uint64),
        ("dl_tensor", DLTensor),
    ]


_new_capsule = ctypes.pythonapi.PyCapsule_New
_new_capsule.restype = ctypes.py_object
_new_capsule.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]


def tensor(shape: list[int] | None, ndim: int | None = None) -> DLTensor:
    extents = (ctypes.c_int64 * len(shape))(*shape) if shape is not None else None
    t = DLTensor(data=0x7F0000000000, device_type=2, device_id=0, code=2, bits=32, lanes=1)
    t.ndim = len(shape) if ndim is None else ndim
    if extents is not None:
        t.shape = ctypes.cast(extents, ctypes.POINTER(ctypes.c_int64))
    t._keep = extents
    return t


def capsule(t: DLTensor, *, versioned: bool = False, flags: int = 0) -> tuple[object, object]:
    """The capsule, and what must outlive it."""
    if versioned:
        managed = DLManagedTensorVersioned(major=1, minor=0, flags=flags, dl_tensor=t)
        return _new_capsule(ctypes.addressof(managed), b"dltensor_versioned", None), (managed, t)
    managed = DLManagedTensor(dl_tensor=t)
    return _new_capsule(ctypes.addressof(managed), b"dltensor", None), (managed, t)


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
    cap = _new_capsule(ctypes.addressof(managed), b"used_dltensor", None)
    with pytest.raises(TypeError, match="got 'used_dltensor' \\(was it consumed already\\?\\)"):
        _comm.describe_dlpack(cap)
