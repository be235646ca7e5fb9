"""NCCLKIT_ENABLE_BF16, NCCLKIT_ENABLE_FP8 and NCCLKIT_ENABLE_PDL: decided from the build's archs and the options,
written into ncclkit/kernel_config.h and handed on for the build record."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
include({repo}/cmake/NcclkitKernelFeatures.cmake)
ncclkit_kernel_features("{header}")
message(NOTICE "features=${{NCCLKIT_KERNEL_FEATURES}}")
"""


def kernel_features(tmp_path: Path, sass: str, ptx: str = "", **options: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "features.cmake"
    script.write_text(SCRIPT.format(repo=REPO, header=tmp_path / "ncclkit" / "kernel_config.h"))
    defines = [f"-DNCCLKIT_CUDA_ARCHS_SASS={sass}", f"-DNCCLKIT_CUDA_ARCHS_PTX={ptx}"]
    defines += [f"-D{name}={value}" for name, value in options.items()]
    return subprocess.run(
        [shutil.which("cmake") or "cmake", *defines, "-P", str(script)], capture_output=True, text=True
    )


@pytest.mark.parametrize(
    ("sass", "ptx", "features"),
    [
        ("75", "", "NCCLKIT_ENABLE_BF16=0;NCCLKIT_ENABLE_FP8=0;NCCLKIT_ENABLE_PDL=0"),
        ("75;80;86", "", "NCCLKIT_ENABLE_BF16=1;NCCLKIT_ENABLE_FP8=0;NCCLKIT_ENABLE_PDL=0"),
        ("89", "", "NCCLKIT_ENABLE_BF16=1;NCCLKIT_ENABLE_FP8=1;NCCLKIT_ENABLE_PDL=0"),
        # PTX counts: the driver builds it for newer GPUs
        ("80", "90", "NCCLKIT_ENABLE_BF16=1;NCCLKIT_ENABLE_FP8=1;NCCLKIT_ENABLE_PDL=1"),
        ("90a", "", "NCCLKIT_ENABLE_BF16=1;NCCLKIT_ENABLE_FP8=1;NCCLKIT_ENABLE_PDL=1"),
        ("100f;120", "120", "NCCLKIT_ENABLE_BF16=1;NCCLKIT_ENABLE_FP8=1;NCCLKIT_ENABLE_PDL=1"),
    ],
)
def test_from_the_archs(tmp_path: Path, sass: str, ptx: str, features: str) -> None:
    run = kernel_features(tmp_path, sass, ptx)
    assert run.returncode == 0, run.stderr
    assert f"features={features}" in run.stderr
    header = (tmp_path / "ncclkit" / "kernel_config.h").read_text()
    for feature in features.split(";"):
        assert "#define " + feature.replace("=", " ") + "\n" in header


def test_off_turns_a_dtype_off(tmp_path: Path) -> None:
    run = kernel_features(tmp_path, "90", NCCLKIT_ENABLE_BF16="off")
    assert "features=NCCLKIT_ENABLE_BF16=0;NCCLKIT_ENABLE_FP8=1;NCCLKIT_ENABLE_PDL=1" in run.stderr, run.stderr


def test_off_turns_programmatic_launch_off(tmp_path: Path) -> None:
    run = kernel_features(tmp_path, "90", NCCLKIT_ENABLE_PDL="off")
    assert "features=NCCLKIT_ENABLE_BF16=1;NCCLKIT_ENABLE_FP8=1;NCCLKIT_ENABLE_PDL=0" in run.stderr, run.stderr


def test_on_without_an_arch_that_has_it(tmp_path: Path) -> None:
    run = kernel_features(tmp_path, "75;80", NCCLKIT_ENABLE_FP8="on")
    assert run.returncode != 0
    message = " ".join(run.stderr.split())  # CMake wraps its messages
    assert (
        "NCCLKIT_ENABLE_FP8=on, but no arch of this build has FP8 (sm_89 or newer): the archs are SASS 75;80" in message
    )
