"""cmake/FindNCCL.cmake on fake installs of every layout, and on the real nvidia-nccl wheel."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import nccl_trees  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).parent / "find_nccl"


def configure(tmp_path: Path, *defines: str, env: dict[str, str] | None = None,
              min_version: str = "2.18") -> subprocess.CompletedProcess[str]:
    build = tmp_path / "probe-build"
    shutil.rmtree(build, ignore_errors=True)
    return subprocess.run(
        ["cmake", "-S", str(PROBE), "-B", str(build), f"-DNCCLKIT_CMAKE_DIR={REPO / 'cmake'}",
         f"-DNCCL_MIN_VERSION={min_version}", *defines],
        capture_output=True, text=True, env={**nccl_trees.clean_environment(), **(env or {})},
    )


def found(proc: subprocess.CompletedProcess[str], tmp_path: Path) -> dict:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads((tmp_path / "probe-build" / "result.json").read_text())


def failure(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode != 0, proc.stdout
    return " ".join(proc.stderr.split())  # CMake wraps long messages


def expect(fake: nccl_trees.FakeNccl, provider: str, version: str) -> dict:
    return {
        "NCCL_PROVIDER": provider,
        "NCCL_VERSION": version,
        "NCCL_VERSION_CODE": str(int(version.split(".")[0]) * 10000 + int(version.split(".")[1]) * 100
                                 + int(version.split(".")[2])),
        "NCCL_VERSION_SUFFIX": "",
        "NCCL_INCLUDE_DIR": str(fake.include_dir),
        "NCCL_LIBRARY": str(fake.library),
        "NCCL_LIBRARY_DIR": str(fake.library.parent),
        "NCCL_LIBRARY_VERSION": version,
        "NCCL::nccl": True,
    }


def test_nccl_root_cache_variable(tmp_path: Path) -> None:
    fake = nccl_trees.prefix_install(tmp_path / "nccl", "2.28.3")
    proc = configure(tmp_path, f"-DNCCL_ROOT={tmp_path / 'nccl'}")
    assert found(proc, tmp_path) == expect(fake, "explicit", "2.28.3")


@pytest.mark.parametrize("variable", ["NCCL_ROOT", "NCCL_HOME"])
def test_root_environment_variables(tmp_path: Path, variable: str) -> None:
    fake = nccl_trees.prefix_install(tmp_path / "nccl", "2.27.7")
    proc = configure(tmp_path, env={variable: str(tmp_path / "nccl")})
    assert found(proc, tmp_path) == expect(fake, "explicit", "2.27.7")


def test_include_and_lib_dirs(tmp_path: Path) -> None:
    fake = nccl_trees.prefix_install(tmp_path / "nccl", "2.21.5")
    proc = configure(tmp_path, f"-DNCCL_INCLUDE_DIR={fake.include_dir}", env={"NCCL_LIB_DIR": str(fake.library.parent)})
    assert found(proc, tmp_path) == expect(fake, "explicit", "2.21.5")


def test_include_dir_without_lib_dir_is_an_error(tmp_path: Path) -> None:
    fake = nccl_trees.prefix_install(tmp_path / "nccl", "2.21.5")
    message = failure(configure(tmp_path, f"-DNCCL_INCLUDE_DIR={fake.include_dir}"))
    assert f"NCCL_INCLUDE_DIR ('{fake.include_dir}') and NCCL_LIB_DIR ('') go together" in message


def test_system_layout_under_a_sysroot(tmp_path: Path) -> None:
    fake = nccl_trees.system_install(tmp_path / "sysroot", "2.28.3")
    proc = configure(tmp_path, "-DNCCL_SEARCH_STEPS=system", f"-DCMAKE_FIND_ROOT_PATH={tmp_path / 'sysroot'}",
                     "-DCMAKE_FIND_ROOT_PATH_MODE_INCLUDE=ONLY", "-DCMAKE_FIND_ROOT_PATH_MODE_LIBRARY=ONLY")
    assert found(proc, tmp_path) == expect(fake, "system", "2.28.3")


def test_wheel_of_the_building_python(tmp_path: Path) -> None:
    fake = nccl_trees.wheel_install(tmp_path / "site", "2.28.9")
    python = nccl_trees.isolated_python(tmp_path / "bin", tmp_path / "site")
    proc = configure(tmp_path, "-DNCCL_SEARCH_STEPS=wheel", f"-DPython_EXECUTABLE={python}")
    assert found(proc, tmp_path) == expect(fake, "wheel", "2.28.9")


def test_installed_nccl_config_package(tmp_path: Path) -> None:
    fake = nccl_trees.config_install(tmp_path / "prefix", "2.28.3")
    proc = configure(tmp_path, f"-DCMAKE_PREFIX_PATH={tmp_path / 'prefix'}", "-DNCCL_SEARCH_STEPS=config")
    assert found(proc, tmp_path) == expect(fake, "config", "2.28.3")
    assert f"NCCL (config): {tmp_path / 'prefix'}/lib/cmake/NCCL/NCCLConfig.cmake" in proc.stdout


def test_toolkit_directory(tmp_path: Path) -> None:
    fake = nccl_trees.prefix_install(tmp_path / "cuda", "2.26.5")
    proc = configure(tmp_path, "-DNCCL_SEARCH_STEPS=toolkit", env={"CUDA_HOME": str(tmp_path / "cuda")})
    assert found(proc, tmp_path) == expect(fake, "toolkit", "2.26.5")


def test_explicit_root_wins_over_the_wheel(tmp_path: Path) -> None:
    fake = nccl_trees.prefix_install(tmp_path / "nccl", "2.28.3")
    nccl_trees.wheel_install(tmp_path / "site", "2.28.9")
    python = nccl_trees.isolated_python(tmp_path / "bin", tmp_path / "site")
    proc = configure(tmp_path, f"-DNCCL_ROOT={tmp_path / 'nccl'}", f"-DPython_EXECUTABLE={python}")
    assert found(proc, tmp_path)["NCCL_PROVIDER"] == "explicit"
    assert found(proc, tmp_path)["NCCL_LIBRARY"] == str(fake.library)


def test_search_steps_leave_out_the_others(tmp_path: Path) -> None:
    nccl_trees.prefix_install(tmp_path / "nccl", "2.28.3")
    fake = nccl_trees.wheel_install(tmp_path / "site", "2.28.9")
    python = nccl_trees.isolated_python(tmp_path / "bin", tmp_path / "site")
    proc = configure(tmp_path, "-DNCCL_SEARCH_STEPS=wheel", f"-DNCCL_ROOT={tmp_path / 'nccl'}",
                     f"-DPython_EXECUTABLE={python}")
    assert found(proc, tmp_path) == expect(fake, "wheel", "2.28.9")


def test_static_library(tmp_path: Path) -> None:
    fake = nccl_trees.prefix_install(tmp_path / "nccl", "2.28.3", static=True)
    proc = configure(tmp_path, f"-DNCCL_ROOT={tmp_path / 'nccl'}", "-DNCCL_USE_STATIC=ON")
    result = found(proc, tmp_path)
    assert result["NCCL_LIBRARY"] == str(fake.library)
    assert result["NCCL::nccl_static"] is True
    assert "NCCL::nccl" not in result


def test_nothing_found_lists_every_place_and_the_fixes(tmp_path: Path) -> None:
    python = nccl_trees.isolated_python(tmp_path / "bin", tmp_path / "empty-site")
    (tmp_path / "sysroot").mkdir()
    proc = configure(tmp_path, f"-DPython_EXECUTABLE={python}", f"-DCMAKE_FIND_ROOT_PATH={tmp_path / 'sysroot'}",
                     "-DCMAKE_FIND_ROOT_PATH_MODE_INCLUDE=ONLY", "-DCMAKE_FIND_ROOT_PATH_MODE_LIBRARY=ONLY",
                     env={"NCCL_ROOT": str(tmp_path / "nowhere"), "CUDA_HOME": str(tmp_path / "cuda")})
    message = failure(proc)
    assert "Could NOT find NCCL (missing: NCCL_LIBRARY NCCL_INCLUDE_DIR)" in message
    assert " ".join(
        f"NCCL was not found. Searched (NCCL_SEARCH_STEPS: explicit config wheel toolkit system): "
        f"explicit: {tmp_path}/nowhere/include explicit: {tmp_path}/nowhere/lib explicit: {tmp_path}/nowhere/lib64 "
        "config: NCCLConfig.cmake in CMAKE_PREFIX_PATH and the system prefixes "
        f"wheel: no nvidia.nccl package for {python} "
        f"toolkit: {tmp_path}/cuda/include toolkit: {tmp_path}/cuda/lib64 toolkit: {tmp_path}/cuda/lib "
        f"system: /usr/include (under CMAKE_FIND_ROOT_PATH {tmp_path}/sysroot) "
        f"system: /usr/local/include (under CMAKE_FIND_ROOT_PATH {tmp_path}/sysroot) "
        f"system: /usr/lib/x86_64-linux-gnu (under CMAKE_FIND_ROOT_PATH {tmp_path}/sysroot)".split()
    ) in message
    assert "Fix it one of three ways: 1. NCCL_ROOT=/path/to/nccl" in message
    assert "2. NCCL_INCLUDE_DIR=/path/to/include and NCCL_LIB_DIR=/path/to/lib" in message
    assert "3. pip install nvidia-nccl-cu13 (nvidia-nccl-cu12 for CUDA 12), with NCCLKIT_NCCL=wheel or auto" in message


def test_header_and_library_of_different_nccls_is_an_error_naming_both(tmp_path: Path) -> None:
    fake = nccl_trees.prefix_install(tmp_path / "nccl", "2.28.9", library_version="2.27.3")
    message = failure(configure(tmp_path, f"-DNCCL_ROOT={tmp_path / 'nccl'}"))
    assert (
        f"NCCL header and library versions differ: {fake.include_dir}/nccl.h is NCCL 2.28.9 "
        f"{fake.library} is NCCL 2.27.3 Point NCCL_INCLUDE_DIR and NCCL_LIB_DIR (or NCCL_ROOT) at one NCCL install."
    ) in message


def test_too_old_version_names_the_version_and_path(tmp_path: Path) -> None:
    fake = nccl_trees.prefix_install(tmp_path / "nccl", "2.17.1")
    message = failure(configure(tmp_path, f"-DNCCL_ROOT={tmp_path / 'nccl'}"))
    assert f'Could NOT find NCCL: Found unsuitable version "2.17.1", but required is at least "2.18" (found {fake.library})' in message


def test_real_nvidia_nccl_wheel(tmp_path: Path) -> None:
    from importlib import metadata
    from importlib.util import find_spec

    spec = find_spec("nvidia.nccl") if find_spec("nvidia") else None
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("no nvidia-nccl wheel installed (pip install nvidia-nccl-cu13)")
    (nccl_dir,) = spec.submodule_search_locations
    version = next(metadata.version(d) for d in ("nvidia-nccl-cu13", "nvidia-nccl-cu12") if _installed(d))
    proc = configure(tmp_path, "-DNCCL_SEARCH_STEPS=wheel", f"-DPython_EXECUTABLE={sys.executable}")
    result = found(proc, tmp_path)
    assert result["NCCL_PROVIDER"] == "wheel"
    assert result["NCCL_VERSION"] == result["NCCL_LIBRARY_VERSION"] == version.split(".post")[0]
    assert result["NCCL_LIBRARY"] == f"{nccl_dir}/lib/libnccl.so.2"


def _installed(distribution: str) -> bool:
    from importlib import metadata

    try:
        metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True
