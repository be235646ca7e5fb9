"""The support floor of an extension (cmake/NcclkitNcclFloor.cmake) and the nccl.h that binds what
came after it weakly (cmake/NcclkitNcclBinding.cmake), in a project using ncclkit's CMake package.
"""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import fake_libnccl
import nccl_trees
import pytest
from cmake_output import words
from consumer_project import AVAILABLE, NVCC, configure

pytestmark = pytest.mark.skipif(not AVAILABLE, reason="needs cmake and the CUDA toolkit's nvcc")

# The nvidia-nccl-cu13 wheel of the Python running the tests: a real nccl.h, declarations and all.
_NVIDIA = importlib.util.find_spec("nvidia")
REAL_NCCL = next(
    (Path(p) / "nccl" for p in (_NVIDIA.submodule_search_locations if _NVIDIA else []) if (Path(p) / "nccl").is_dir()),
    None,
)
needs_real_header = pytest.mark.skipif(REAL_NCCL is None, reason="needs the nvidia-nccl-cu13 wheel installed")


def floor_of(run) -> tuple[str, str, str | None]:
    nccl = run.json("_probe.build.json")["nccl"]
    return nccl["floor"], nccl["floor_reason"], nccl["requirement"]


def test_the_floor_of_the_cuda_major_whatever_the_header(tmp_path: Path) -> None:
    nccl_trees.wheel_tree(tmp_path / "site", "2.32.3")
    python = nccl_trees.isolated_python(tmp_path / "bin", tmp_path / "site")
    run = configure(tmp_path, "NCCL", python=python, NCCLKIT_NCCL="wheel")
    assert run.error == ""
    assert floor_of(run) == ("2.27.7", "the floor for CUDA 13", "nvidia-nccl-cu13>=2.27.7,<3")
    config_h = (run.build / "_probe_include" / "ncclkit" / "config.h").read_text()
    assert "#define NCCLKIT_NCCL_FLOOR_CODE 22707\n" in config_h
    assert "#define NCCLKIT_NCCL_SINCE_COMM_REVOKE 22807\n" in config_h
    assert "#define NCCLKIT_NCCL_SINCE_ncclCommRevoke 22807\n" in config_h


def test_nccl_min_raises_the_floor(tmp_path: Path) -> None:
    nccl_trees.wheel_tree(tmp_path / "site", "2.32.3")
    python = nccl_trees.isolated_python(tmp_path / "bin", tmp_path / "site")
    run = configure(tmp_path, "NCCL", python=python, NCCLKIT_NCCL="wheel", NCCLKIT_NCCL_MIN="2.30")
    assert run.error == ""
    assert floor_of(run) == ("2.30.0", "NCCLKIT_NCCL_MIN", "nvidia-nccl-cu13>=2.30.0,<3")
    assert "NCCLKIT_NCCL_MIN = '2.30' (environment)" in run.log


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (
            "2.20",
            "NCCLKIT_NCCL_MIN=2.20 (from the environment) is below _probe's floor, NCCL 2.27.7 (the floor for CUDA "
            "13): NCCLKIT_NCCL_MIN raises the floor, never lowers it. Unset it, or give 2.27.7 or newer.",
        ),
        (
            "newest",
            "NCCLKIT_NCCL_MIN='newest' (from the environment) is not an NCCL version: give X.Y or X.Y.Z, e.g. 2.30.7.",
        ),
        (
            "3.0",
            "NCCLKIT_NCCL_MIN=3.0 (from the environment) is NCCL 3, and _probe is built against NCCL 2.32.3 "
            "({include}): the floor keeps the header's major. Give a 2.x version.",
        ),
    ],
)
def test_bad_nccl_min(tmp_path: Path, value: str, error: str) -> None:
    fake = nccl_trees.prefix_tree(tmp_path / "nccl", "2.32.3")
    run = configure(tmp_path, "NCCL", NCCL_ROOT=str(tmp_path / "nccl"), NCCLKIT_NCCL_MIN=value)
    assert run.error == words(error.format(include=fake.include_dir))


def test_a_required_feature_raises_the_floor(tmp_path: Path) -> None:
    nccl_trees.prefix_tree(tmp_path / "nccl", "2.30.7")
    run = configure(tmp_path, "NCCL", "FEATURES", "comm_mem_stats", "COMM_SPLIT", NCCL_ROOT=str(tmp_path / "nccl"))
    assert run.error == ""
    assert floor_of(run) == ("2.29.7", "FEATURES COMM_MEM_STATS", None)  # a system NCCL: nothing to require
    assert run.json("_probe.build.json")["nccl"]["required_features"] == ["COMM_MEM_STATS", "COMM_SPLIT"]


def test_static_nccl_is_its_own_floor(tmp_path: Path) -> None:
    nccl_trees.prefix_tree(tmp_path / "nccl", "2.28.3", static=True)
    root = {"NCCL_ROOT": str(tmp_path / "nccl"), "NCCLKIT_NCCL_STATIC": "ON"}
    run = configure(tmp_path, "NCCL", **root)
    assert floor_of(run) == ("2.28.3", "the version linked statically", None)
    assert run.json("_probe.build.json")["nccl"]["weak_entry_points"] == []
    run = configure(tmp_path, "NCCL", **root, NCCLKIT_NCCL_MIN="2.30.7")
    assert run.error.startswith(
        "NCCLKIT_NCCL_MIN=2.30.7 asks _probe for NCCL 2.30.7 or newer, and what it links is NCCL 2.28.3, linked "
        f"statically ({tmp_path / 'nccl' / 'lib' / 'libnccl_static.a'}), which is also what runs."
    )


def test_an_entry_point_ncclkit_has_no_release_for_is_bound_weakly(tmp_path: Path) -> None:
    fake = nccl_trees.prefix_tree(tmp_path / "nccl", "2.40.1")
    header = fake.include_dir / "nccl.h"
    text = header.read_text().removesuffix("#endif\n")
    declarations = "ncclResult_t  ncclTeleport(int rank);\nncclResult_t  ncclCommShrink(void* comm);\n"
    header.write_text(text + declarations + "#endif\n")
    run = configure(tmp_path, "NCCL", NCCL_ROOT=str(tmp_path / "nccl"))
    assert run.error == ""
    assert (
        "_probe: NCCL 2.40.1's headers declare entry points ncclkit has no release for (ncclTeleport); "
        "they are bound weakly, as new as the header." in run.log
    )
    assert run.json("_probe.build.json")["nccl"]["weak_entry_points"] == ["ncclTeleport"]  # ncclCommShrink: 2.27
    wrapper = (run.build / "_probe_include" / "nccl.h").read_text()
    assert "#pragma weak ncclTeleport\n" in wrapper
    assert '? ncclTeleport(__VA_ARGS__) : ncclkit_nccl_unbound("ncclTeleport", 24001))' in wrapper


@needs_real_header
@pytest.mark.parametrize(
    ("nccl_min", "weak", "strong"),
    [
        ("", {"ncclAlltoAll", "ncclCommRevoke", "ncclCommMemStats", "ncclParamGetParameter"}, {"ncclCommShrink"}),
        ("2.29.7", {"ncclParamGetParameter", "ncclSetEncryption"}, {"ncclCommRevoke", "ncclCommMemStats"}),
    ],
)
def test_real_header_binds_what_the_floor_lacks(
    tmp_path: Path, nccl_min: str, weak: set[str], strong: set[str]
) -> None:
    run = configure(tmp_path, "NCCL", NCCLKIT_NCCL="wheel", NCCLKIT_NCCL_MIN=nccl_min)
    assert run.error == ""
    recorded = set(run.json("_probe.build.json")["nccl"]["weak_entry_points"])
    assert weak <= recorded
    assert not strong & recorded
    wrapper = (run.build / "_probe_include" / "nccl.h").read_text()
    assert all(f"#pragma weak {name}\n" in wrapper for name in weak)


_CALLER = """\
#include <nccl.h>
#include <stdio.h>

int main(void) {
  const char** keys = 0;
  int count = 0;
  ncclResult_t result = ncclParamGetAllParameterKeys(&keys, &count);
  printf("%d %d\\n", (int)result, NCCLKIT_NCCL_HAS_ENTRY_POINT(ncclParamGetAllParameterKeys));
  return 0;
}
"""


@needs_real_header
def test_a_call_of_an_entry_point_the_loaded_nccl_lacks_fails_instead_of_crashing(tmp_path: Path) -> None:
    run = configure(tmp_path, "NCCL", NCCLKIT_NCCL="wheel")
    (tmp_path / "caller.cpp").write_text(_CALLER)
    caller = tmp_path / "caller"
    subprocess.run(  # nvcc, for CUDA's headers, which nccl.h includes
        [NVCC, "-o", str(caller), str(tmp_path / "caller.cpp"), f"-I{run.build / '_probe_include'}"]
        + ["-isystem", str(REAL_NCCL / "include"), f"-L{REAL_NCCL / 'lib'}", "-l:libnccl.so.2"]
        + [f"-Xlinker=-rpath={REAL_NCCL / 'lib'}"],
        check=True,
    )
    assert fake_libnccl.undefined_nccl_symbols(caller) == {"ncclGetVersion": "U", "ncclParamGetAllParameterKeys": "w"}
    real = subprocess.run([caller], capture_output=True, text=True, check=True)
    assert (real.stdout, real.stderr) == ("0 1\n", "")
    fake = fake_libnccl.write(tmp_path, "2.27.7", run.json("_probe.build.json"))
    older = subprocess.run([caller], capture_output=True, text=True, check=True, env={"LD_PRELOAD": str(fake)})
    assert older.stdout == "5 0\n"  # ncclInvalidUsage
    assert older.stderr == (
        "ncclkit: ncclParamGetAllParameterKeys is not in the NCCL this process loaded (NCCL 2.27.7); it came with "
        "NCCL 2.30.4. Check NCCLKIT_NCCL_HAS_ENTRY_POINT(ncclParamGetAllParameterKeys) before calling it, or load a "
        "newer NCCL.\n"
    )


_FLOOR_SCRIPT = """\
list(APPEND CMAKE_MODULE_PATH "{cmake_dir}")
include(NcclkitNcclFloor)
set(CUDAToolkit_VERSION_MAJOR {cuda_major})
ncclkit_nccl_floor(_probe probe VERSION {header} PROVIDER wheel INCLUDE_DIR /site/nvidia/nccl/include
  LIBRARY /site/nvidia/nccl/lib/libnccl.so.2
  WHEEL nvidia-nccl-cu{cuda_major})
message("${{probe_FLOOR}}|${{probe_FLOOR_REASON}}|${{probe_REQUIREMENT}}")
"""


@pytest.mark.parametrize(
    ("cuda_major", "header", "expected"),
    [
        (12, "2.21.5", "2.18.1|the floor for CUDA 12|nvidia-nccl-cu12>=2.18.1,<3"),
        (13, "2.32.3", "2.27.7|the floor for CUDA 13|nvidia-nccl-cu13>=2.27.7,<3"),
        (14, "2.40.1", "2.40.1|the header's version: ncclkit knows no floor for CUDA 14|nvidia-nccl-cu14>=2.40.1,<3"),
    ],
)
def test_the_floor_of_each_cuda_major(tmp_path: Path, cuda_major: int, header: str, expected: str) -> None:
    # The CUDA toolkit here is 13's alone: the floor's function, run as a script, for each major.
    script = tmp_path / "floor.cmake"
    cmake_dir = Path(__file__).resolve().parents[2] / "cmake"
    script.write_text(_FLOOR_SCRIPT.format(cmake_dir=cmake_dir, cuda_major=cuda_major, header=header))
    proc = subprocess.run(["cmake", "-P", str(script)], capture_output=True, text=True, check=True)
    assert proc.stderr.strip() == expected
