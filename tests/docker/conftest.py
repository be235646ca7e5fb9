"""The docker engine and the base image the builds of tests/docker run on."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest
from docker_images import BASE_IMAGE, DEBIAN_MIRROR, DOCKER, UNSTABLE_BASE_IMAGE, docker


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running docker engine: the one there is, else dockerd started as root for these tests."""
    if DOCKER is None:
        pytest.skip("no docker client (apt install docker.io)")
    if docker("info").returncode == 0:
        yield DOCKER
        return
    if shutil.which("dockerd") is None or os.geteuid() != 0:
        pytest.skip("no docker engine runs, and dockerd cannot be started here (apt install docker.io; root)")
    log = tmp_path_factory.mktemp("dockerd") / "dockerd.log"
    with log.open("w") as out:
        daemon = subprocess.Popen(["dockerd"], stdout=out, stderr=subprocess.STDOUT)
    try:
        for _ in range(60):
            if docker("info").returncode == 0:
                break
            time.sleep(1)
        else:
            pytest.fail(f"dockerd did not start within 60 s:\n{log.read_text()[-3000:]}")
        yield DOCKER
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)


def debootstrap_image(engine: str, suite: str, tag: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Debian SUITE, minbase, as the docker image TAG: debootstrap's tree imported."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed: the builds run `make -C docker`")
    if docker("image", "inspect", tag).returncode == 0:
        return tag
    if shutil.which("debootstrap") is None:
        pytest.skip("debootstrap is not installed (apt install debootstrap): it makes the base images")
    rootfs = tmp_path_factory.mktemp(f"rootfs-{suite}")
    made = subprocess.run(
        ["debootstrap", "--variant=minbase", suite, str(rootfs), DEBIAN_MIRROR], capture_output=True, text=True
    )
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    # A mirror may serve a snapshot whose Release files (unstable's say "Valid-Until") have
    # expired, and apt-get update in the builds would refuse it.
    (rootfs / "etc/apt/apt.conf.d/99snapshot").write_text('Acquire::Check-Valid-Until "false";\n')
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    imported = subprocess.run([engine, "import", "-", tag], stdin=tar.stdout, capture_output=True, text=True)
    tar.wait()
    assert imported.returncode == 0, imported.stderr
    return tag


@pytest.fixture(scope="session")
def base_image(engine: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Debian 12, the base of the docker build and of the images with pyenv's Pythons."""
    return debootstrap_image(engine, "bookworm", BASE_IMAGE, tmp_path_factory)


@pytest.fixture(scope="session")
def unstable_image(engine: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Debian unstable, whose packages hold the Pythons newer than pyenv's."""
    return debootstrap_image(engine, "sid", UNSTABLE_BASE_IMAGE, tmp_path_factory)
