"""An all_reduce five ways on the same GPUs, in CUDA graphs: NCCL on plain buffers, on registered
buffers (-R 1) and on symmetric windows (-R 2), and ncclkit's custom one-shot and two-shot; time
(with its ratio to plain NCCL's) and busbw per size as Markdown tables, and the
`algorithm="auto"` limits this run gives each world size.

    python bench/all_reduce_paths.py --nproc 8 [-b 1K -e 256M -f 2 -d bfloat16] [--repeats 3]
    python bench/all_reduce_paths.py --nproc 3 5 6 7 8    # the auto limits of several world sizes

Each world size runs one process per GPU under torchrun (`ncclkit bench collectives -G`, so that
times are the GPUs' and not the host's); the runs alternate --repeats times and the median
counts. NCCL's environment passes through (NCCL_NVLS_ENABLE among it) and is printed.
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

# label -> (ncclkit bench collectives' collective, -R). The custom all-reduce copies a plain
# buffer into its own, so registration does not apply to it.
PATHS = {
    "NCCL": ("all_reduce", "0"),
    "NCCL -R 1": ("all_reduce", "1"),
    "NCCL -R 2": ("all_reduce", "2"),
    "one-shot": ("all_reduce_oneshot", "0"),
    "two-shot": ("all_reduce_twoshot", "0"),
}
BASELINE = "NCCL"
PLANNED = ("one-shot", "two-shot", "NCCL")  # what algorithm="auto" chooses among


# -R mode -> the feature it needs (ncclkit.nccl_features()).
REGISTRATION = {"1": "buffer_registration", "2": "window_registration"}


def sweeps(features: dict) -> tuple[dict[str, list[str]], list[str]]:
    """-R mode -> the collectives one `ncclkit bench collectives` run sweeps with it, for the modes
    this NCCL has; and a line for each mode it lacks, saying why."""
    runs: dict[str, list[str]] = {}
    lacking = []
    for collective, register in PATHS.values():
        feature = features.get(REGISTRATION.get(register))
        if feature is not None and not feature.available:
            lacking.append(f"-R {register} not run: {REGISTRATION[register]}: {feature.reason}")
        else:
            runs.setdefault(register, []).append(collective)
    return runs, sorted(set(lacking))


def command(nproc: int, collectives: list[str], register: str, flags: list[str], report: Path) -> list[str]:
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}"]
    bench = ["-m", "ncclkit", "bench", "collectives", *collectives, *flags, "-R", register, "--no-progress"]
    return [*torchrun, *bench, "--json", str(report)]


def medians(documents: dict[str, list[dict]], measure: str) -> dict[str, dict[int, float]]:
    """label -> size -> the median out-of-place `measure` ("time" or "bus_bw") over the repeated
    runs; `documents` maps each -R mode to its runs' JSON."""
    found: dict[str, dict[int, list[float]]] = {}
    for label, (collective, register) in PATHS.items():
        for document in documents.get(register, []):
            for result in document["results"]:
                if result["collective"] == collective:
                    found.setdefault(label, {}).setdefault(result["size"], []).append(result["out_of_place"][measure])
    return {label: {size: statistics.median(v) for size, v in runs.items()} for label, runs in found.items()}


def plan(nbytes: int, limits: tuple[int, int]) -> str:
    """The path algorithm="auto" takes for a message that the custom all-reduce's buffer holds."""
    oneshot_max, twoshot_max = limits
    return "one-shot" if nbytes <= oneshot_max else "two-shot" if nbytes <= twoshot_max else "NCCL"


def auto_limits(times: dict[str, dict[int, float]]) -> tuple[int, int]:
    """The (one-shot, two-shot) limits of algorithm="auto" ("one-shot up to the first, two-shot up
    to the second, NCCL above") whose choices cost the least, summing each size's time over the
    fastest's, on the sizes all three ran. Measured noise cannot make a plan of several switches."""
    sizes = sorted(set(times["NCCL"]) & set(times["one-shot"]) & set(times["two-shot"]))
    if not sizes:
        msg = "no size was run by NCCL, one-shot and two-shot alike"
        raise ValueError(msg)
    best = {s: min(times[label][s] for label in PLANNED) for s in sizes}
    bounds = [0, *sizes]

    def cost(limits: tuple[int, int]) -> float:
        return sum(times[plan(s, limits)][s] / best[s] for s in sizes)

    return min(((a, b) for a in bounds for b in bounds if b >= a), key=cost)


def _cell(value: float, baseline: float | None) -> str:
    return f"{value:.2f}" if baseline is None else f"{value:.2f} ({value / baseline:.2f})"


def tables(times: dict[str, dict[int, float]], busbw: dict[str, dict[int, float]], limits_now: tuple[int, int]) -> str:
    """The time table (each path's ratio to plain NCCL's in brackets, the fastest path, auto's
    choice today and from this run) and the busbw table, one row per size."""
    labels = [label for label in PATHS if label in times]
    derived = auto_limits(times)
    custom_sizes = set(times["one-shot"]) & set(times["two-shot"])
    lines = [
        "| size (B) | " + " | ".join(f"{label} (us)" for label in labels) + " | fastest | auto now | auto measured |",
        "| ---: | " + " | ".join("---:" for _ in labels) + " | --- | --- | --- |",
    ]
    for size in sorted(times[BASELINE]):
        base = times[BASELINE][size]
        cells = [
            _cell(times[lb][size], None if lb == BASELINE else base) if size in times[lb] else "-" for lb in labels
        ]
        fastest = min((lb for lb in labels if size in times[lb]), key=lambda lb: times[lb][size])
        now, measured = (plan(size, limits_now), plan(size, derived)) if size in custom_sizes else ("NCCL", "NCCL")
        lines.append(f"| {size} | " + " | ".join(cells) + f" | {fastest} | {now} | {measured} |")
    lines += [
        "",
        "| size (B) | " + " | ".join(f"{label} busbw (GB/s)" for label in labels) + " |",
        "| ---: | " + " | ".join("---:" for _ in labels) + " |",
    ]
    for size in sorted(busbw[BASELINE]):
        lines.append(f"| {size} | " + " | ".join(f"{busbw[lb].get(size, 0):.1f}" for lb in labels) + " |")
    return "\n".join(lines)


def plot_rows(times: dict[str, dict[int, float]], busbw: dict[str, dict[int, float]], dtype: str) -> list:
    """The medians as `ncclkit bench collectives` rows, one "collective" per path, for its plot."""
    from ncclkit.bench.results import Measurement, Row

    return [
        Row(label.replace(" ", ""), size, 0, dtype, "sum", -1, Measurement(t, 0.0, busbw[label][size], None), None)
        for label, by_size in times.items()
        for size, t in sorted(by_size.items())
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nproc", type=int, nargs="+", required=True, help="world sizes: processes, one GPU each")
    parser.add_argument("-b", default="1K")
    parser.add_argument("-e", default="256M")
    parser.add_argument("-f", default="2")
    parser.add_argument("-d", default="bfloat16")
    parser.add_argument("-n", default="20", help="timed calls captured in the graph (default: 20)")
    parser.add_argument("-G", default="10", help="replays of the graph timed (default: 10)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each sweep, alternating; the median counts")
    parser.add_argument("--reports", type=Path, help="keep every run's JSON in this directory")
    parser.add_argument("--plots", type=Path, help="draw each world size's times into DIR/all-reduce-paths-Nranks.png")
    args = parser.parse_args(argv)
    import torch
    from ncclkit import custom_all_reduce, get_version, nccl_features
    from ncclkit.bench import plot

    if args.plots:
        plot.require()
        args.plots.mkdir(parents=True, exist_ok=True)

    gpus = torch.cuda.device_count()
    too_many = [n for n in args.nproc if not 1 <= n <= gpus]
    if too_many:
        parser.error(f"--nproc {' '.join(map(str, too_many))}: this machine has {gpus} visible GPU(s)")
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    flags = ["-b", args.b, "-e", args.e, "-f", args.f, "-d", args.d, "-n", args.n, "-G", args.G, "-w", "5"]
    nccl_env = " ".join(f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith("NCCL_")) or "none"
    print(
        f"{torch.cuda.get_device_name(0)} x {gpus}; NCCL {get_version()}; torch {torch.__version__}; "
        f"flags {' '.join(flags)}; NCCL environment: {nccl_env}"
    )
    runs, lacking = sweeps(nccl_features())
    for line in lacking:
        print(line)
    with tempfile.TemporaryDirectory() as tmp:
        reports = args.reports or Path(tmp)
        reports.mkdir(parents=True, exist_ok=True)
        for nproc in args.nproc:
            documents: dict[str, list[dict]] = {}
            for repeat in range(args.repeats):  # alternating, so that drifts of the machine hit every path alike
                for register, collectives in runs.items():
                    report = reports / f"all-reduce-{nproc}-ranks-R{register}-{repeat}.json"
                    subprocess.run(command(nproc, collectives, register, flags, report), check=True)
                    documents.setdefault(register, []).append(json.loads(report.read_text()))
            times, busbw = medians(documents, "time"), medians(documents, "bus_bw")
            limits_now = custom_all_reduce.AUTO_LIMITS.get(nproc, custom_all_reduce.AUTO_LIMITS_OTHERWISE)
            print(f"\n### {nproc} rank(s), out of place\n\n{tables(times, busbw, limits_now)}")
            print(f"\nauto measured on {nproc} rank(s): AUTO_LIMITS[{nproc}] = {auto_limits(times)}")
            if args.plots:
                title = f"all_reduce, {args.d}, {nproc} rank(s), in CUDA graphs\n{torch.cuda.get_device_name(0)}"
                plot.plot(
                    plot_rows(times, busbw, args.d), args.plots / f"all-reduce-paths-{nproc}ranks.png", "time", title
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
