"""Time `NCCLKIT_NCCL=source pip install .`: a cold build (NCCL included) and a rebuild with nothing
changed, in a build directory that survives between the two, for each arch list given.

    python bench/nccl_source_build.py --nccl-source /path/to/nccl --archs 90 --archs "90;100"

Runs pip with --no-build-isolation: the build requirements must be installed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def pip_install(build_dir: Path, env: dict[str, str], log: Path) -> float:
    start = time.perf_counter()
    with log.open("a") as out:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "-v", "--force-reinstall"]
            + [f"--config-settings=build-dir={build_dir}", str(REPO)],
            check=True,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nccl-source", required=True, type=Path)
    parser.add_argument("--archs", action="append", required=True, help="NCCLKIT_CUDA_ARCHS; repeat to compare")
    parser.add_argument("--log-dir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()

    rows = []
    for archs in args.archs:
        build_dir = Path(tempfile.mkdtemp(prefix="ncclkit-bench-"))
        env = {
            **os.environ,
            "NCCLKIT_NCCL": "source",
            "NCCL_SOURCE_DIR": str(args.nccl_source.resolve()),
            "NCCLKIT_CUDA_ARCHS": archs,
        }
        log = args.log_dir / f"nccl-source-build-{archs.replace(';', '_')}.log"
        log.unlink(missing_ok=True)
        cold = pip_install(build_dir, env, log)
        warm = pip_install(build_dir, env, log)
        rows.append((archs, cold, warm))
        shutil.rmtree(build_dir)

    print(f"{'NCCLKIT_CUDA_ARCHS':<20} {'cold build (s)':>15} {'no-change rebuild (s)':>22}")
    for archs, cold, warm in rows:
        print(f"{archs:<20} {cold:>15.1f} {warm:>22.1f}")


if __name__ == "__main__":
    main()
