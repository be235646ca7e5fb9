"""`ncclkit bench collectives` beside nccl-tests on the same GPUs, NCCL and flags: busbw per size
(the median of --repeats alternating runs of each) and the ratio, as one Markdown table.

    python bench/nccl_tests.py --build /path/to/nccl-tests-source --out-dir /tmp/nccl-tests
    python bench/nccl_tests.py --nccl-tests /tmp/nccl-tests [-b 64M -e 1G -f 2] [--collectives ...]

nccl-tests (NVIDIA/nccl-tests, MPI=0) runs as one process over every visible GPU (-g), as does
ncclkit's bench (Communicator.init_all), so that both pay the same host costs. It is built
against, and run with, the libnccl.so.2 ncclkit itself loads. Goal (the multi-GPU run): ncclkit at
0.98 of nccl-tests' busbw or better from 64 MiB up.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

# ncclkit's collective -> nccl-tests' binary
BINARIES = {
    "all_reduce": "all_reduce_perf",
    "all_gather": "all_gather_perf",
    "reduce_scatter": "reduce_scatter_perf",
    "broadcast": "broadcast_perf",
    "reduce": "reduce_perf",
    "all_to_all": "alltoall_perf",
    "gather": "gather_perf",
    "scatter": "scatter_perf",
    "sendrecv": "sendrecv_perf",
}
GOAL_RATIO, GOAL_FROM_BYTES = 0.98, 64 * 2**20


def loaded_nccl() -> Path:
    """The libnccl.so.2 this process loads through ncclkit."""
    from ncclkit import compat, get_version

    get_version()  # loads ncclkit._comm, and NCCL with it
    loaded = compat.gather(full=False).nccl_loaded_file
    if not loaded:
        sys.exit("nccl_tests: ncclkit loaded no libnccl.so.2 (a build without NCCL, or a static one)")
    return Path(loaded).resolve()


def nccl_home(library: Path, nccl_h: Path, scratch: Path) -> Path:
    """include/nccl.h and lib/libnccl.so beside each other, as nccl-tests' Makefile wants them: the
    nvidia-nccl wheel has libnccl.so.2 and no libnccl.so."""
    (scratch / "include").mkdir(parents=True)
    (scratch / "lib").mkdir()
    (scratch / "include" / "nccl.h").symlink_to(nccl_h)
    (scratch / "lib" / "libnccl.so").symlink_to(library)
    return scratch


def build_command(source: Path, out_dir: Path, home: Path, archs: str, collectives: list[str]) -> list[str]:
    """make for the binaries of `collectives` only: a newer nccl-tests' other tests (alltoall's
    device API) may need a newer nccl.h than the NCCL being measured has."""
    gencode = " ".join(f"-gencode=arch=compute_{a},code=sm_{a}" for a in archs.split(";"))
    binaries = " ".join(BINARIES[c].removesuffix("_perf") for c in collectives)
    return ["make", "-C", str(source / "src"), "-j", str(os.cpu_count() or 1), "MPI=0"] + [
        f"NCCL_HOME={home}",
        f"NVCC_GENCODE={gencode}",
        f"BUILDDIR={out_dir.resolve()}",
        f"BIN_FILES_LIST={binaries}",
    ]


def busbw_by_size(documents: list[dict]) -> dict[int, float]:
    """Out-of-place busbw per size, the median over repeated runs; nccl-tests' JSON and ncclkit's
    alike (results with size and out_of_place.bus_bw)."""
    runs: dict[int, list[float]] = {}
    for document in documents:
        for result in document["results"]:
            runs.setdefault(result["size"], []).append(result["out_of_place"]["bus_bw"])
    return {size: statistics.median(values) for size, values in runs.items()}


def rows(collective: str, ours: dict[int, float], theirs: dict[int, float]) -> list[str]:
    """Table rows of the sizes both ran; the ratio is ncclkit's busbw over nccl-tests'."""
    lines = []
    for size in sorted(set(ours) & set(theirs)):
        ratio = f"{ours[size] / theirs[size]:.3f}" if theirs[size] else "-"
        lines.append(f"| {collective} | {size} | {theirs[size]:.1f} | {ours[size]:.1f} | {ratio} |")
    return lines


def goal(collective: str, ours: dict[int, float], theirs: dict[int, float]) -> str:
    sizes = [s for s in sorted(set(ours) & set(theirs)) if s >= GOAL_FROM_BYTES]
    ratios = [ours[s] / theirs[s] for s in sizes]
    if not ratios:
        return f"{collective}: no size from {GOAL_FROM_BYTES} bytes up was run"
    worst = min(ratios)
    return f"{collective}: lowest ratio from 64 MiB up {worst:.3f} ({'met' if worst >= GOAL_RATIO else 'MISSED'})"


def run(binary: Path, flags: list[str], report: Path, env: dict[str, str]) -> dict:
    subprocess.run([str(binary), *flags, "-J", str(report)], check=True, env=env, stdout=subprocess.DEVNULL)
    return json.loads(report.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, metavar="SOURCE", help="build nccl-tests from this checkout first")
    parser.add_argument("--out-dir", type=Path, help="where --build puts the binaries")
    parser.add_argument("--archs", default="90", help="CUDA archs for --build, CMake style (default: 90)")
    parser.add_argument(
        "--nccl-include", type=Path, help="nccl.h's directory for --build (default: the nvidia-nccl wheel's)"
    )
    parser.add_argument("--nccl-tests", type=Path, help="the directory of nccl-tests' binaries")
    parser.add_argument("--collectives", nargs="+", default=["all_reduce", "all_gather", "reduce_scatter"])
    parser.add_argument("--reports", type=Path, help="keep both tools' JSON reports in this directory")
    parser.add_argument("-b", default="64M")
    parser.add_argument("-e", default="1G")
    parser.add_argument("-f", default="2")
    parser.add_argument("-n", default="20")
    parser.add_argument("-R", default="0", choices=("0", "1", "2"), help="both tools' buffer registration (default: 0)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each tool, alternating; the median counts")
    args = parser.parse_args(argv)
    unknown = [c for c in args.collectives if c not in BINARIES]
    if unknown:
        parser.error(f"unknown collective {', '.join(unknown)}: choose from {', '.join(BINARIES)}")

    library = loaded_nccl()
    import torch
    from ncclkit.build_info import build_info

    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        if args.build:
            if not args.out_dir:
                parser.error("--build needs --out-dir")
            header = (args.nccl_include or library.parent.parent / "include") / "nccl.h"
            if not header.is_file():
                parser.error(f"no {header} beside the loaded {library}: give --nccl-include")
            home = nccl_home(library, header, scratch / "nccl")
            subprocess.run(build_command(args.build, args.out_dir, home, args.archs, args.collectives), check=True)
            if not args.nccl_tests:
                return 0
        if not args.nccl_tests:
            parser.error("give --nccl-tests DIR (or --build SOURCE --out-dir DIR)")
        reports = args.reports or scratch
        reports.mkdir(parents=True, exist_ok=True)
        gpus = torch.cuda.device_count()
        flags = ["-b", args.b, "-e", args.e, "-f", args.f, "-n", args.n, "-w", "5", "-g", str(gpus), "-R", args.R]
        # nccl-tests finds the same libnccl.so.2 ncclkit loads.
        env = {**os.environ, "LD_LIBRARY_PATH": f"{library.parent}:{os.environ.get('LD_LIBRARY_PATH', '')}"}
        print(
            f"{torch.cuda.get_device_name(0)} x {gpus}; NCCL {build_info()['nccl']['version']} built, "
            f"{library} loaded; torch {torch.__version__}; flags {' '.join(flags)}\n"
        )
        print("| collective | size (B) | nccl-tests busbw (GB/s) | ncclkit busbw (GB/s) | ratio |")
        print("| --- | ---: | ---: | ---: | ---: |")
        goals = []
        for collective in args.collectives:
            theirs, ours = [], []
            for repeat in range(args.repeats):  # alternating, so that drifts of the machine hit both alike
                report = reports / f"{collective}-nccl-tests-{repeat}.json"
                theirs.append(run(args.nccl_tests / BINARIES[collective], flags, report, env))
                report = reports / f"{collective}-ncclkit-{repeat}.json"
                command = [sys.executable, "-m", "ncclkit", "bench", "collectives", collective, *flags, "--no-progress"]
                subprocess.run([*command, "--json", str(report)], check=True, stdout=subprocess.DEVNULL)
                ours.append(json.loads(report.read_text()))
            ours_busbw, theirs_busbw = busbw_by_size(ours), busbw_by_size(theirs)
            print("\n".join(rows(collective, ours_busbw, theirs_busbw)))
            goals.append(goal(collective, ours_busbw, theirs_busbw))
        print("\n" + "\n".join(goals))
    return 0


if __name__ == "__main__":
    sys.exit(main())
