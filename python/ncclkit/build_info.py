"""What the build chose, as CMake recorded it in ncclkit/_build_info.json."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

BUILD_INFO_FILE = Path(__file__).with_name("_build_info.json")


@functools.cache
def build_info() -> dict[str, Any]:
    """The build's record: version, CUDA, NCCL, archs, features, compiler, commit, time."""
    try:
        return json.loads(BUILD_INFO_FILE.read_text())
    except FileNotFoundError:
        msg = (
            f"{BUILD_INFO_FILE} is missing: this ncclkit was not built. "
            "Install it with `pip install .` from the checkout rather than importing the source tree."
        )
        raise ImportError(msg) from None


def cuda_major() -> int:
    return int(build_info()["cuda"]["runtime_version"].split(".")[0])


def nccl_version_code() -> int | None:
    """NCCL_VERSION_CODE of the header built against; None for a build without NCCL."""
    return build_info()["nccl"]["version_code"]
