"""The wheel's identity: the base version plus the local label of the CUDA (``0.1.0+cu130``) or,
for a ROCm build, the HIP (``0.1.0+rocm6.2``) it is built with, as PyTorch labels its wheels; or,
for a package index, which refuses local labels, a name bound to the CUDA major (``ncclkit-cu13``),
as NVIDIA and CuPy name theirs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .cuda import build_cuda_version
from .options import build_option
from .rocm import find_hipconfig, hip_version

_ON = {"1", "on", "true", "yes"}
_OFF = {"", "0", "off", "false", "no"}


def index_name_requested() -> bool:
    """``NCCLKIT_INDEX_NAME``: ON names the wheel for an index (``ncclkit-cu13``, no local label)."""
    value = os.environ.get("NCCLKIT_INDEX_NAME", "").strip().lower()
    if value not in _ON | _OFF:
        msg = f"NCCLKIT_INDEX_NAME={value!r}: expected ON or OFF"
        raise RuntimeError(msg)
    return value in _ON


def _platform() -> tuple[str, int, int]:
    """``("cu", major, minor)`` from the nvcc CMake will use, or ``("rocm", ...)`` from hipconfig."""
    if build_option("NCCLKIT_NCCL", None, "auto").lower() == "rccl":
        return ("rocm", *hip_version(find_hipconfig()))
    return ("cu", *build_cuda_version(None))


def index_name_suffix() -> str:
    """``cu13`` (``rocm6``): what an index-bound name adds to the distribution name."""
    platform, major, _ = _platform()
    return f"{platform}{major}"


def local_label() -> str:
    """``NCCLKIT_LOCAL_VERSION`` when set (empty: no label), else ``cu`` + nvcc's major and minor,
    or ``rocm`` + HIP's for NCCLKIT_NCCL=rccl; none for an index-bound name."""
    override = os.environ.get("NCCLKIT_LOCAL_VERSION")
    if index_name_requested():
        if override:
            msg = (
                f"NCCLKIT_INDEX_NAME=ON names the wheel for an index, which refuses local versions, and "
                f"NCCLKIT_LOCAL_VERSION={override!r} asks for one. Unset one of them."
            )
            raise RuntimeError(msg)
        return ""
    if override is not None:
        return override
    platform, major, minor = _platform()
    return f"rocm{major}.{minor}" if platform == "rocm" else f"cu{major}{minor}"


class Provider:
    """A dynamic-metadata provider of ``version``: the ``base`` setting plus the local label.

    A source distribution is not tied to a CUDA version, so it gets no label.
    """

    def __init__(self) -> None:
        self._state = "wheel"

    def build_state(self, state: str) -> None:
        self._state = state

    def dynamic_metadata(self, settings: Mapping[str, Any], project: Mapping[str, Any]) -> dict[str, str]:
        if set(settings) != {"base"}:
            msg = "ncclkit_build.version takes one setting, 'base'"
            raise RuntimeError(msg)
        label = "" if self._state == "sdist" else local_label()
        return {"version": f"{settings['base']}+{label}" if label else str(settings["base"])}
