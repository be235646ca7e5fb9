"""NCCLKIT_NCCL=source on NCCL-shaped source trees of both build styles: what ncclkit hands NCCL's
build, and how the result is linked. The real NCCL source is built on a GPU machine (docs/testing.md)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import nccl_trees
import pytest
from consumer_project import AVAILABLE, NVCC, Configure, configure
from wheel_rules import dynamic_section, exported_symbols

pytestmark = pytest.mark.skipif(not AVAILABLE, reason="needs cmake and the CUDA toolkit's nvcc")

STYLES = ["cmake", "make"]


def received(run: Configure) -> dict:
    return json.loads((run.build / "nccl" / "received.json").read_text())


def built(tmp_path: Path, style: str, *args: str, version: str = "2.30.7", **env: str) -> Configure:
    source = nccl_trees.source_tree(tmp_path / "nccl-src", version, style=style)
    run = configure(tmp_path, "NCCL", *args, NCCLKIT_NCCL="source", NCCL_SOURCE_DIR=str(source), **env)
    assert run.error == ""
    proc = run.compile()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return run


@pytest.mark.parametrize("style", STYLES)
def test_nccl_is_linked_statically_and_hidden(tmp_path: Path, style: str) -> None:
    run = built(tmp_path, style)
    (module,) = run.build.glob("_probe.*.so")
    # Consumed as NCCL::nccl_static: the library is inside the extension, its symbols are not exported.
    assert "libnccl.so.2" not in dynamic_section(module)["NEEDED"]
    assert "ncclGetVersion" not in exported_symbols(module)
    proc = subprocess.run(
        [sys.executable, "-c", "import _probe; print(_probe.nccl_get_version())"],
        capture_output=True,
        text=True,
        cwd=run.build,
    )
    assert proc.stdout.strip() == "23007", proc.stderr
    record = run.json("_probe.build.json")
    nccl = record["nccl"]
    assert (nccl["provider"], nccl["version"], nccl["static"], nccl["build_style"]) == ("source", "2.30.7", True, style)
    assert nccl["source_dir"] == str(tmp_path / "nccl-src")
    assert nccl["library"] == str(run.build / "nccl" / "lib" / "libnccl_static.a")
    assert record["features"]["NCCLKIT_HAS_COMM_SHRINK"] == 1


def test_cmake_style_gets_the_archs_and_builds_only_the_static_library(tmp_path: Path) -> None:
    run = built(tmp_path, "cmake", "ARCHS", "8.0 9.0a+PTX")
    # ARCHS of one extension are that extension's; NCCL gets the archs of the whole build.
    assert received(run) == {
        "CMAKE_CUDA_ARCHITECTURES": "80-real;80-virtual",
        "CMAKE_CUDA_COMPILER_LAUNCHER": "",
        "CMAKE_CXX_COMPILER_LAUNCHER": "",
        "CMAKE_CUDA_FLAGS": "",
        "CMAKE_BUILD_TYPE": "Release",
    }


def test_make_style_gets_gencode_flags_and_the_toolkit(tmp_path: Path) -> None:
    run = built(tmp_path, "make", NCCLKIT_CUDA_ARCHS="8.0 9.0a+PTX", CMAKE_BUILD_PARALLEL_LEVEL="3")
    got = received(run)
    assert got["NVCC_GENCODE"] == (
        "-gencode=arch=compute_80,code=sm_80 -gencode=arch=compute_90a,code=sm_90a "
        "-gencode=arch=compute_90a,code=compute_90a"
    )
    assert Path(got["NVCC"]).resolve() == Path(NVCC).resolve()
    assert Path(got["CUDA_HOME"], "bin", "nvcc").exists()
    assert got["jobs"] == "-j3"


@pytest.mark.parametrize("style", STYLES)
def test_launcher_and_nvcc_threads_reach_nccl(tmp_path: Path, style: str) -> None:
    launcher = tmp_path / "launcher"
    launcher.write_text('#!/bin/sh\nexec "$@"\n')
    launcher.chmod(launcher.stat().st_mode | stat.S_IXUSR)
    run = built(tmp_path, style, NVCC_THREADS="4", CMAKE_CUDA_COMPILER_LAUNCHER=str(launcher))
    got = received(run)
    if style == "cmake":
        assert (got["CMAKE_CUDA_COMPILER_LAUNCHER"], got["CMAKE_CXX_COMPILER_LAUNCHER"]) == (str(launcher),) * 2
        assert got["CMAKE_CUDA_FLAGS"] == "--threads 4"
    else:
        assert got["NVCC"].startswith(f"{launcher} ") and got["NVCC"].endswith(" --threads 4")


@pytest.mark.parametrize("style", STYLES)
def test_unchanged_nccl_is_not_rebuilt(tmp_path: Path, style: str) -> None:
    run = built(tmp_path, style)
    assert run.compile().returncode == 0
    assert (run.build / "nccl" / "compiles.log").read_text() == "compiled\n"


@pytest.mark.parametrize(
    ("env", "jobs"), [({"CMAKE_BUILD_PARALLEL_LEVEL": "3", "MAX_JOBS": "5"}, "3"), ({"MAX_JOBS": "5"}, "5")]
)
def test_parallel_jobs(tmp_path: Path, env: dict[str, str], jobs: str) -> None:
    nccl_trees.source_tree(tmp_path / "nccl-src", "2.30.7", style="make")
    run = configure(tmp_path, "NCCL", NCCLKIT_NCCL="source", NCCL_SOURCE_DIR=str(tmp_path / "nccl-src"), **env)
    assert f"built with its make build into {run.build / 'nccl'}: {jobs} jobs," in run.log


def test_default_jobs_are_bounded_by_cores(tmp_path: Path) -> None:
    nccl_trees.source_tree(tmp_path / "nccl-src", "2.30.7", style="make")
    run = configure(tmp_path, "NCCL", NCCLKIT_NCCL="source", NCCL_SOURCE_DIR=str(tmp_path / "nccl-src"))
    jobs = int(run.log.split("make build into ")[1].split(": ")[1].split(" jobs")[0])
    assert 1 <= jobs <= os.cpu_count()


def test_auto_builds_the_source_tree_unless_an_install_is_named(tmp_path: Path) -> None:
    source = nccl_trees.source_tree(tmp_path / "nccl-src", "2.30.7", style="make")
    run = configure(tmp_path, "NCCL", NCCLKIT_NCCL="auto", NCCL_SOURCE_DIR=str(source))
    assert run.json("_probe.build.json")["nccl"]["provider"] == "source"
    nccl_trees.prefix_tree(tmp_path / "installed", "2.28.3")
    run = configure(
        tmp_path, "NCCL", NCCLKIT_NCCL="auto", NCCL_SOURCE_DIR=str(source), NCCL_ROOT=str(tmp_path / "installed")
    )
    assert run.json("_probe.build.json")["nccl"]["provider"] == "explicit"


def test_source_without_a_tree(tmp_path: Path) -> None:
    run = configure(tmp_path, "NCCL", NCCLKIT_NCCL="source")
    assert run.error.startswith("NCCLKIT_NCCL=source, but there is no NCCL source:")
    assert "git submodule update --init third_party/nccl" in run.error


def test_source_dir_that_is_not_nccl(tmp_path: Path) -> None:
    run = configure(tmp_path, "NCCL", NCCLKIT_NCCL="source", NCCL_SOURCE_DIR=str(tmp_path))
    assert run.error.startswith(f"NCCL source tree {tmp_path} has no makefiles/version.mk: it is not an NCCL checkout.")


def test_source_too_old(tmp_path: Path) -> None:
    source = nccl_trees.source_tree(tmp_path / "nccl-src", "2.17.1", style="make")
    run = configure(tmp_path, "NCCL", NCCLKIT_NCCL="source", NCCL_SOURCE_DIR=str(source))
    assert run.error == f"NCCL source tree {source} is NCCL 2.17.1; ncclkit needs 2.18.0 or newer."


def test_source_refuses_a_shared_link(tmp_path: Path) -> None:
    source = nccl_trees.source_tree(tmp_path / "nccl-src", "2.30.7", style="make")
    run = configure(tmp_path, "NCCL", NCCLKIT_NCCL="source", NCCL_SOURCE_DIR=str(source), NCCLKIT_NCCL_STATIC="OFF")
    assert run.error.startswith("NCCLKIT_NCCL_STATIC=OFF (from the environment), but NCCL built from source")
