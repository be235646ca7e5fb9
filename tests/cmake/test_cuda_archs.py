"""NCCLKIT_CUDA_ARCHS: both spellings, the defaults, and archs nvcc cannot build."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NVCC = shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc"

pytestmark = pytest.mark.skipif(not Path(NVCC).exists(), reason="needs the CUDA toolkit's nvcc")

SCRIPT = """
include({repo}/cmake/NcclkitCudaArchs.cmake)
ncclkit_cuda_archs("${{SPEC}}")
message(NOTICE "targets=${{NCCLKIT_CUDA_ARCHITECTURES}}")
message(NOTICE "source=${{NCCLKIT_CUDA_ARCHS_SOURCE}}")
ncclkit_nvcc_gencode(gencode)
message(NOTICE "gencode=${{gencode}}")
"""


def nvcc_sass() -> list[str]:
    out = subprocess.run([NVCC, "--list-gpu-code"], check=True, capture_output=True, text=True).stdout
    return [line.removeprefix("sm_") for line in out.split()]


def run_archs(tmp_path: Path, spec: str, path: str = "") -> subprocess.CompletedProcess[str]:
    script = tmp_path / "archs.cmake"
    script.write_text(SCRIPT.format(repo=REPO))
    version = subprocess.run([NVCC, "--version"], check=True, capture_output=True, text=True).stdout
    env = {**os.environ, "PATH": path or str(tmp_path)}  # no nvidia-smi unless the test puts one there
    return subprocess.run(
        [
            "cmake",
            f"-DSPEC={spec}",
            f"-DCMAKE_CUDA_COMPILER={NVCC}",
            f"-DCMAKE_CUDA_COMPILER_VERSION={version.split('release ')[1].split(',')[0]}",
            "-P",
            str(script),
        ],
        capture_output=True,
        text=True,
        env=env,
        executable=shutil.which("cmake"),
    )


def result(proc: subprocess.CompletedProcess[str]) -> dict[str, str]:
    assert proc.returncode == 0, proc.stderr
    return dict(line.split("=", 1) for line in proc.stderr.splitlines() if "=" in line and not line.startswith("--"))


@pytest.mark.parametrize(
    ("spec", "targets"),
    [
        ("80;90a", "80-real;90a-real;80-virtual;90a-virtual"),
        ("80-real;90-virtual", "80-real;90-virtual"),
        ("8.0 9.0a+PTX", "80-real;90a-real;90a-virtual"),
        ("8.0;8.6", "80-real;86-real"),
        ("7.5 8.0 8.6+PTX", "75-real;80-real;86-real;86-virtual"),
    ],
)
def test_both_spellings(tmp_path: Path, spec: str, targets: str) -> None:
    got = result(run_archs(tmp_path, spec))
    assert (got["targets"], got["source"]) == (targets, "user")


@pytest.mark.parametrize(
    ("spec", "gencode"),
    [
        (
            "8.0 9.0a+PTX",
            "-gencode=arch=compute_80,code=sm_80 -gencode=arch=compute_90a,code=sm_90a "
            "-gencode=arch=compute_90a,code=compute_90a",
        ),
        ("90-virtual", "-gencode=arch=compute_90,code=compute_90"),
        (
            "80;100f",
            "-gencode=arch=compute_80,code=sm_80 -gencode=arch=compute_100f,code=sm_100f "
            "-gencode=arch=compute_80,code=compute_80 -gencode=arch=compute_100f,code=compute_100f",
        ),
    ],
)
def test_nvcc_gencode_for_makefile_builds(tmp_path: Path, spec: str, gencode: str) -> None:
    """TORCH_CUDA_ARCH_LIST or CMake spelling -> CUDA_ARCHITECTURES -> NVCC_GENCODE, as NCCL's Makefile takes it."""
    assert result(run_archs(tmp_path, spec))["gencode"] == gencode


def test_default_without_a_gpu_is_a_compact_list_plus_ptx_of_the_newest(tmp_path: Path) -> None:
    can = nvcc_sass()
    sass = [a for a in ["75", "80", "86", "89", "90", "100", "120"] if a in can]
    expected = ";".join([f"{a}-real" for a in sass] + [f"{sass[-1]}-virtual"])
    got = result(run_archs(tmp_path, ""))
    assert (got["targets"], got["source"]) == (expected, "default")


def test_default_with_a_gpu_is_its_arch(tmp_path: Path) -> None:
    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 9.0\necho 9.0\n")
    smi.chmod(0o755)
    got = result(run_archs(tmp_path, ""))
    assert (got["targets"], got["source"]) == ("90-real", "visible-gpu")


def test_native_without_a_gpu_is_an_error(tmp_path: Path) -> None:
    proc = run_archs(tmp_path, "native")
    assert proc.returncode != 0
    assert "NCCLKIT_CUDA_ARCHS=native, but nvidia-smi shows no GPU" in proc.stderr


def test_arch_nvcc_cannot_build_is_an_error_listing_what_it_can(tmp_path: Path) -> None:
    proc = run_archs(tmp_path, "35;90")
    assert proc.returncode != 0
    assert "NCCLKIT_CUDA_ARCHS='35;90' asks for sass 35, ptx 35, which nvcc" in proc.stderr
    assert "It builds SASS for: " + " ".join(nvcc_sass()) in " ".join(proc.stderr.split())


@pytest.mark.parametrize("spec", ["sm_80", "8.0.1", "80-fast"])
def test_malformed_arch_is_an_error_naming_it(tmp_path: Path, spec: str) -> None:
    proc = run_archs(tmp_path, spec)
    assert proc.returncode != 0
    assert f"NCCLKIT_CUDA_ARCHS: '{spec}' is not an arch" in proc.stderr


@pytest.mark.parametrize(
    ("spec", "asked"),
    [
        ("80a", "sass 80a, ptx 80a"),
        ("8.0a", "sass 80a"),
        ("90f", "sass 90f, ptx 90f"),
        ("75f", "sass 75f, ptx 75f"),
        ("8.6a+PTX", "sass 86a, ptx 86a"),
    ],
)
def test_a_suffix_nvcc_has_not_for_that_arch_is_an_error(tmp_path: Path, spec: str, asked: str) -> None:
    """nvcc lists base archs; 80a or 90f pass that list and would fail at the first compile."""
    proc = run_archs(tmp_path, spec)
    assert proc.returncode != 0
    assert f"NCCLKIT_CUDA_ARCHS='{spec.lower()}' asks for {asked}, which nvcc" in proc.stderr


@pytest.mark.parametrize("spec", [" ", ";", ",", ", ;"])
def test_a_spec_of_separators_only_is_an_error(tmp_path: Path, spec: str) -> None:
    proc = run_archs(tmp_path, spec)
    assert proc.returncode != 0
    assert f"NCCLKIT_CUDA_ARCHS='{spec}' names no arch" in proc.stderr


@pytest.mark.parametrize("spec", ["0", "off", "No", "FALSE"])
def test_a_false_value_is_an_error_not_the_default_list(tmp_path: Path, spec: str) -> None:
    proc = run_archs(tmp_path, spec)
    assert proc.returncode != 0
    assert f"NCCLKIT_CUDA_ARCHS='{spec.lower()}': the CUDA code cannot be turned off" in proc.stderr
