"""tests/cmake/consumer, a project that builds one extension with ncclkit's CMake package."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nccl_trees
import pybind11
from cmake_output import first_error

REPO = Path(__file__).resolve().parents[1]
PROJECT = REPO / "tests" / "cmake" / "consumer"
NVCC = shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc"
AVAILABLE = shutil.which("cmake") is not None and Path(NVCC).exists()


@dataclasses.dataclass(frozen=True)
class Configure:
    build: Path
    log: str
    error: str
    env: dict[str, str]
    stderr: str

    def json(self, name: str) -> dict:
        return json.loads((self.build / name).read_text())

    def compile(self) -> subprocess.CompletedProcess[str]:
        """Builds the configured project, as `cmake --build` in the same environment."""
        return subprocess.run(["cmake", "--build", str(self.build)], capture_output=True, text=True, env=self.env)


def configure(
    tmp_path: Path,
    *args: str,
    languages: str = "CXX;CUDA",
    python: Path | None = None,
    defines: tuple[str, ...] = (),
    nvcc: str | None = NVCC,
    cmake_minimum: str = "3.25",
    cmake: str = "cmake",
    pybind11_dir: bool = True,
    **env: str,
) -> Configure:
    """Configures the project into tmp_path/build with `ncclkit_add_extension(_probe SOURCES probe.cpp <args>)`.

    The environment is cleared of NCCL and CUDA hints; NCCLKIT_CUDA_ARCHS=80 and NCCLKIT_NCCL=system
    unless `env` says otherwise. `nvcc=None` leaves the CUDA compiler for the project to find;
    `cmake_minimum` is the project's cmake_minimum_required (and so its policies), `cmake` the
    CMake that configures it; `pybind11_dir=False` leaves pybind11 for the package to find.
    """
    build = tmp_path / "build"
    shutil.rmtree(build, ignore_errors=True)
    full_env = {**nccl_trees.clean_environment(), "NCCLKIT_CUDA_ARCHS": "80", "NCCLKIT_NCCL": "system", **env}
    proc = subprocess.run(
        [
            cmake,
            "-S",
            str(PROJECT),
            "-B",
            str(build),
            "-G",
            "Ninja",
            f"-Dncclkit_DIR={REPO / 'cmake'}",
            *([f"-Dpybind11_DIR={pybind11.get_cmake_dir()}"] if pybind11_dir else []),
            f"-DPython_EXECUTABLE={python or sys.executable}",
            *([f"-DCMAKE_CUDA_COMPILER={nvcc}"] if nvcc else []),
            f"-DPROBE_CMAKE_MINIMUM={cmake_minimum}",
            f"-DPROBE_LANGUAGES={languages}",
            f"-DPROBE_ARGS={';'.join(args)}",
            *defines,
        ],
        capture_output=True,
        text=True,
        env=full_env,
    )
    return Configure(build, proc.stdout, first_error(proc.stderr), full_env, proc.stderr)
