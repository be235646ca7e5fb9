"""The wheel's version: the base version plus the local label of the CUDA (``0.1.0+cu130``) or,
for a ROCm build, the HIP (``0.1.0+rocm6.2``) it is built with, as PyTorch labels its wheels.
(A wheel for a package index, which refuses local labels, is renamed after the repair:
ci/index_name.py.)"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from .cuda import build_cuda_version
from .options import ConfigSettings, build_option
from .rocm import find_hipconfig, hip_version

# The label of the build under way, which the backend computes from its config settings and hands
# to the provider: scikit-build-core gives a provider its own settings only, never the build's.
_build_label: ContextVar[str | None] = ContextVar("ncclkit_build_label", default=None)


def local_label(config_settings: ConfigSettings) -> str:
    """``NCCLKIT_LOCAL_VERSION`` when set (empty: no label), else ``cu`` + the major and minor of
    the nvcc the build uses, or ``rocm`` + HIP's for NCCLKIT_NCCL=rccl."""
    override = os.environ.get("NCCLKIT_LOCAL_VERSION")
    if override is not None:
        return override
    if build_option("NCCLKIT_NCCL", config_settings, "auto").lower() == "rccl":
        return "rocm{}.{}".format(*hip_version(find_hipconfig()))
    return "cu{}{}".format(*build_cuda_version(config_settings))


@contextlib.contextmanager
def labelled(label: str) -> Iterator[None]:
    """The wheel built inside is labelled ``label`` (local_label() of the build's config settings)."""
    token = _build_label.set(label)
    try:
        yield
    finally:
        _build_label.reset(token)


class Provider:
    """A dynamic-metadata provider of ``version``: the ``base`` setting plus the label the backend
    hands over (labelled()).

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
        label = "" if self._state == "sdist" else _build_label.get()
        if label is None:
            msg = (
                "ncclkit_build.version labels wheels that ncclkit's backend builds (build-backend = "
                "ncclkit_build.backend), which computes the label; this build did not go through it"
            )
            raise RuntimeError(msg)
        return {"version": f"{settings['base']}+{label}" if label else str(settings["base"])}
