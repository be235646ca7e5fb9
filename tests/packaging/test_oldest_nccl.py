"""The bindings compile against the oldest NCCL ncclkit supports, with that version's features."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OLDEST = "2.18.3"


@pytest.fixture(scope="module")
def oldest_nccl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """NCCL 2.18.3's real nccl.h, beside a stand-in libnccl.so.2 that names that version.

    2.18 was only released for CUDA 11 and 12, so its library cannot be linked into a CUDA 13
    build; the stand-in (no NCCL symbols: a module may leave them undefined) lets the real
    project configure, compile and link against the real header.
    """
    root = tmp_path_factory.mktemp("nccl-2.18")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--platform",
            "manylinux1_x86_64",
            "--dest",
            str(root),
            f"nvidia-nccl-cu12=={OLDEST}",
        ],
        check=True,
    )
    (wheel,) = root.glob("*.whl")
    with zipfile.ZipFile(wheel) as whl:
        (root / "include").mkdir()
        (root / "include" / "nccl.h").write_bytes(whl.read("nvidia/nccl/include/nccl.h"))
    lib = root / "lib"
    lib.mkdir()
    source = root / "banner.c"
    source.write_text(f'const char ncclkit_test_banner[] = "NCCL version {OLDEST}+cuda13.0";\n')
    subprocess.run(
        ["cc", "-shared", "-fPIC", "-Wl,-soname,libnccl.so.2", "-o", str(lib / "libnccl.so.2"), str(source)], check=True
    )
    (lib / "libnccl.so").symlink_to("libnccl.so.2")
    return root


def test_bindings_build_against_nccl_2_18_with_newer_features_off(oldest_nccl: Path, tmp_path: Path) -> None:
    import pybind11

    build = tmp_path / "build"
    subprocess.run(
        [
            "cmake",
            "-S",
            str(REPO),
            "-B",
            str(build),
            "-G",
            "Ninja",
            "-DNCCLKIT_NCCL=system",
            f"-DNCCL_INCLUDE_DIR={oldest_nccl / 'include'}",
            f"-DNCCL_LIB_DIR={oldest_nccl / 'lib'}",
            "-DNCCLKIT_CUDA_ARCHS=80-real",
            f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
            f"-DPython_EXECUTABLE={sys.executable}",
        ],
        check=True,
    )
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
