"""Dynamic version provider: the base version plus the local label of the CUDA (``0.1.0+cu130``)
or, for a ROCm build, the HIP (``0.1.0+rocm6.2``) it is built with, as PyTorch labels its wheels."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .cuda import find_nvcc, nvcc_version
from .options import build_option
from .rocm import find_hipconfig, hip_version


def local_label() -> str:
    """``NCCLKIT_LOCAL_VERSION`` when set (empty: no label), else ``cu`` + nvcc's major and minor,
    or ``rocm`` + HIP's for NCCLKIT_NCCL=rccl."""
    override = os.environ.get("NCCLKIT_LOCAL_VERSION")
    if override is not None:
        return override
    if build_option("NCCLKIT_NCCL", None, "auto").lower() == "rccl":
        major, minor = hip_version(find_hipconfig())
        return f"rocm{major}.{minor}"
    major, minor = nvcc_version(find_nvcc(None))
    return f"cu{major}{minor}"


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
