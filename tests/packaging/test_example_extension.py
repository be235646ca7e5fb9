"""examples/extension, a project that builds its extension with ncclkit's CMake package: built as a
wheel against the ncclkit wheel from this checkout, installed into a fresh venv, imported, checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import fake_libnccl
import pytest
from wheel_rules import dynamic_section

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "extension"
# The floor for CUDA 13 (cmake/NcclkitNcclFloor.cmake), older than any NCCL the build environment
# gets from the index, and a release older than it.
FLOOR = "2.27.7"
BELOW_FLOOR = "2.26.6"


@pytest.fixture(scope="module")
def example_wheel(built_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("example")
    # The ncclkit of this checkout, never one from the index, in the isolated build environment.
    constraints = out / "constraints.txt"
    constraints.write_text(f"ncclkit=={built_wheel.name.split('-')[1]}\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--find-links", str(built_wheel.parent)]
        + ["--wheel-dir", str(out), str(EXAMPLE)],
        check=True,
        env={**os.environ, "PIP_CONSTRAINT": str(constraints), "NCCLKIT_CUDA_ARCHS": "80-real"},
    )
    (wheel,) = out.glob("ncclkit_example-*.whl")
    return wheel


@pytest.fixture(scope="module")
def example_python(built_wheel: Path, example_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a fresh venv with both wheels (and the NCCL wheel ncclkit requires) installed."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "--quiet", str(built_wheel), str(example_wheel)], check=True)
    return python


def run_python(python: Path, code: str, **env: str) -> subprocess.CompletedProcess[str]:
    # Outside the checkout, so that only installed packages are imported.
    return subprocess.run(
        [python, "-c", code], capture_output=True, text=True, cwd=python.parent, env={**os.environ, **env}
    )


def test_wheel_holds_the_extension_its_record_and_an_rpath_to_the_nccl_wheel(
    example_wheel: Path, tmp_path: Path
) -> None:
    with zipfile.ZipFile(example_wheel) as whl:
        whl.extractall(tmp_path)
    (extension,) = (tmp_path / "ncclkit_example").glob("_ext.*.so")
    entries = dynamic_section(extension)
    assert entries.get("RUNPATH", entries.get("RPATH")) == ["$ORIGIN/../nvidia/nccl/lib"]
    assert "libnccl.so.2" in entries["NEEDED"]
    record = json.loads((tmp_path / "ncclkit_example" / "_ext.build.json").read_text())
    assert (record["package"], record["version"], record["module"]) == (
        "ncclkit_example",
        "0.1.0",
        "ncclkit_example._ext",
    )
    assert (record["nccl"]["provider"], record["nccl"]["wheel"]) == ("wheel", "nvidia-nccl-cu13")
    assert (record["cuda"]["archs_sass"], record["cuda"]["archs_source"]) == (["80"], "user")
    assert record["features"]["NCCLKIT_HAS_GET_LAST_ERROR"] == 1
    assert record["ncclkit_version"] == "0.1.0"


def test_imports_and_passes_its_check_in_a_fresh_venv(example_python: Path) -> None:
    proc = run_python(
        example_python,
        "import json, ncclkit_example\n"
        "from ncclkit.build_info import read_record\n"
        "from ncclkit.compat import check_extension\n"
        "check_extension('ncclkit_example._ext')\n"
        "record = read_record('ncclkit_example._ext')\n"
        "print(json.dumps([ncclkit_example.nccl_version(), ncclkit_example._ext.NCCL_VERSION_CODE, "
        "record['nccl']['version_code']]))",
    )
    assert proc.returncode == 0, proc.stderr
    loaded, compiled, recorded = json.loads(proc.stdout)
    assert loaded == compiled == recorded


def test_ncclkit_info_shows_the_extension(example_python: Path) -> None:
    ncclkit = example_python.parent / "ncclkit"
    proc = subprocess.run([ncclkit, "info", "--extension", "ncclkit_example._ext"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ncclkit_example        0.1.0\nextension              ncclkit_example._ext\n")
    assert proc.stdout.endswith("problems               none\n")


def ncclkit_record(python: Path) -> dict:
    """The build record of ncclkit._comm as installed in the venv of `python`: its feature table."""
    (site,) = python.parent.parent.glob("lib/python*/site-packages")
    return json.loads((site / "ncclkit" / "_comm.build.json").read_text())


def test_runs_with_the_nccl_of_its_floor_and_says_what_that_nccl_lacks(example_python: Path, tmp_path: Path) -> None:
    fake = fake_libnccl.write(tmp_path, FLOOR, ncclkit_record(example_python))
    proc = run_python(
        example_python,
        "import json, ncclkit, ncclkit_example\n"
        "features = ncclkit.nccl_features()\n"
        "try:\n"
        "    ncclkit.nccl_parameters()\n"
        "except ncclkit.NcclUnavailableError as error:\n"
        "    ncclkit_error = str(error)\n"
        "try:\n"
        "    ncclkit_example.nccl_parameter('NCCL_DEBUG')\n"
        "except RuntimeError as error:\n"
        "    example_error = str(error)\n"
        "print(json.dumps([ncclkit.get_version(), ncclkit_example._ext.NCCL_FLOOR_CODE, features['params'].reason, "
        "features['comm_shrink'].available, ncclkit_error, example_error]))",
        LD_PRELOAD=str(fake),
    )
    assert proc.returncode == 0, proc.stderr
    loaded, floor, params, shrink, ncclkit_error, example_error = json.loads(proc.stdout)
    assert (loaded, floor, shrink) == (22707, 22707, True)
    assert params == "the NCCL loaded, 2.27.7, is older"
    assert ncclkit_error.startswith(
        f"ncclParamGetAllParameterKeys came with NCCL 2.30.4, and the NCCL this process loaded is 2.27.7 ({fake}). "
    )
    assert example_error == (
        "ncclParamGetParameter is not in NCCL 2.27.7, the one this process loaded: it came with NCCL 2.30.4"
    )


def test_an_nccl_older_than_the_floor_is_a_compatibility_error(example_python: Path, tmp_path: Path) -> None:
    fake = fake_libnccl.write(tmp_path, BELOW_FLOOR, ncclkit_record(example_python))
    floor = (
        "- NCCL older than the floor of ncclkit._comm: "
        f"found NCCL {BELOW_FLOOR} loaded from {fake}; expected NCCL {FLOOR} or newer, 2.x (the floor for CUDA 13; "
    )
    # Importing ncclkit loads nothing; its first use of NCCL loads the bindings, which do not load
    # (2.26 lacks ncclCommShrink, which the floor has): the error says why.
    assert run_python(example_python, "import ncclkit", LD_PRELOAD=str(fake)).returncode == 0
    proc = run_python(example_python, "import ncclkit; ncclkit.get_version()", LD_PRELOAD=str(fake))
    assert proc.returncode == 1
    assert floor in proc.stderr
    # The extension's check loads ncclkit's bindings to ask the NCCL, and says the same.
    proc = run_python(example_python, "import ncclkit_example", LD_PRELOAD=str(fake), NCCLKIT_SKIP_IMPORT_CHECK="1")
    assert proc.returncode == 1
    assert floor in proc.stderr


def test_asks_for_an_entry_point_newer_than_its_floor_before_calling_it(example_python: Path) -> None:
    proc = run_python(
        example_python,
        "import json, ncclkit, ncclkit_example\n"
        "print(json.dumps([ncclkit_example.nccl_parameter('NCCL_DEBUG'), ncclkit.nccl_parameters()['NCCL_DEBUG']]))",
        NCCL_DEBUG="WARN",
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == ["WARN", "WARN"]
