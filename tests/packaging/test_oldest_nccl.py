"""The bindings compile against the oldest NCCL ncclkit supports, with that version's features."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from nccl_headers import configure_against, real_nccl

OLDEST = "2.18.3"


@pytest.fixture(scope="module")
def oldest_nccl(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """NCCL 2.18.3's real nccl.h and a stand-in library: 2.18 was only released for CUDA 11 and
    12, so its library cannot be linked into a CUDA 13 build."""
    return real_nccl(tmp_path_factory.mktemp("nccl-2.18"), OLDEST, cuda_major=12)


def test_bindings_build_against_nccl_2_18_with_newer_features_off(
    oldest_nccl: tuple[Path, Path], tmp_path: Path
) -> None:
    build = tmp_path / "build"
    configure_against(*oldest_nccl, build)
    subprocess.run(["cmake", "--build", str(build)], check=True)
    record = json.loads((build / "src" / "_comm.build.json").read_text())
    newer = ["BUFFER_REGISTRATION", "MEM_ALLOC", "GROUP_SIMULATE", "COMM_INIT_SCALABLE", "FP8", "COMM_SHRINK"]
    newer += ["WINDOW_REGISTRATION", "DEVICE_API", "DEVICE_GIN_BARRIER", "DEVICE_POINTERS", "DEVICE_GIN_A2A"]
    newer += ["DEVICE_CFT", "DEVICE_CFT_BARRIER", "ALL_TO_ALL", "GATHER", "SCATTER", "COMM_REVOKE", "COMM_GROW"]
    newer += ["ONE_SIDED", "WINDOW_USER_PTR", "COMM_SUSPEND", "COMM_MEM_STATS", "PARAMS", "COLLECTIVE_CONFIG"]
    newer += ["ENCRYPTION"]
    assert record["features"] == {
        "NCCLKIT_WITH_NCCL": 1,
        "NCCLKIT_WITH_RCCL": 0,
        "NCCLKIT_NCCL_VERSION_CODE": 21803,
        "NCCLKIT_HAS_CORE": 1,
        "NCCLKIT_HAS_BF16": 1,
        "NCCLKIT_HAS_AVG": 1,
        "NCCLKIT_HAS_GET_LAST_ERROR": 1,
        "NCCLKIT_HAS_COMM_CONFIG": 1,
        "NCCLKIT_HAS_COMM_SPLIT": 1,
        **{f"NCCLKIT_HAS_{name}": 0 for name in newer},
    }
    # The floor for CUDA 13 is above this header: nothing the header has can be missing, none weak.
    assert (record["nccl"]["floor"], record["nccl"]["weak_entry_points"]) == ("2.27.7", [])
    config_h = (build / "src" / "_comm_include" / "ncclkit" / "config.h").read_text()
    assert "#define NCCLKIT_HAS_FP8 0\n" in config_h
    assert "#define NCCLKIT_NCCL_VERSION_CODE 21803\n" in config_h
    assert "#define NCCLKIT_NCCL_FLOOR_CODE 22707\n" in config_h
