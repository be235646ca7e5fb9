"""Time `pip install .` under pip's build isolation: cold (an empty build directory and compiler
cache), again with nothing changed, and again with one CUDA source changed, for the CUDA
toolkit install and for NVIDIA's PyPI compiler wheels (the install hidden); then the wheel's size.
The no-change time is split into pip's setup of its isolated build environment (the build
requirements installed afresh every time) and the backend's build.

    python bench/build_times.py [--archs '90']      # empty --archs: the default arch list

Builds a copy of this checkout (the change is made to the copy) into a scratch virtual
environment; the sccache cache is a fresh directory, so nothing of earlier builds helps.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from checkouts import checkout_copy  # noqa: E402
from pypi_toolkit import hidden_toolkit_environment  # noqa: E402

CHANGED = Path("src/kernels/rms_norm.cu")


# pip's -v steps, "<step>: started" to "<step>: finished": its build environment (the build
# requirements, then the backend's own) and the backend's work (scikit-build-core builds the
# wheel while it prepares the metadata, and hands it over in the build step).
SETUP_STEPS = ("Installing build dependencies", "Installing backend dependencies")
BUILD_STEPS = ("Preparing metadata (pyproject.toml)", "Building wheel for ncclkit")


def timed(command: list[str], env: dict[str, str], log: Path) -> tuple[float, float, float]:
    """Seconds in all, in pip's setup of the build environment, and in the backend's build."""
    start = time.perf_counter()
    started: dict[str, float] = {}
    spent = {"setup": 0.0, "build": 0.0}
    with (
        log.open("a") as out,
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc,
    ):
        for line in proc.stdout:
            out.write(line)
            for step in (*SETUP_STEPS, *BUILD_STEPS):
                if step in line and ": started" in line:
                    started[step] = time.perf_counter()
                elif step in line and ": finished" in line and step in started:
                    spent["build" if step in BUILD_STEPS else "setup"] += time.perf_counter() - started.pop(step)
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, command)
    return time.perf_counter() - start, spent["setup"], spent["build"]


def change_one_source(checkout: Path, n: int) -> None:
    """A change the compiler sees (a comment would not reach sccache's hash)."""
    path = checkout / CHANGED
    path.write_text(path.read_text() + f"\n__device__ int ncclkit_bench_change_{n} = {n};\n")


def compile_seconds(checkout: Path) -> float:
    """How long ninja's last compile of the changed source took (its .ninja_log: start, end in ms)."""
    (log,) = checkout.glob("build/*/.ninja_log")
    durations = [
        (int(end) - int(start)) / 1000
        for start, end, _, output, *_ in (line.split("\t") for line in log.read_text().splitlines()[1:])
        if output.endswith(CHANGED.name + ".o")
    ]
    return durations[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", default="", help="NCCLKIT_CUDA_ARCHS (empty: the default list)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ncclkit-build-times-"))
    subprocess.run([sys.executable, "-m", "venv", str(work / "venv")], check=True)
    python = str(work / "venv" / "bin" / "python")
    log = work / "pip.log"
    rows = []
    for toolkit in ("system", "pypi"):
        checkout = checkout_copy(work / f"checkout-{toolkit}")
        extra = {"NCCLKIT_CUDA_ARCHS": args.archs, "SCCACHE_DIR": str(work / f"sccache-{toolkit}")}
        env = (
            hidden_toolkit_environment(NCCLKIT_CUDA_TOOLKIT="pypi", **extra)
            if toolkit == "pypi"
            else {**os.environ, "NCCLKIT_CUDA_TOOLKIT": "system", **extra}
        )
        install = [python, "-m", "pip", "install", "-v", "--no-deps", "--force-reinstall", str(checkout)]
        cold, _, _ = timed(install, env, log)
        again = timed(install, env, log)
        change_one_source(checkout, 1)
        changed, _, _ = timed(install, env, log)
        rows.append((toolkit, cold, again, changed, compile_seconds(checkout)))
    wheel_dir = work / "wheel"
    timed([python, "-m", "pip", "wheel", "--no-deps", "-w", str(wheel_dir), str(checkout)], env, log)
    (wheel,) = wheel_dir.glob("*.whl")

    print(f"{platform.node()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}, archs: {args.archs or 'default'}")
    columns = "{:<8} {:>7} {:>12} {:>11} {:>9} {:>22} {:>14}"
    names = ("toolkit", "cold s", "no change s", "(pip env s", "build s)", "one .cu changed s", "its compile s")
    print(columns.format(*names))
    for toolkit, cold, (again, setup, build), changed, compile_time in rows:
        seconds = (f"{cold:.0f}", *(f"{t:.1f}" for t in (again, setup, build, changed, compile_time)))
        print(columns.format(toolkit, *seconds))
    print(f"changed: {CHANGED}")
    print(f"wheel: {wheel.name}, {wheel.stat().st_size / 2**20:.1f} MiB (log: {log})")


if __name__ == "__main__":
    main()
