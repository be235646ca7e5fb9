"""The checkout configured by plain CMake, as a C++ developer would (`cmake -S . -B build`): it
configures with a Python that has pybind11, and says what is missing with one that has not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cmake_output import first_error
from consumer_project import AVAILABLE, NVCC

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not AVAILABLE, reason="needs cmake and the CUDA toolkit's nvcc")


def configure(tmp_path: Path, python: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["cmake", "-S", str(REPO), "-B", str(tmp_path / "build"), "-G", "Ninja", f"-DPython_EXECUTABLE={python}",
         f"-DCMAKE_CUDA_COMPILER={NVCC}", "-DNCCLKIT_CUDA_ARCHS=90"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_plain_cmake_configures_the_checkout(tmp_path: Path) -> None:
    done = configure(tmp_path, Path(sys.executable))
    assert done.returncode == 0, first_error(done.stderr)


def test_a_python_without_pybind11_is_named(tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    done = configure(tmp_path, bare / "bin" / "python")
    assert done.returncode != 0
    assert "ncclkit_add_extension(_cuda) builds a Python module with pybind11 3.0 or newer" in first_error(done.stderr)
    assert "Unknown CMake command" not in done.stderr
