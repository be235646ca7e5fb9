"""The wheel built from this checkout: name, requirements, link entries and build info."""

from __future__ import annotations

import email
import json
import os
import re
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

import pytest
from cmake_output import words
from wheel_rules import dynamic_section

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "build_backend"))
from ncclkit_build.cuda import find_nvcc, nvcc_version  # noqa: E402


@pytest.fixture(scope="module")
def build_info(unpacked_wheel: Path) -> dict:
    return json.loads((unpacked_wheel / "ncclkit" / "_comm.build.json").read_text())


@pytest.fixture(scope="module")
def wheel_metadata(unpacked_wheel: Path) -> email.message.Message:
    (path,) = unpacked_wheel.glob("ncclkit-*.dist-info/METADATA")
    return email.message_from_string(path.read_text())


def extension(unpacked_wheel: Path, name: str) -> Path:
    (path,) = (unpacked_wheel / "ncclkit").glob(f"{name}.*.so")
    return path


def test_wheel_name_carries_the_cuda_label_and_python_tags(built_wheel: Path) -> None:
    major, minor = nvcc_version(find_nvcc(None))
    py = f"cp{sys.version_info.major}{sys.version_info.minor}"
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    assert built_wheel.name == f"ncclkit-0.1.0+cu{major}{minor}-{py}-{py}-{platform}.whl"


def test_metadata_requires_the_nccl_wheel_it_was_built_against_from_its_floor(wheel_metadata, build_info: dict) -> None:
    nccl = build_info["nccl"]
    assert nccl["provider"] == "wheel"
    assert nccl["wheel"] == f"nvidia-nccl-cu{build_info['cuda']['nvcc_version'].split('.')[0]}"
    # The tests' tools are a dependency group of the checkout, not an extra the wheel publishes.
    assert wheel_metadata.get_all("Provides-Extra") is None
    assert wheel_metadata.get_all("Requires-Dist") == [f"{nccl['wheel']}>={nccl['floor']},<3"] == [nccl["requirement"]]
    assert wheel_metadata["Version"] == build_info["version"]


def test_record_matches_the_rewritten_metadata(built_wheel: Path) -> None:
    # pip refuses a wheel whose RECORD hash does not match a file.
    subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", str(built_wheel)], check=True)


def test_comm_finds_nccl_beside_it_and_links_no_torch(unpacked_wheel: Path) -> None:
    entries = dynamic_section(extension(unpacked_wheel, "_comm"))
    assert "libnccl.so.2" in entries["NEEDED"]
    assert entries.get("RUNPATH", entries.get("RPATH")) == ["$ORIGIN/../nvidia/nccl/lib"]
    forbidden = [n for n in entries["NEEDED"] if n.startswith(("libtorch", "libc10", "libcudart"))]
    assert forbidden == []


def test_no_build_directory_in_any_rpath(unpacked_wheel: Path) -> None:
    for library in (unpacked_wheel / "ncclkit").glob("*.so"):
        entries = dynamic_section(library)
        paths = entries.get("RUNPATH", []) + entries.get("RPATH", [])
        assert all(p.startswith("$ORIGIN") for p in paths), (library.name, paths)


def test_build_info_records_every_choice(build_info: dict) -> None:
    major, minor = nvcc_version(find_nvcc(None))
    assert build_info["version"] == f"0.1.0+cu{major}{minor}"
    assert build_info["cuda"]["nvcc_version"].startswith(f"{major}.{minor}.")
    assert build_info["cuda"]["cudart"] == "static"
    assert build_info["cuda"]["archs_sass"], "no SASS arch recorded"
    assert build_info["cuda"]["archs_source"] in {"user", "visible-gpu", "default"}
    assert build_info["python"]["version"] == "{}.{}.{}".format(*sys.version_info[:3])
    assert build_info["python"]["soabi"] == sysconfig.get_config_var("SOABI")
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?|unknown", build_info["git_commit"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", build_info["build_time"])
    assert build_info["compiler"]["cxx"] and build_info["compiler"]["cuda"].startswith("NVIDIA ")
    nccl = build_info["nccl"]
    # Named by their place in the wheel: pip's build environment is temporary (reproducible builds).
    assert (nccl["include_dir"], nccl["library"]) == ("nvidia/nccl/include", "nvidia/nccl/lib/libnccl.so.2")
    installed = metadata.version(nccl["wheel"])
    assert nccl["version"] == installed.split(".post")[0]
    x, y, z = (int(p) for p in nccl["version"].split("."))
    assert nccl["version_code"] == x * 10000 + y * 100 + z
    features = build_info["features"]
    assert features["NCCLKIT_WITH_NCCL"] == 1
    assert features["NCCLKIT_NCCL_VERSION_CODE"] == nccl["version_code"]
    assert features["NCCLKIT_HAS_FP8"] == int(nccl["version_code"] >= 22400)


@pytest.mark.parametrize(("requested", "compatible"), [("0.1", True), ("0.1.0", True), ("0.2", False), ("1.0", False)])
def test_cmake_package_in_the_wheel_is_found_by_version(
    unpacked_wheel: Path, tmp_path: Path, requested: str, compatible: bool
) -> None:
    import pybind11

    proc = subprocess.run(
        ["cmake", "-S", str(REPO / "tests" / "cmake" / "consumer"), "-B", str(tmp_path)]
        + [f"-Dncclkit_DIR={unpacked_wheel / 'ncclkit' / 'cmake'}", f"-DPROBE_NCCLKIT_VERSION={requested}"]
        + [
            "-DPROBE_LANGUAGES=CXX;CUDA",
            f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
            f"-DPython_EXECUTABLE={sys.executable}",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "NCCLKIT_CUDA_ARCHS": "80"},
    )
    assert (proc.returncode == 0) is compatible, proc.stderr
    if not compatible:
        assert f'compatible with requested version "{requested}"' in words(proc.stderr)
        assert "version: 0.1.0" in proc.stderr
