"""Time `make -C docker wheel` on the Debian 12 base image the docker tests make, CUDA compiler
from PyPI, one arch: cold (docker's build cache and the sccache cache mount emptied first), then
with one C++ source changed (only the build step runs again, sccache warm), then every stage again
with docker's layers pruned and its cache mounts kept (sccache warm; `--no-cache` would empty the
mounts too); the seconds of the build step (pip wheel, repair, check) beside the whole build's,
and the wheel's size.

    python bench/docker_build_times.py

Needs a running docker engine and the image ncclkit-base:bookworm (`python -m pytest
tests/docker` starts the one and makes the other). It empties the engine's build cache.
"""

from __future__ import annotations

import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from checkouts import checkout_copy  # noqa: E402
from docker_images import BASE_IMAGE, docker, make, tail  # noqa: E402

CHANGED = Path("src/comm/dlpack.cpp")
# BuildKit's plain progress: the step that runs ci/build_wheel.sh, and when it is done.
BUILD_STEP = re.compile(r"^#(\d+) \[build \d+/\d+\] RUN .*ci/build_wheel\.sh", re.MULTILINE)


def step_seconds(output: str) -> float:
    (number,) = BUILD_STEP.findall(output)
    return float(re.search(rf"^#{number} DONE ([\d.]+)s$", output, re.MULTILINE).group(1))


def build(checkout: Path, out: Path, *extra: str) -> tuple[float, float, Path]:
    proc, seconds = make(checkout, "wheel", out, *extra)
    if proc.returncode:
        sys.exit(tail(proc))
    (wheel,) = out.glob("*.whl")
    return seconds, step_seconds(proc.stdout + proc.stderr), wheel


def prune(kind: str | None = None) -> None:
    """Empties docker's build cache, or its records of one kind."""
    pruned = docker("builder", "prune", "-af", *([f"--filter=type={kind}"] if kind else []))
    if pruned.returncode:
        sys.exit(pruned.stderr)


def main() -> None:
    if docker("image", "inspect", BASE_IMAGE).returncode:
        sys.exit(f"no image {BASE_IMAGE}: run `python -m pytest tests/docker` first, which makes it")
    prune()
    work = Path(tempfile.mkdtemp(prefix="ncclkit-docker-times-"))
    checkout = checkout_copy(work / "ncclkit")
    rows = [("cold", *build(checkout, work / "cold"))]
    source = checkout / CHANGED
    source.write_text(source.read_text() + "\nnamespace { [[maybe_unused]] int ncclkit_bench_change = 1; }\n")
    rows.append((f"{CHANGED.name} changed", *build(checkout, work / "changed")))
    # Layers and copied sources go; the cache mounts (exec.cachemount) stay.
    prune("regular")
    prune("source.local")
    rows.append(("layers pruned", *build(checkout, work / "pruned")))

    print(f"{platform.node()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}, {BASE_IMAGE}, arch 90")
    print(f"{'build':<22} {'total s':>8} {'build step s':>13}  wheel")
    for name, total, step, wheel in rows:
        print(f"{name:<22} {total:>8.0f} {step:>13.1f}  {wheel.name}, {wheel.stat().st_size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
