"""A project using ncclkit's CMake package: find_package(ncclkit) + ncclkit_add_extension().

Configure only (the fake NCCL installs hold no code to link); tests/packaging builds and runs a
real consumer, examples/extension.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import nccl_trees
import pytest
from cmake_output import words
from consumer_project import AVAILABLE, configure
from hip_toolchain import HIP, SKIP_REASON

pytestmark = pytest.mark.skipif(not AVAILABLE, reason="needs cmake and the CUDA toolkit's nvcc")


def test_extension_gets_config_header_and_build_record(tmp_path: Path) -> None:
    fake = nccl_trees.prefix_tree(tmp_path / "nccl", "2.18.3")
    run = configure(tmp_path, "NCCL", "FEATURES", "COMM_SPLIT", NCCL_ROOT=str(tmp_path / "nccl"))
    assert run.error == ""
    config_h = (run.build / "_probe_include" / "ncclkit" / "config.h").read_text()
    assert "#define NCCLKIT_NCCL_VERSION_CODE 21803\n" in config_h
    assert "#define NCCLKIT_HAS_COMM_SPLIT 1\n" in config_h
    assert "#define NCCLKIT_HAS_FP8 0\n" in config_h
    # The table once more as an X-macro: every feature the header defines a NCCLKIT_HAS_ for.
    (x_macro,) = re.findall(r"^#define NCCLKIT_NCCL_FEATURES\(X\)(.*)$", config_h, re.MULTILINE)
    listed = re.findall(r"X\((\w+), (\d+)\)", x_macro)
    assert [name for name, _ in listed] == re.findall(r"^#define NCCLKIT_HAS_(\w+) [01]$", config_h, re.MULTILINE)
    assert ("COMM_SPLIT", "21800") in listed and ("FP8", "22400") in listed
    record = run.json("_probe.build.json")
    assert (record["package"], record["module"], record["nccl"]["provider"]) == (
        "consumer",
        "consumer._probe",
        "explicit",
    )
    assert (record["nccl"]["version"], record["nccl"]["library"]) == ("2.18.3", str(fake.library))
    assert (record["cuda"]["archs_sass"], record["cuda"]["archs_ptx"]) == (["80"], ["80"])
    assert record["features"]["NCCLKIT_HAS_BUFFER_REGISTRATION"] == 0
    probe = run.json("probe.json")
    assert (probe["links_nccl"], probe["links_nccl_static"]) == ("1", "0")
    assert probe["install_rpath"] == str(fake.library.parent)
    assert probe["cuda_architectures"] == "80-real;80-virtual"


def test_extension_without_nccl_needs_none(tmp_path: Path) -> None:
    run = configure(tmp_path)
    assert run.error == ""
    assert "-- NCCL " not in run.log  # FindNCCL never ran
    record = run.json("_probe.build.json")
    assert record["nccl"]["provider"] == "off"
    assert record["features"]["NCCLKIT_WITH_NCCL"] == 0
    assert run.json("probe.json")["links_nccl"] == "0"


def test_archs_of_one_extension_in_either_spelling(tmp_path: Path) -> None:
    run = configure(tmp_path, "ARCHS", "8.6", "9.0+PTX")
    assert run.json("probe.json")["cuda_architectures"] == "86-real;90-real;90-virtual"
    assert run.json("_probe.build.json")["cuda"]["archs_source"] == "extension"


def test_wheel_nccl_is_found_beside_a_nested_package_at_run_time(tmp_path: Path) -> None:
    nccl_trees.wheel_tree(tmp_path / "site", "2.28.9")
    python = nccl_trees.isolated_python(tmp_path / "bin", tmp_path / "site")
    run = configure(tmp_path, "NCCL", "DESTINATION", "mypkg/ops", python=python, NCCLKIT_NCCL="wheel")
    assert run.error == ""
    assert run.json("probe.json")["install_rpath"] == "$ORIGIN/../../nvidia/nccl/lib"
    record = run.json("_probe.build.json")
    assert (record["module"], record["nccl"]["wheel"]) == ("mypkg.ops._probe", "nvidia-nccl-cu13")


def test_static_nccl(tmp_path: Path) -> None:
    nccl_trees.prefix_tree(tmp_path / "nccl", "2.28.3", static=True)
    run = configure(tmp_path, "NCCL", NCCL_ROOT=str(tmp_path / "nccl"), NCCLKIT_NCCL_STATIC="ON")
    probe = run.json("probe.json")
    assert (probe["links_nccl"], probe["links_nccl_static"], probe["install_rpath"]) == ("0", "1", "")
    assert run.json("_probe.build.json")["nccl"]["static"] is True


# The errors are ncclkit's own: the same modules make them.


def test_nccl_not_found(tmp_path: Path) -> None:
    run = configure(tmp_path, "NCCL")
    assert run.error.startswith(
        'Could NOT find NCCL (missing: NCCL_LIBRARY NCCL_INCLUDE_DIR) (Required is at least version "2.18.0")'
    )
    assert "explicit: none of NCCL_INCLUDE_DIR, NCCL_LIB_DIR, NCCL_ROOT, NCCL_HOME is set" in run.error
    assert words("Fix it one of three ways: 1. NCCL_ROOT=/path/to/nccl") in run.error


def test_feature_the_nccl_lacks(tmp_path: Path) -> None:
    nccl_trees.prefix_tree(tmp_path / "nccl", "2.18.3")
    run = configure(tmp_path, "NCCL", "FEATURES", "COMM_SPLIT", "fp8", "COMM_SHRINK", NCCL_ROOT=str(tmp_path / "nccl"))
    assert run.error == words(
        f"ncclkit_target_link_nccl(_probe) needs FP8 (NCCL 2.24.0), COMM_SHRINK (NCCL 2.27.0), but NCCL 2.18.3 "
        f"({tmp_path / 'nccl' / 'include'}, found by the explicit step) is older. Use a newer NCCL: "
        "pip install -U nvidia-nccl-cu13, or NCCL_ROOT=<a newer install>."
    )


def test_unknown_feature(tmp_path: Path) -> None:
    nccl_trees.prefix_tree(tmp_path / "nccl", "2.28.3")
    run = configure(tmp_path, "NCCL", "FEATURES", "TELEPORT", NCCL_ROOT=str(tmp_path / "nccl"))
    expected = "ncclkit_target_link_nccl(_probe): unknown feature 'TELEPORT'. Features: CORE, BF16, AVG,"
    assert run.error.startswith(expected)


def test_arch_nvcc_cannot_build(tmp_path: Path) -> None:
    run = configure(tmp_path, "ARCHS", "35")
    assert run.error.startswith("ncclkit_target_cuda(_probe) ARCHS='35' asks for sass 35, ptx 35, which nvcc ")
    assert "Choose archs from that list, or use an nvcc that supports them." in run.error


def test_nccl_asked_for_while_off(tmp_path: Path) -> None:
    run = configure(tmp_path, "NCCL", NCCLKIT_NCCL="off")
    assert run.error.startswith("An extension asks for NCCL, but NCCLKIT_NCCL=off.")


def test_a_pybind11_module_cannot_be_of_the_limited_api(tmp_path: Path) -> None:
    run = configure(tmp_path, defines=("-DSKBUILD_SABI_VERSION=3.10",))  # as wheel.py-api = "cp310" sets it
    assert run.error.startswith(
        "ncclkit_add_extension(_probe): wheel.py-api asks for the Python limited API (abi3, Python 3.10), and a "
        "pybind11 module cannot be built for it."
    )


def test_rccl_keyword_needs_a_rocm_build(tmp_path: Path) -> None:
    run = configure(tmp_path, "RCCL")  # NCCLKIT_NCCL=system
    assert run.error == (
        "ncclkit_add_extension(_probe ... RCCL) links RCCL, but NCCLKIT_NCCL=system. "
        "Set NCCLKIT_NCCL=rccl for a ROCm build, or ask for NCCL."
    )


def test_rccl_in_a_project_without_hip(tmp_path: Path) -> None:
    nccl_trees.rocm_tree(tmp_path / "rocm", "2.22.3")
    run = configure(tmp_path, "NCCL", NCCLKIT_NCCL="rccl", NCCLKIT_CUDA_ARCHS="", RCCL_ROOT=str(tmp_path / "rocm"))
    assert run.error.startswith(
        "ncclkit_add_extension(_probe) links RCCL, which compiles as HIP, and this project has not enabled HIP"
    )


@pytest.mark.skipif(HIP is None, reason=SKIP_REASON)
@pytest.mark.parametrize("keyword", ["RCCL", "NCCL"])
def test_rccl_extension_of_a_hip_project(tmp_path: Path, keyword: str) -> None:
    """In a project that compiles HIP and not CUDA, NCCLKIT_NCCL=auto is RCCL; NCCL means it too."""
    include, library = nccl_trees.rocm_tree(tmp_path / "rocm", "2.22.3")
    args, env = HIP
    run = configure(
        tmp_path,
        keyword,
        "ARCHS",
        "gfx90a",
        languages="CXX;HIP",
        defines=tuple(args),
        NCCLKIT_NCCL="auto",
        NCCLKIT_CUDA_ARCHS="",
        RCCL_ROOT=str(tmp_path / "rocm"),
        **env,
    )
    assert run.error == ""
    record = run.json("_probe.build.json")
    assert (record["nccl"]["provider"], record["nccl"]["version"], record["nccl"]["library"]) == (
        "rccl",
        "2.22.3",
        str(library),
    )
    assert record["hip"]["archs"] == ["gfx90a"]
    config_h = (run.build / "_probe_include" / "ncclkit" / "config.h").read_text()
    assert "#define NCCLKIT_WITH_RCCL 1\n" in config_h
    assert "#define NCCLKIT_WITH_NCCL 0\n" in config_h
    assert run.json("probe.json")["install_rpath"] == str(library.parent)


def test_project_of_cxx_alone_gets_cuda_from_the_package(tmp_path: Path) -> None:
    run = configure(tmp_path, languages="CXX")
    assert run.error == "", run.log[-3000:]
    assert "The CUDA compiler identification is NVIDIA" in run.log


def test_project_without_cxx(tmp_path: Path) -> None:
    run = configure(tmp_path, languages="C")
    assert "ncclkit builds C++ extensions, and this project has not enabled CXX" in run.error


def cmakes() -> list[str]:
    """The CMake the tests use, and Debian's where there is one (3.25: it takes projects of 3.0)."""
    return ["cmake"] + [c for c in ["/usr/bin/cmake"] if Path(c).exists() and shutil.which("cmake") != c]


@pytest.mark.parametrize("cmake", cmakes())
def test_a_project_of_old_policies_gets_ncclkit_s_own(tmp_path: Path, cmake: str) -> None:
    """ncclkit's modules set the policies they are written for: a project's older
    cmake_minimum_required (3.0, or 3.5 where CMake takes no older) leaves its own code as it was."""
    version = subprocess.run([cmake, "--version"], capture_output=True, text=True, check=True).stdout.split()[2]
    minimum = "3.0" if int(version.split(".")[0]) < 4 else "3.5"
    nccl_trees.prefix_tree(tmp_path / "nccl", "2.18.3")
    run = configure(tmp_path, "NCCL", cmake_minimum=minimum, cmake=cmake, NCCL_ROOT=str(tmp_path / "nccl"))
    assert run.error == ""
    assert run.json("_probe.build.json")["nccl"]["version"] == "2.18.3"


def test_read_twice_the_package_makes_one_job_pool(tmp_path: Path) -> None:
    run = configure(tmp_path, defines=("-DPROBE_FIND_TWICE=ON",))
    assert run.error == "", run.log[-3000:]
    pools = (run.build / "job_pools.txt").read_text().split(";")
    assert len(pools) == 1 and pools[0].startswith("ncclkit_compile="), pools


def test_pybind11_is_found_through_the_python_that_builds(tmp_path: Path) -> None:
    """As docs/extensions.md's -Dncclkit_DIR=$(python -m ncclkit --cmake-dir) configures, with no pybind11_DIR."""
    run = configure(tmp_path, pybind11_dir=False)
    assert run.error == "", run.log[-3000:]


def test_a_python_without_pybind11_says_so(tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    run = configure(tmp_path, pybind11_dir=False, python=bare / "bin" / "python")
    expected = (
        f"ncclkit_add_extension(_probe) builds a Python module with pybind11 3.0 or newer, and neither pybind11_DIR "
        f"nor {bare}"
    )
    assert expected in run.error
