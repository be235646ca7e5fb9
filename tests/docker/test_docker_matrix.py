"""The wheel matrix, in docker, for every Python these machines hold: each of pyenv's CPythons
(3.10 to 3.13, built with a shared libpython) copied into the Debian 12 base image, a wheel built
there with `make -C docker wheel` and checked (ci/build_wheel.sh runs the wheel check). The CUDA
sources are compiled once for the whole set: every build shares sccache's cache, and a `.cu`
includes nothing of Python, so after the first wheel each of nvcc's steps is a cache hit."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from docker_images import REPO, make, pyenv_pythons, python_image, tail

PYTHONS = pyenv_pythons()
# The Pythons built so far in this session: after the first, the CUDA sources come from the cache.
BUILT: list[str] = []
# sccache's counters for nvcc's steps, as ci/build_wheel.sh prints them.
CUDA_COUNTER = re.compile(r"Cache (hits|misses) \((?:CUDA(?: \(Device code\))?|PTX|CUBIN)\)\s+(\d+)")


def cuda_counts(output: str) -> dict[str, int]:
    counts = {"hits": 0, "misses": 0}
    for kind, count in CUDA_COUNTER.findall(output):
        counts[kind] += int(count)
    return counts


@pytest.mark.skipif(not PYTHONS, reason="pyenv holds no CPython 3.10+ with a shared libpython")
@pytest.mark.parametrize("prefix", PYTHONS, ids=[p.name for p in PYTHONS])
def test_a_wheel_for_each_python(base_image: str, prefix: Path, tmp_path: Path) -> None:
    image = python_image(prefix)
    minor = re.match(r"3\.(\d+)", prefix.name).group(1)
    start = time.monotonic()
    built, _ = make(
        REPO,
        "wheel",
        tmp_path,
        f"BUILD_IMAGE={image}",
        f"RUNTIME_IMAGE={image}",
        f"PYTHON_VERSION=3.{minor}",
        f"PYTHON_FROM_IMAGE={prefix}/bin/python3.{minor}",
    )
    assert built.returncode == 0, tail(built)
    (wheel,) = tmp_path.glob("ncclkit-*.whl")
    assert f"-cp3{minor}-cp3{minor}-manylinux_2_34_x86_64.whl" in wheel.name
    counts = cuda_counts(built.stdout + built.stderr)
    if BUILT:  # compiled once for the set: every nvcc step of this wheel is a hit
        assert counts["misses"] == 0 and counts["hits"] > 0, (BUILT, counts)
    BUILT.append(prefix.name)
    print(f"{wheel.name}: {time.monotonic() - start:.0f} s, nvcc steps from the cache: {counts}")
