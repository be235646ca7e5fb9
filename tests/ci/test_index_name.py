"""ci/index_name.py: a repaired wheel renamed for an index (ncclkit-cu13, no local label), with a
RECORD that pip accepts; and ci/repair_wheel.sh, which runs it for NCCLKIT_INDEX_NAME=ON."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def repaired_wheel(directory: Path, version: str, build: str = "") -> Path:
    """A wheel as the repair leaves it: package files, then .dist-info with its RECORD."""
    dist_info = f"ncclkit-{version}.dist-info"
    files = {
        "ncclkit/__init__.py": b"",
        f"{dist_info}/METADATA": f"Metadata-Version: 2.4\nName: ncclkit\nVersion: {version}\n\n# ncclkit\n".encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nTag: cp312-cp312-manylinux_2_28_x86_64\n",
        f"{dist_info}/licenses/LICENSE": b"Apache-2.0\n",
    }
    path = directory / f"ncclkit-{version}{build}-cp312-cp312-manylinux_2_28_x86_64.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr(f"{dist_info}/RECORD", "".join(f"{name},,\n" for name in [*files, f"{dist_info}/RECORD"]))
    return path


def index_name(wheel: Path, out: Path) -> subprocess.CompletedProcess[str]:
    out.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, str(ROOT / "ci" / "index_name.py"), str(wheel), str(out)], capture_output=True, text=True
    )


def test_a_cuda_wheel_is_named_by_its_major_with_no_label(tmp_path: Path) -> None:
    proc = index_name(repaired_wheel(tmp_path, "0.1.0+cu130"), tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    named = Path(proc.stdout.strip())
    assert named == tmp_path / "out" / "ncclkit_cu13-0.1.0-cp312-cp312-manylinux_2_28_x86_64.whl"
    with zipfile.ZipFile(named) as archive:
        names = archive.namelist()
        assert {n.split("/")[0] for n in names} == {"ncclkit", "ncclkit_cu13-0.1.0.dist-info"}
        metadata = archive.read("ncclkit_cu13-0.1.0.dist-info/METADATA").decode()
        assert metadata.startswith("Metadata-Version: 2.4\nName: ncclkit-cu13\nVersion: 0.1.0\n\n")
        record = archive.read("ncclkit_cu13-0.1.0.dist-info/RECORD").decode().splitlines()
        assert sorted(line.split(",")[0] for line in record) == sorted(names)
        for line in record:
            name, digest, size = line.split(",")
            if name.endswith("RECORD"):
                assert (digest, size) == ("", "")
                continue
            data = archive.read(name)
            assert digest == "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert size == str(len(data))


def test_a_rocm_wheel_and_a_build_tag(tmp_path: Path) -> None:
    proc = index_name(repaired_wheel(tmp_path, "0.1.0+rocm6.2", build="-1"), tmp_path / "out")
    assert Path(proc.stdout.strip()).name == "ncclkit_rocm6-0.1.0-1-cp312-cp312-manylinux_2_28_x86_64.whl"


@pytest.mark.parametrize("version", ["0.1.0", "0.1.0+mybuild"])
def test_a_wheel_without_the_label_of_a_build_is_refused(tmp_path: Path, version: str) -> None:
    wheel = repaired_wheel(tmp_path, version)
    proc = index_name(wheel, tmp_path / "out")
    assert proc.returncode == 2
    assert proc.stderr == (
        f"index_name: {wheel.name}: version {version} has no label of a CUDA (+cu130) or ROCm (+rocm6.2) build "
        "to name it by. Fix: build with the label the build gives (leave NCCLKIT_LOCAL_VERSION unset)\n"
    )
    assert not list((tmp_path / "out").iterdir())


def test_repair_takes_index_name_on_or_off(tmp_path: Path) -> None:
    env = {**os.environ, "NCCLKIT_REPAIR": "none", "NCCLKIT_INDEX_NAME": "cu13", "PYTHON": sys.executable}
    proc = subprocess.run(
        ["bash", str(ROOT / "ci" / "repair_wheel.sh"), str(repaired_wheel(tmp_path, "0.1.0+cu130")), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert (proc.returncode, proc.stderr) == (2, "repair: NCCLKIT_INDEX_NAME=cu13: expected ON or OFF\n")
