"""ncclkit's collective extension compiled as HIP against RCCL (NCCLKIT_NCCL=rccl).

RCCL is not installed here and there is no AMD GPU: the RCCL install is made by the test from the
real nccl.h of the nvidia-nccl wheel, in HIP's spelling, beside an empty librccl.so. The
extension compiles and links against that API; nothing of it runs.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import nccl_trees
import pybind11
import pytest
from cmake_output import first_error
from hip_toolchain import HIP, SKIP_REASON
from wheel_rules import dynamic_section

REPO = Path(__file__).resolve().parents[2]
NCCL_SPEC = importlib.util.find_spec("nvidia.nccl")

pytestmark = [
    pytest.mark.skipif(HIP is None, reason=SKIP_REASON),
    pytest.mark.skipif(NCCL_SPEC is None, reason="needs the nvidia-nccl wheel's nccl.h (pip install nvidia-nccl-cu13)"),
]


def configure(tmp_path: Path, *defines: str, **env: str) -> subprocess.CompletedProcess[str]:
    args, hip_env = HIP
    return subprocess.run(
        ["cmake", "-S", str(REPO), "-B", str(tmp_path / "build"), "-G", "Ninja", *args, *defines]
        + [f"-Dpybind11_DIR={pybind11.get_cmake_dir()}", f"-DPython_EXECUTABLE={sys.executable}"],
        capture_output=True,
        text=True,
        env={**nccl_trees.clean_environment(), **hip_env, "NCCLKIT_NCCL": "rccl", **env},
    )


@pytest.fixture(scope="module")
def rccl(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path]:
    """An RCCL install with the real NCCL API: its prefix, version and library."""
    prefix = tmp_path_factory.mktemp("rocm")
    (nccl_dir,) = NCCL_SPEC.submodule_search_locations
    version, library = nccl_trees.rccl_api_tree(prefix, Path(nccl_dir) / "include" / "nccl.h")
    return prefix, version, library


def test_collective_extension_compiles_as_hip_against_rccl(tmp_path: Path, rccl: tuple[Path, str, Path]) -> None:
    prefix, version, library = rccl
    run = configure(tmp_path, "-DCMAKE_HIP_ARCHITECTURES=gfx908;gfx90a", RCCL_ROOT=str(prefix))
    assert run.returncode == 0, run.stdout + run.stderr
    build = tmp_path / "build"
    built = subprocess.run(["cmake", "--build", str(build)], capture_output=True, text=True)
    assert built.returncode == 0, built.stdout + built.stderr

    assert not (build / "src" / "_cuda.build.json").exists()  # the CUDA runtime probe is CUDA's alone
    record = json.loads((build / "src" / "_comm.build.json").read_text())
    assert record["nccl"]["provider"] == "rccl"
    assert (record["nccl"]["version"], record["nccl"]["library"]) == (version, str(library))
    assert record["hip"]["archs"] == ["gfx908", "gfx90a"]
    assert "cuda" not in record
    assert record["compiler"]["hip"].startswith("Clang ")
    features = record["features"]
    assert (features["NCCLKIT_WITH_RCCL"], features["NCCLKIT_WITH_NCCL"]) == (1, 0)
    assert features["NCCLKIT_NCCL_VERSION_CODE"] == nccl_trees.version_code(version)
    assert features["NCCLKIT_HAS_COMM_SHRINK"] == 1  # the feature gates read RCCL's NCCL-compatible version

    (module,) = (build / "src").glob("_comm.*.so")
    needed = dynamic_section(module)["NEEDED"]
    assert "librccl.so.1" in needed
    assert any(name.startswith("libamdhip64.so") for name in needed)
    assert not any(name.startswith(("libnccl", "libcudart")) for name in needed)
    nm = subprocess.run(["nm", "-D", "--undefined-only", str(module)], capture_output=True, text=True).stdout
    undefined = {line.split()[-1] for line in nm.splitlines()}
    assert {"ncclAllReduce", "ncclCommInitRankConfig", "ncclGroupStart"} <= undefined


def test_rccl_not_found_names_where_it_looked(tmp_path: Path) -> None:
    run = configure(tmp_path, RCCL_ROOT=str(tmp_path / "nowhere"))
    error = first_error(run.stderr)
    assert f"RCCL was not found. Searched, in order: RCCL_ROOT: {tmp_path / 'nowhere'}" in error
    assert "Set RCCL_ROOT to an RCCL install" in error


def test_cuda_archs_are_refused_in_a_hip_build(tmp_path: Path, rccl: tuple[Path, str, Path]) -> None:
    run = configure(tmp_path, RCCL_ROOT=str(rccl[0]), NCCLKIT_CUDA_ARCHS="90")
    assert first_error(run.stderr).startswith("NCCLKIT_CUDA_ARCHS='90', but this build compiles HIP, not CUDA.")
