"""Docker for the tests of tests/docker: the engine's client, the Debian 12 base image, `make -C
docker` with the settings those tests build with, and images with one of pyenv's Pythons."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BASE_IMAGE = "ncclkit-base:bookworm"
UNSTABLE_BASE_IMAGE = "ncclkit-base:sid"
# CUDA 13.0's nvcc takes GCC up to 15 (its crt/host_config.h); unstable's default g++ is newer.
UNSTABLE_HOST_GCC = "15"
DEBIAN_MIRROR = os.environ.get("NCCLKIT_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# Debian's own client speaks to Debian's engine, with BuildKit when asked (docker/Makefile asks).
DOCKER = "/usr/bin/docker" if Path("/usr/bin/docker").exists() else shutil.which("docker")
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def docker(*args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DOCKER, *args], capture_output=True, text=True, **kwargs)


def make(checkout: Path, target: str, out: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], float]:
    settings = [
        f"DOCKER={DOCKER}",
        f"BUILD_IMAGE={BASE_IMAGE}",
        f"RUNTIME_IMAGE={BASE_IMAGE}",
        "PYTHON_VERSION=3.11",  # Debian 12's own
        "NCCLKIT_CUDA_ARCHS=90",  # one arch: what is tested is the build, not the code
        "SOURCE_DATE_EPOCH=1767225600",  # the copies have no git history to date them
        f"OUTPUT_DIR={out}",
        *([f"PIP_CERT={CA_BUNDLE}"] if CA_BUNDLE.exists() else []),
        *extra,
    ]
    start = time.monotonic()
    proc = subprocess.run(["make", "-C", str(checkout / "docker"), target, *settings], capture_output=True, text=True)
    return proc, time.monotonic() - start


def words(proc: subprocess.CompletedProcess[str]) -> str:
    """The build's output as one line of words, BuildKit's step prefixes ("#11 12.82") dropped:
    CMake wraps its messages."""
    lines = (re.sub(r"^#\d+ [\d.]+ ", "", line) for line in (proc.stdout + proc.stderr).splitlines())
    return " ".join(" ".join(lines).split())


def tail(proc: subprocess.CompletedProcess[str]) -> str:
    return proc.stdout[-4000:] + proc.stderr[-6000:]


# What pyenv's CPython links beyond glibc (ldd of its lib-dynload), which minbase lacks.
RUNTIME_LIBRARIES = (
    "libbz2-1.0 libexpat1 liblzma5 libncursesw6 libreadline8 libtirpc3 zlib1g libffi8 libsqlite3-0 libssl3"
)


def pyenv_pythons() -> list[Path]:
    """The newest of pyenv's CPythons of each minor from 3.10 on that has a shared libpython."""
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    found = {}
    for prefix in sorted((root / "versions").glob("3.*")):
        match = re.fullmatch(r"3\.(\d+)\.\d+", prefix.name)
        if match and int(match.group(1)) >= 10 and (prefix / "lib" / f"libpython3.{match.group(1)}.so").exists():
            found[int(match.group(1))] = prefix
    return list(found.values())


def python_image(prefix: Path) -> str:
    """BASE_IMAGE with the CPython at prefix copied to the same path, and what it links."""
    tag = f"ncclkit-python:{prefix.name}"
    if docker("image", "inspect", tag).returncode == 0:
        return tag
    dockerfile = (
        f"FROM {BASE_IMAGE}\n"
        f"RUN apt-get update && apt-get install -y --no-install-recommends {RUNTIME_LIBRARIES} "
        "&& rm -rf /var/lib/apt/lists/*\n"
        f"COPY python {prefix}\n"
    ).encode()
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
        tar.add(prefix, arcname="python", filter=lambda m: None if "__pycache__" in m.name else m)
    built = subprocess.run([DOCKER, "build", "-t", tag, "-"], input=context.getvalue(), capture_output=True)
    assert built.returncode == 0, built.stderr.decode()[-3000:]
    return tag


def unstable_pythons() -> list[str]:
    """The Pythons of ci/matrix.json (free-threaded ones aside) that pyenv does not hold here."""
    held = {re.match(r"3\.\d+", prefix.name).group() for prefix in pyenv_pythons()}
    wanted = json.loads((REPO / "ci" / "matrix.json").read_text())["python"]
    return [version for version in wanted if not version.endswith("t") and version not in held]


def unstable_python_image(version: str) -> str | None:
    """UNSTABLE_BASE_IMAGE with Debian's python{version} and a g++ nvcc takes (as CXX and
    CUDAHOSTCXX); None when Debian unstable does not package that Python."""
    tag = f"ncclkit-python:sid-{version}"
    if docker("image", "inspect", tag).returncode == 0:
        return tag
    if docker("run", "--rm", UNSTABLE_BASE_IMAGE, "apt-cache", "show", f"python{version}-dev").returncode != 0:
        return None
    gxx = f"g++-{UNSTABLE_HOST_GCC}"
    dockerfile = (
        f"FROM {UNSTABLE_BASE_IMAGE}\n"
        f"RUN apt-get update && apt-get install -y --no-install-recommends {gxx} && rm -rf /var/lib/apt/lists/*\n"
        f"RUN apt-get update && apt-get install -y --no-install-recommends python{version}-dev python{version}-venv "
        "&& rm -rf /var/lib/apt/lists/*\n"
        f"ENV CXX={gxx} CUDAHOSTCXX={gxx}\n"
    )
    built = subprocess.run([DOCKER, "build", "-t", tag, "-"], input=dockerfile, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-3000:]
    return tag
