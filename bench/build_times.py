"""Time `pip install .` under pip's build isolation: cold (an empty build directory and compiler
cache), again with nothing changed, and again with one CUDA source changed, for the CUDA
toolkit install and for NVIDIA's PyPI compiler wheels (the install hidden); then the wheel's size.

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


def timed(command: list[str], env: dict[str, str], log: Path) -> float:
    start = time.perf_counter()
    with log.open("a") as out:
        subprocess.run(command, check=True, env=env, stdout=out, stderr=subprocess.STDOUT)
    return time.perf_counter() - start


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
        cold = timed(install, env, log)
        again = timed(install, env, log)
        change_one_source(checkout, 1)
        changed = timed(install, env, log)
        rows.append((toolkit, cold, again, changed, compile_seconds(checkout)))
    wheel_dir = work / "wheel"
    timed([python, "-m", "pip", "wheel", "--no-deps", "-w", str(wheel_dir), str(checkout)], env, log)
    (wheel,) = wheel_dir.glob("*.whl")

    print(f"{platform.node()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}, archs: {args.archs or 'default'}")
    print(f"{'toolkit':<8} {'cold s':>7} {'no change s':>12} {f'{CHANGED.name} changed s':>22} {'its compile s':>14}")
    for toolkit, cold, again, changed, compile_time in rows:
        print(f"{toolkit:<8} {cold:>7.0f} {again:>12.1f} {changed:>22.1f} {compile_time:>14.1f}")
    print(f"wheel: {wheel.name}, {wheel.stat().st_size / 2**20:.1f} MiB (log: {log})")


if __name__ == "__main__":
    main()
