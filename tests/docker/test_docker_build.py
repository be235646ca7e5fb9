"""docker/Dockerfile built for real, as CI runs it: a docker engine (started here when none runs,
stopped after), a Debian 12 base image made with debootstrap (no registry is needed), then
`make -C docker wheel` and `make -C docker test` with the CUDA compiler from PyPI; the wheel is
checked, and the same sources are built again from a checkout elsewhere with docker's cache off
(`--no-cache`, which empties the cache mounts too, sccache's among them): the two wheels are
byte-identical."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

from checkouts import checkout_copy
from docker_images import REPO, make, tail


def test_docker_wheel_and_test_then_a_second_checkout_builds_the_same_wheel(base_image: str, tmp_path: Path) -> None:
    one = checkout_copy(tmp_path / "one" / "ncclkit")
    built, first_time = make(one, "wheel", tmp_path / "out-one")
    assert built.returncode == 0, tail(built)
    (wheel,) = (tmp_path / "out-one").glob("ncclkit-*.whl")
    # ci/build_wheel.sh checked it in the build (and failed it otherwise); BuildKit may clip a
    # step's log, so the check is run again here rather than read from that log.
    check = [sys.executable, str(REPO / "ci" / "check_wheel.py"), str(wheel)]
    checked = subprocess.run(check, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "every rule passed" in checked.stdout.splitlines()[-1]
    assert "manylinux_2_34_x86_64" in wheel.name  # Debian 12's glibc calls for 2.34
    with zipfile.ZipFile(wheel) as whl:
        assert json.loads(whl.read("ncclkit/_comm.build.json"))["cuda"]["toolkit"]["source"] == "pypi"

    tested, _ = make(one, "test", tmp_path / "out-one")
    assert tested.returncode == 0, tail(tested)
    log = tested.stdout + tested.stderr
    step = re.search(r"^#(\d+) \[test [^\]]*\] RUN ncclkit info", log, re.MULTILINE)
    assert step, tail(tested)
    # BuildKit keeps a step's result only when it succeeded: a cached test step passed on these
    # same inputs before (an engine that built this commit already).
    assert re.search(rf"^#{step[1]} CACHED$", log, re.MULTILINE) or re.search(r" \d+ passed", log), tail(tested)

    two = checkout_copy(tmp_path / "two" / "deeper" / "src")
    again, second_time = make(two, "wheel", tmp_path / "out-two", "DOCKER_BUILD_FLAGS=--progress=plain --no-cache")
    assert again.returncode == 0, tail(again)
    (second,) = (tmp_path / "out-two").glob("ncclkit-*.whl")
    assert second.name == wheel.name and second.read_bytes() == wheel.read_bytes()
    print(f"docker wheel: first build {first_time:.0f} s, second (--no-cache) {second_time:.0f} s")
