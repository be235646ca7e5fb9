"""The wheel matrix, in docker, for every Python these machines can get: each of pyenv's CPythons
(3.10 to 3.13, built with a shared libpython) copied into the Debian 12 base image, and the newer
ones of ci/matrix.json from Debian unstable's packages; a wheel built for each with `make -C docker
wheel` and checked (ci/build_wheel.sh runs the wheel check). The CUDA sources are compiled once
per base image: every build shares sccache's cache, and a `.cu` includes nothing of Python, so
after the first wheel on a base each of nvcc's steps is a cache hit. Free-threaded 3.14t is built
by cibuildwheel only: neither pyenv nor Debian holds one here."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from docker_images import REPO, make, pyenv_pythons, python_image, tail, unstable_python_image, unstable_pythons, words

PYTHONS = pyenv_pythons()
UNSTABLE = unstable_pythons()
# Unstable's glibc declares rsqrt, which CUDA's headers take from 13.2 on (NcclkitCudaToolkit.cmake).
UNSTABLE_CUDA = "NCCLKIT_CUDA_VERSION=13.2"
# The Pythons built so far in this session, by base image.
BUILT: dict[str, list[str]] = {}
# sccache's counters for nvcc's steps, as ci/build_wheel.sh prints them.
CUDA_COUNTER = re.compile(r"Cache (hits|misses) \((?:CUDA(?: \(Device code\))?|PTX|CUBIN)\)\s+(\d+)")


def cuda_counts(output: str) -> dict[str, int]:
    counts = {"hits": 0, "misses": 0}
    for kind, count in CUDA_COUNTER.findall(output):
        counts[kind] += int(count)
    return counts


def make_wheel(image: str, version: str, interpreter: str, out: Path, *extra: str):
    return make(
        REPO,
        "wheel",
        out,
        f"BUILD_IMAGE={image}",
        f"RUNTIME_IMAGE={image}",
        f"PYTHON_VERSION={version}",
        f"PYTHON_FROM_IMAGE={interpreter}",
        *extra,
    )


def build_and_check(image: str, version: str, interpreter: str, family: str, out: Path, *extra: str) -> str:
    """A wheel for `version` built in `image` and checked; its file name."""
    start = time.monotonic()
    built, _ = make_wheel(image, version, interpreter, out, *extra)
    assert built.returncode == 0, tail(built)
    (wheel,) = out.glob("ncclkit-*.whl")
    tag = "cp" + version.replace(".", "")
    assert re.search(rf"-{tag}-{tag}-manylinux_2_\d+_x86_64\.whl$", wheel.name), wheel.name
    counts = cuda_counts(built.stdout + built.stderr)
    # Compiled once per base image (its host compiler and headers are part of what is hashed):
    # after the first wheel of a family, every nvcc step is a hit.
    if BUILT.get(family):
        assert counts["misses"] == 0 and counts["hits"] > 0, (BUILT, counts)
    BUILT.setdefault(family, []).append(version)
    print(f"{wheel.name}: {time.monotonic() - start:.0f} s, nvcc steps from the cache: {counts}")
    return wheel.name


@pytest.mark.skipif(not PYTHONS, reason="pyenv holds no CPython 3.10+ with a shared libpython")
@pytest.mark.parametrize("prefix", PYTHONS, ids=[p.name for p in PYTHONS])
def test_a_wheel_for_each_pyenv_python(base_image: str, prefix: Path, tmp_path: Path) -> None:
    version = re.match(r"3\.\d+", prefix.name).group()
    name = build_and_check(python_image(prefix), version, f"{prefix}/bin/python{version}", "bookworm", tmp_path)
    assert name.endswith("manylinux_2_34_x86_64.whl")  # Debian 12's glibc


@pytest.mark.skipif(not UNSTABLE, reason="pyenv holds every Python of ci/matrix.json")
@pytest.mark.parametrize("version", UNSTABLE)
def test_a_wheel_for_each_newer_python_from_debian_unstable(unstable_image: str, version: str, tmp_path: Path) -> None:
    image = unstable_python_image(version)
    if image is None:
        pytest.skip(f"Debian unstable does not package Python {version} (python{version}-dev)")
    name = build_and_check(image, version, f"/usr/bin/python{version}", "sid", tmp_path, UNSTABLE_CUDA)
    assert "+cu132-" in name


def test_debian_unstable_with_cuda_13_0_is_told_which_cuda_compiles_there(unstable_image: str, tmp_path: Path) -> None:
    images = ((version, unstable_python_image(version)) for version in UNSTABLE)  # the first Debian has
    version, image = next(((v, i) for v, i in images if i), (None, None))
    if image is None:
        pytest.skip("Debian unstable packages none of the Pythons pyenv lacks")
    built, _ = make_wheel(image, version, f"/usr/bin/python{version}", tmp_path, "NCCLKIT_CUDA_VERSION=13.0")
    assert built.returncode != 0
    said = words(built)
    assert re.search(r"nvcc-13\.0\.\d+/bin/nvcc cannot compile on this system", said), tail(built)
    assert "(NCCLKIT_CUDA_TOOLKIT=pypi NCCLKIT_CUDA_VERSION=13.2)" in said
