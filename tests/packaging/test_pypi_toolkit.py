"""A wheel built with NVIDIA's CUDA compiler wheels on a machine whose toolkit install is hidden:
`pip wheel .` with NCCLKIT_CUDA_TOOLKIT=pypi, then the wheel check."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pypi_toolkit
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pypi_built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pypi-wheel")
    env = pypi_toolkit.hidden_toolkit_environment(
        NCCLKIT_CUDA_TOOLKIT="pypi",
        NCCLKIT_CUDA_ARCHS="90",  # one arch: what is tested is where the compiler came from
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--wheel-dir",
            str(out),
            "-Cbuild-dir=" + str(out / "build"),
            str(REPO),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    (wheel,) = out.glob("ncclkit-*.whl")
    return wheel


def test_the_record_says_the_toolkit_came_from_pypi(pypi_built_wheel: Path) -> None:
    with zipfile.ZipFile(pypi_built_wheel) as whl:
        record = json.loads(whl.read("ncclkit/_kernels.build.json"))
    toolkit = record["cuda"]["toolkit"]
    assert toolkit["source"] == "pypi"
    names = [w.split("==")[0] for w in toolkit["wheels"]]
    assert sorted(names) == sorted(pypi_toolkit.WHEELS)
    assert {w.split("==")[1].rsplit(".", 1)[0] for w in toolkit["wheels"]} == {pypi_toolkit.RELEASE}
    assert record["cuda"]["nvcc_version"].startswith(pypi_toolkit.RELEASE + ".")
    assert pypi_built_wheel.name.startswith("ncclkit-0.1.0+cu130-")


def test_the_wheel_passes_the_wheel_check(pypi_built_wheel: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "ci" / "check_wheel.py"), str(pypi_built_wheel)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1] == f"{pypi_built_wheel.name}: every rule passed"
