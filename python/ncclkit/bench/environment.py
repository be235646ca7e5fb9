"""What a benchmark ran on, recorded with its results: the date, the machine, the GPUs and the
versions of ncclkit, the NCCL it loaded, torch and CUDA."""

from __future__ import annotations

import datetime
import os
import platform
from collections.abc import Sequence
from typing import Any


def describe(ranks: Sequence[tuple[int, int]], **extra: Any) -> dict[str, Any]:
    """`ranks`: (rank, device) of each rank this process drives."""
    import torch

    from .. import __version__, get_version
    from ..compat import nccl_version_string

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(),
        "ranks": [
            {"rank": rank, "pid": os.getpid(), "device": device, "name": torch.cuda.get_device_name(device)}
            for rank, device in ranks
        ],
        "ncclkit": __version__,
        "nccl": nccl_version_string(get_version()),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        **extra,
    }
