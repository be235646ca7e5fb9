"""ncclkit_target_cuda_sources: CUDA sources that build for some archs only, as vLLM's
arch-specific kernels do, compiled into a shared library and read back from its fatbin."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cmake_output import first_error, words
from consumer_project import AVAILABLE, NVCC
from wheel_rules import tools

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not AVAILABLE, reason="needs cmake and the CUDA toolkit's nvcc")

PROJECT = """cmake_minimum_required(VERSION 3.25)
project(archs LANGUAGES CXX CUDA)
find_package(ncclkit CONFIG REQUIRED)
add_library(kernels SHARED common.cu)
target_compile_definitions(kernels PRIVATE FROM_THE_TARGET=1)
ncclkit_target_cuda(kernels ARCHS "80;90")
ncclkit_target_cuda_sources(kernels {call})
message(STATUS "built archs: [${{built}}]")
ncclkit_target_build_record(kernels)
"""
COMMON = "__global__ void common_kernel(float* x) { x[0] = 1.0f; }\n"
# Compiles only where the target's definitions reach it, and only for sm_90a.
HOPPER = """#if !FROM_THE_TARGET
#error the target's definitions did not reach this source
#endif
__global__ void hopper_kernel(float* x) {
#if defined(__CUDA_ARCH__) && !defined(__CUDA_ARCH_FEAT_SM90_ALL)
#error compiled for another arch than sm_90a
#endif
  x[0] = 2.0f;
}
"""


def configure(tmp_path: Path, call: str, *, build: bool = True) -> subprocess.CompletedProcess[str]:
    (tmp_path / "CMakeLists.txt").write_text(PROJECT.format(call=call))
    (tmp_path / "common.cu").write_text(COMMON)
    (tmp_path / "hopper.cu").write_text(HOPPER)
    (tmp_path / "blackwell.cu").write_text("#error not to be compiled for a target of 80;90\n")
    done = subprocess.run(
        [
            "cmake",
            "-S",
            str(tmp_path),
            "-B",
            str(tmp_path / "build"),
            "-G",
            "Ninja",
            f"-DCMAKE_CUDA_COMPILER={NVCC}",
            f"-Dncclkit_DIR={REPO / 'cmake'}",
            "-DNCCLKIT_NCCL=off",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if build and done.returncode == 0:
        built = subprocess.run(
            ["cmake", "--build", str(tmp_path / "build")], capture_output=True, text=True, check=False
        )
        assert built.returncode == 0, built.stdout[-3000:]
    return done


def test_sources_build_for_the_archs_they_and_the_target_share(tmp_path: Path) -> None:
    done = configure(tmp_path, 'ARCHS "9.0a 10.0a" SOURCES hopper.cu BUILT_ARCHS built')
    assert done.returncode == 0, first_error(done.stderr)
    assert "built archs: [90a]" in done.stdout
    assert "ncclkit_target_cuda_sources(kernels): hopper.cu for 90a" in done.stdout
    record = json.loads((tmp_path / "build" / "kernels.build.json").read_text())
    assert record["cuda"]["archs_sass"] == ["80", "90"]
    assert record["cuda"]["source_archs"] == [{"sources": ["hopper.cu"], "archs_sass": ["90a"]}]
    if tools.find("cuobjdump") is None:
        pytest.skip("cuobjdump is not installed (the test extra installs nvidia-cuda-cuobjdump)")
    listing = tools.run("cuobjdump", "--list-elf", str(tmp_path / "build" / "libkernels.so"))
    archs = sorted({line.rsplit(".", 2)[-2] for line in listing.splitlines() if ".sm_" in line})
    assert archs == ["sm_80", "sm_90", "sm_90a"]


def test_sources_for_no_arch_of_the_target_are_not_compiled(tmp_path: Path) -> None:
    done = configure(tmp_path, 'ARCHS "10.0a" SOURCES blackwell.cu BUILT_ARCHS built')
    assert done.returncode == 0, first_error(done.stderr)
    assert "built archs: []" in done.stdout
    assert "blackwell.cu build for 100a, and kernels for none of them: not compiled" in words(done.stdout)
    record = json.loads((tmp_path / "build" / "kernels.build.json").read_text())
    assert record["cuda"]["source_archs"] == [{"sources": ["blackwell.cu"], "archs_sass": []}]


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (
            'ARCHS "sm_90" SOURCES hopper.cu',
            "ncclkit_target_cuda_sources(kernels) ARCHS: 'sm_90' is not an arch like 80",
        ),
        ("SOURCES hopper.cu", "ncclkit_target_cuda_sources(kernels): give the SOURCES and the ARCHS they build for"),
        (
            'COLOUR red ARCHS "9.0a" SOURCES hopper.cu',
            "ncclkit_target_cuda_sources(kernels): unknown arguments COLOUR;red",
        ),
    ],
)
def test_a_bad_call_names_the_function_and_what_is_wrong(tmp_path: Path, call: str, error: str) -> None:
    done = configure(tmp_path, call, build=False)
    assert done.returncode != 0
    assert error in first_error(done.stderr)
