"""DLPack capsules made with ctypes, as a producer would make them, broken ones too: what the
tests hand to ncclkit._comm.describe_dlpack."""

from __future__ import annotations

import ctypes


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


new_capsule = ctypes.pythonapi.PyCapsule_New
new_capsule.restype = ctypes.py_object
new_capsule.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]


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
        return new_capsule(ctypes.addressof(managed), b"dltensor_versioned", None), (managed, t)
    managed = DLManagedTensor(dl_tensor=t)
    return new_capsule(ctypes.addressof(managed), b"dltensor", None), (managed, t)
