"""`python -m build --sdist`, then a wheel from that sdist: the sdist holds what the build needs
and nothing of a build directory, and its wheel, built where the sdist was unpacked inside another
git repository, records no commit rather than that repository's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NEEDED = [
    "pyproject.toml",
    "CMakeLists.txt",
    "README.md",
    "docs/architecture.md",
    "build_backend/ncclkit_build/backend.py",
    "cmake/ncclkitConfig.cmake",
    "cmake/NcclkitCudaToolkit.cmake",
    "cmake/NcclkitCudaWheels.json",
    "src/CMakeLists.txt",
    "src/comm/module.cpp",
    "python/ncclkit/__init__.py",
    "tests/python/test_compat.py",
    "ci/build_wheel.sh",
    "docker/Dockerfile",
]


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sdist")
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--outdir", str(out), str(REPO)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (archive,) = out.glob("ncclkit-*.tar.gz")
    return archive


def members(archive: Path) -> list[str]:
    with tarfile.open(archive) as tar:
        return [name.partition("/")[2] for name in tar.getnames()]


def test_the_sdist_holds_what_the_build_needs(sdist: Path) -> None:
    names = members(sdist)
    assert sdist.name == "ncclkit-0.1.0.tar.gz"  # an sdist is for any CUDA: no local label
    assert [n for n in NEEDED if n not in names] == []


def test_the_sdist_holds_nothing_built(sdist: Path) -> None:
    built = [
        n
        for n in members(sdist)
        if n.startswith(("build/", "dist/", ".whl/", "third_party/nccl/"))
        or "__pycache__" in n
        or n.endswith((".so", ".o", ".whl", ".pyc"))
        or "CMakeCache.txt" in n
    ]
    assert built == []


def test_a_wheel_from_the_sdist_inside_another_repository(sdist: Path, tmp_path: Path) -> None:
    outer = tmp_path / "outer"
    outer.mkdir()
    subprocess.run(["git", "-C", str(outer), "init", "-q"], check=True)
    with tarfile.open(sdist) as tar:
        tar.extractall(outer, filter="data")
    (source,) = outer.glob("ncclkit-*")
    env = {**os.environ, "NCCLKIT_CUDA_ARCHS": "90"}
    env.pop("NCCLKIT_GIT_COMMIT", None)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(tmp_path / "dist"), str(source)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("ncclkit-*.whl")
    with zipfile.ZipFile(wheel) as whl:
        assert json.loads(whl.read("ncclkit/_comm.build.json"))["git_commit"] == "unknown"
    check = subprocess.run(
        [sys.executable, str(REPO / "ci" / "check_wheel.py"), str(wheel)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
