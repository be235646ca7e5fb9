"""cmake/FindRCCL.cmake on fake ROCm installs (RCCL itself is not installable on these machines)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import nccl_trees
import pytest
from cmake_output import first_error

REPO = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).parent / "find_rccl"

pytestmark = pytest.mark.skipif(shutil.which("cmake") is None, reason="needs cmake")


def find_rccl(tmp_path: Path, *defines: str, min_version: str = "2.18", **env: str) -> tuple[dict, str]:
    """(what FindRCCL reported, the first CMake error) with the environment cleared of ROCm hints."""
    build = tmp_path / "probe-build"
    shutil.rmtree(build, ignore_errors=True)
    clean = {k: v for k, v in nccl_trees.clean_environment().items() if k not in {"ROCM_PATH", "RCCL_ROOT"}}
    proc = subprocess.run(
        ["cmake", "-S", str(PROBE), "-B", str(build), f"-DRCCL_CMAKE_MODULE_DIR={REPO / 'cmake'}"]
        + [f"-DRCCL_MIN_VERSION={min_version}", *defines],
        capture_output=True,
        text=True,
        env={**clean, **env},
    )
    result = json.loads((build / "result.json").read_text()) if proc.returncode == 0 else {}
    return result, first_error(proc.stderr)


@pytest.mark.parametrize("source", ["cache", "environment"])
def test_rccl_root_with_the_rccl_directory_layout(tmp_path: Path, source: str) -> None:
    include, library = nccl_trees.rocm_tree(tmp_path / "rccl", "2.22.3")
    defines = [f"-DRCCL_ROOT={tmp_path / 'rccl'}"] if source == "cache" else []
    env = {"RCCL_ROOT": str(tmp_path / "rccl")} if source == "environment" else {}
    result, error = find_rccl(tmp_path, *defines, **env)
    assert error == ""
    assert result == {
        "RCCL_FOUND": "TRUE",
        "RCCL_VERSION": "2.22.3",
        "RCCL_VERSION_CODE": "22203",
        "RCCL_INCLUDE_DIR": str(include),
        "RCCL_HEADER": str(include / "rccl" / "rccl.h"),
        "RCCL_LIBRARY": str(library),
        "target_file": str(library),
        "target_includes": f"{include};{include / 'rccl'}",
    }


def test_rocm_path_with_the_flat_layout(tmp_path: Path) -> None:
    include, _ = nccl_trees.rocm_tree(tmp_path / "rocm", "2.18.3", flat=True)
    result, error = find_rccl(tmp_path, ROCM_PATH=str(tmp_path / "rocm"))
    assert error == ""
    assert (result["RCCL_HEADER"], result["RCCL_INCLUDE_DIR"]) == (str(include / "rccl.h"), str(include))
    assert result["target_includes"] == str(include)


def test_rccl_root_wins_over_rocm_path(tmp_path: Path) -> None:
    nccl_trees.rocm_tree(tmp_path / "rocm", "2.20.5")
    nccl_trees.rocm_tree(tmp_path / "rccl", "2.22.3")
    result, _ = find_rccl(tmp_path, RCCL_ROOT=str(tmp_path / "rccl"), ROCM_PATH=str(tmp_path / "rocm"))
    assert result["RCCL_VERSION"] == "2.22.3"


def test_opt_rocm_by_default(tmp_path: Path) -> None:
    sysroot = tmp_path / "sysroot"
    nccl_trees.rocm_tree(sysroot / "opt" / "rocm", "2.22.3")
    result, error = find_rccl(
        tmp_path,
        f"-DCMAKE_FIND_ROOT_PATH={sysroot}",
        "-DCMAKE_FIND_ROOT_PATH_MODE_INCLUDE=ONLY",
        "-DCMAKE_FIND_ROOT_PATH_MODE_LIBRARY=ONLY",
    )
    assert error == ""
    assert result["RCCL_LIBRARY"] == str(sysroot / "opt" / "rocm" / "lib" / "librccl.so")


def test_not_found_lists_every_place_and_the_fixes(tmp_path: Path) -> None:
    _, error = find_rccl(
        tmp_path,
        f"-DCMAKE_FIND_ROOT_PATH={tmp_path}",
        "-DCMAKE_FIND_ROOT_PATH_MODE_INCLUDE=ONLY",
        "-DCMAKE_FIND_ROOT_PATH_MODE_LIBRARY=ONLY",
        ROCM_PATH=str(tmp_path / "rocm"),
    )
    assert error == (
        'Could NOT find RCCL (missing: RCCL_LIBRARY RCCL_INCLUDE_DIR) (Required is at least version "2.18") '
        f"Reason given by package: RCCL was not found. Searched, in order: ROCM_PATH: {tmp_path / 'rocm'} "
        "default: /opt/rocm Set RCCL_ROOT to an RCCL install (include/rccl/rccl.h, lib/librccl.so) or ROCM_PATH "
        "to a ROCm install that has RCCL (apt install rccl-dev, or ROCm's installer)."
    )


def test_too_old(tmp_path: Path) -> None:
    nccl_trees.rocm_tree(tmp_path / "rccl", "2.17.1")
    _, error = find_rccl(tmp_path, RCCL_ROOT=str(tmp_path / "rccl"))
    assert error.startswith('Could NOT find RCCL: Found unsuitable version "2.17.1", but required is at least "2.18"')


def test_header_without_version_macros(tmp_path: Path) -> None:
    include, _ = nccl_trees.rocm_tree(tmp_path / "rccl", "2.22.3")
    (include / "rccl" / "rccl.h").write_text("#pragma once\n")
    _, error = find_rccl(tmp_path, RCCL_ROOT=str(tmp_path / "rccl"))
    assert error == f"{include / 'rccl' / 'rccl.h'} has no #define NCCL_MAJOR: it is not an RCCL header ncclkit knows."
