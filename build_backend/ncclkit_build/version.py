"""Dynamic version provider: the base version plus the CUDA local label (``0.1.0+cu130``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .cuda import find_nvcc, nvcc_version


def local_label() -> str:
    """``NCCLKIT_LOCAL_VERSION`` when set (empty: no label), else ``cu`` + nvcc's major and minor."""
    override = os.environ.get("NCCLKIT_LOCAL_VERSION")
    if override is not None:
        return override
    major, minor = nvcc_version(find_nvcc(None))
    return f"cu{major}{minor}"


def dynamic_metadata(field: str, settings: Mapping[str, Any]) -> str:
    if field != "version" or set(settings) != {"base"}:
        msg = "ncclkit_build.version provides 'version' and takes one setting, 'base'"
        raise RuntimeError(msg)
    label = local_label()
    return f"{settings['base']}+{label}" if label else str(settings["base"])
