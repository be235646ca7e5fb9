"""ncclkit's CMake functions on targets other projects make: a C++ executable through the package
installed from the checkout without Python (tests/cmake/cpp_consumer), and a Python module made
with Python_add_library and the C API (tests/cmake/module_consumer). Both link the real NCCL of
the nvidia-nccl wheel installed here, built and run without a GPU (ncclGetVersion only)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import nccl_trees
import pytest
from cmake_output import first_error
from consumer_project import AVAILABLE, NVCC

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
_spec = importlib.util.find_spec("nvidia.nccl")
NCCL_WHEEL = Path(next(iter(_spec.submodule_search_locations))) if _spec and _spec.submodule_search_locations else None

pytestmark = [
    pytest.mark.skipif(not AVAILABLE, reason="needs cmake and the CUDA toolkit's nvcc"),
    pytest.mark.skipif(NCCL_WHEEL is None, reason="needs the nvidia-nccl wheel (pip install nvidia-nccl-cu13)"),
]


def cmake(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["cmake", *args], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, first_error(done.stderr) or done.stdout[-3000:]
    return done


def header_version_code() -> int:
    header = (NCCL_WHEEL / "include" / "nccl.h").read_text()
    return int(next(line.split()[2] for line in header.splitlines() if line.startswith("#define NCCL_VERSION_CODE")))


def build(project: Path, build_dir: Path, *defines: str) -> None:
    env = {**nccl_trees.clean_environment(), "NCCLKIT_NCCL": "system", "NCCL_ROOT": str(NCCL_WHEEL)}
    cmake("-S", str(project), "-B", str(build_dir), "-G", "Ninja", f"-DCMAKE_CUDA_COMPILER={NVCC}", *defines, env=env)
    cmake("--build", str(build_dir), env=env)


@pytest.fixture(scope="module")
def installed_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CMake package installed from the checkout with plain CMake: no pip, no compiler."""
    root = tmp_path_factory.mktemp("package")
    configured = cmake("-S", str(REPO), "-B", str(root / "build"), "-DNCCLKIT_PYTHON=OFF")
    assert "The CXX compiler identification" not in configured.stdout  # nothing to compile
    cmake("--install", str(root / "build"), "--prefix", str(root / "prefix"))
    return root / "prefix"


def test_the_package_installs_without_python_where_find_package_looks(installed_package: Path) -> None:
    package = installed_package / "lib" / "cmake" / "ncclkit"
    assert (package / "ncclkitConfig.cmake").is_file() and (package / "ncclkitConfigVersion.cmake").is_file()
    assert (package / "FindNCCL.cmake").is_file() and (package / "nccl.h.in").is_file()


def test_a_cpp_executable_links_nccl_the_feature_header_and_the_record(installed_package: Path, tmp_path: Path) -> None:
    build_dir = tmp_path / "build"
    # No Python at all: find_package(Python) in the package is told to find none.
    build(HERE / "cpp_consumer", build_dir, f"-DCMAKE_PREFIX_PATH={installed_package}",
          "-DCMAKE_DISABLE_FIND_PACKAGE_Python=ON")  # fmt: skip
    assert "pybind11" not in (build_dir / "CMakeCache.txt").read_text()
    run = subprocess.run([str(build_dir / "nccl_version")], capture_output=True, text=True, check=True)
    loaded, header, floor, comm_split = (int(word) for word in run.stdout.split())
    assert loaded == header == header_version_code()
    assert (floor, comm_split) == (22707, 1)  # CUDA 13's floor, 2.27.7, which has ncclCommSplit
    record = json.loads((build_dir / "nccl_version.build.json").read_text())
    assert (record["package"], record["module"], record["python"]) == ("cpp_consumer", "nccl_version", None)
    assert "cuda" not in record and "cuda" not in record["compiler"]
    assert (record["nccl"]["provider"], record["nccl"]["required_features"]) == ("explicit", ["COMM_SPLIT"])
    assert record["nccl"]["version_code"] == header_version_code()
    assert record["features"]["NCCLKIT_HAS_COMM_SPLIT"] == 1


@pytest.fixture(scope="module")
def raw_module(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/cmake/module_consumer built and installed: the site directory that holds rawpkg."""
    root = tmp_path_factory.mktemp("module_consumer")
    build(HERE / "module_consumer", root / "build", f"-Dncclkit_DIR={REPO / 'cmake'}",
          f"-DPython_EXECUTABLE={sys.executable}")  # fmt: skip
    cmake("--install", str(root / "build"), "--prefix", str(root / "site"))
    return root / "site"


def run_in(site: Path, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=site, check=False)


def test_a_module_made_with_python_add_library_gets_ncclkits_settings(raw_module: Path) -> None:
    installed = raw_module / "rawpkg"
    record = json.loads((installed / "_raw.build.json").read_text())
    assert (record["module"], record["features"]["RAW_MODULE"]) == ("rawpkg._raw", 1)
    assert (record["cuda"]["archs_sass"], record["cuda"]["archs_source"]) == (["80"], "extension")
    assert record["python"]["version"] == ".".join(map(str, sys.version_info[:3]))
    run = run_in(
        raw_module, "import rawpkg._raw as m; print(m.nccl_version(), m.header_version_code, m.cuda_runtime_version())"
    )
    assert run.returncode == 0, run.stderr
    loaded, header, runtime = (int(word) for word in run.stdout.split())
    assert loaded == header == header_version_code()
    assert runtime // 1000 == 13


# Stand-ins for a Communicator, as <ncclkit/communicator.h> sees them: a capsule of the header's name
# around a handle (ncclComm_t 0x1234, device 3), one of another name, and no method at all.
COMM_STAND_INS = """
import ctypes
import rawpkg._raw as m
class Handle(ctypes.Structure):
    _fields_ = [("comm", ctypes.c_void_p), ("device", ctypes.c_int)]
new = ctypes.pythonapi.PyCapsule_New
new.restype, new.argtypes = ctypes.py_object, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
handle = Handle(0x1234, 3)
class Good:
    def __ncclkit_comm__(self):
        return new(ctypes.addressof(handle), b"ncclkit.comm_handle.v1", None)
class OtherVersion:
    def __ncclkit_comm__(self):
        return new(ctypes.addressof(handle), b"ncclkit.comm_handle.v0", None)
class Destroyed:
    def __ncclkit_comm__(self):
        raise ValueError("communicator has been destroyed")
def error(obj):
    try:
        m.comm_handle(obj)
    except Exception as e:
        return f"{type(e).__name__}: {e}"
print(m.comm_handle(Good()))
print(error(42))
print(error(OtherVersion()))
print(error(Destroyed()))
"""


def test_the_communicator_header_reads_the_capsule_and_names_what_is_not_one(raw_module: Path) -> None:
    run = run_in(raw_module, COMM_STAND_INS)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "(4660, 3)",
        "TypeError: expected an ncclkit.Communicator, got int",
        'TypeError: OtherVersion.__ncclkit_comm__() returned no "ncclkit.comm_handle.v1" capsule: an ncclkit other '
        "than the one this extension was built with?",
        "ValueError: communicator has been destroyed",
    ]


@pytest.mark.gpu
def test_an_extension_calls_nccl_on_ncclkits_communicator(raw_module: Path) -> None:
    code = (
        "import ncclkit, rawpkg._raw as m\n"
        "(comm,) = ncclkit.Communicator.init_all([0])\n"
        "print(m.comm_handle(comm) == (comm.ptr, comm.device), m.comm_rank(comm) == comm.rank)\n"
        "comm.destroy()\n"
        "try:\n    m.comm_rank(comm)\nexcept ValueError as e:\n    print(e)\n"
    )
    run = run_in(raw_module, code)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["True True", "communicator has been destroyed"]


@pytest.mark.parametrize(
    ("call", "error"),
    [
        ("ncclkit_target_link_nccl(absent)", "ncclkit_target_link_nccl(absent): there is no target absent"),
        ("ncclkit_target_cuda(demo ARHCS 80)", "ncclkit_target_cuda(demo): unknown arguments ARHCS;80"),
        ("ncclkit_target_hip(demo)", "ncclkit_target_hip(demo): this project has not enabled HIP"),
        ("ncclkit_target_build_record(demo RECORD_FEATURES FAST)", "entry 'FAST' is not NAME=<integer>"),
    ],
)
def test_a_bad_call_names_the_function_and_what_is_wrong(tmp_path: Path, call: str, error: str) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "main.cpp").write_text("int main() { return 0; }\n")
    (project / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.25)\nproject(bad LANGUAGES CXX)\nfind_package(ncclkit CONFIG REQUIRED)\n"
        f"add_executable(demo main.cpp)\n{call}\n"
    )
    env = {**nccl_trees.clean_environment(), "NCCLKIT_NCCL": "system", "NCCL_ROOT": str(NCCL_WHEEL)}
    done = subprocess.run(
        ["cmake", "-S", str(project), "-B", str(tmp_path / "build"), f"-Dncclkit_DIR={REPO / 'cmake'}",
         f"-DCMAKE_CUDA_COMPILER={NVCC}"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert error in first_error(done.stderr)
