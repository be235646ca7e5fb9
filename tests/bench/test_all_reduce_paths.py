"""bench/all_reduce_paths.py without a GPU: the runs it starts (flags `ncclkit bench collectives`
takes), the medians of repeated runs, the auto limits derived from measured times, and the
tables."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from ncclkit.bench import collectives

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "all_reduce_paths.py"
spec = importlib.util.spec_from_file_location("all_reduce_paths", SCRIPT)
paths = importlib.util.module_from_spec(spec)
spec.loader.exec_module(paths)

KiB, MiB = 2**10, 2**20
# Four H200s, out of place, in CUDA graphs (bench/RESULTS.md, "Custom all-reduce against NCCL on
# four GPUs"): NCCL, one-shot and two-shot (us) from 256 KiB to 8 MiB.
FOUR_RANKS = {
    256 * KiB: (11.18, 10.25, 10.89),
    512 * KiB: (13.98, 18.15, 11.80),
    1 * MiB: (17.62, 16.68, 14.07),
    2 * MiB: (26.62, 27.84, 21.55),
    4 * MiB: (39.35, 48.69, 33.60),
    8 * MiB: (59.22, 90.14, 60.71),
}


def measured(table: dict[int, tuple[float, float, float]]) -> dict[str, dict[int, float]]:
    return {
        label: {size: row[i] for size, row in table.items()} for i, label in enumerate(("NCCL", "one-shot", "two-shot"))
    }


def document(**times: dict[int, float]) -> dict:
    """A run's JSON as `ncclkit bench collectives --json` writes it (the keys read here): each
    collective's time per size."""
    return {
        "results": [
            {"collective": collective, "size": size, "out_of_place": {"time": t, "bus_bw": size / t / 1e3}}
            for collective, by_size in times.items()
            for size, t in by_size.items()
        ]
    }


def feature(available: bool) -> SimpleNamespace:
    return SimpleNamespace(available=available, reason=None if available else "came with NCCL 2.27.0; 2.26.6 loaded")


def test_each_register_mode_is_one_sweep_of_flags_the_bench_takes(tmp_path: Path) -> None:
    every = {"buffer_registration": feature(True), "window_registration": feature(True)}
    assert paths.sweeps(every) == (
        {"0": ["all_reduce", "all_reduce_oneshot", "all_reduce_twoshot"], "1": ["all_reduce"], "2": ["all_reduce"]},
        [],
    )
    older = every | {"window_registration": feature(False)}
    assert paths.sweeps(older)[1] == ["-R 2 not run: window_registration: came with NCCL 2.27.0; 2.26.6 loaded"]
    assert "2" not in paths.sweeps(older)[0]
    flags = ["-b", "1K", "-e", "256M", "-f", "2", "-d", "bfloat16", "-n", "20", "-G", "10", "-w", "5"]
    run = paths.command(4, ["all_reduce"], "2", flags, tmp_path / "r.json")
    assert run[:5] == [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=4"]
    bench = run[run.index("collectives") + 1 :]
    args = collectives.parser().parse_args(bench)
    assert (args.local_register, args.cudagraph, args.datatype, args.maxbytes, args.json) == (
        2,
        10,
        "bfloat16",
        256 * MiB,
        tmp_path / "r.json",
    )


def test_medians_of_the_repeated_runs_by_path() -> None:
    documents = {
        "0": [document(all_reduce={KiB: t}, all_reduce_oneshot={KiB: t / 2}) for t in (9.0, 30.0, 10.0)],
        "2": [document(all_reduce={KiB: t}) for t in (5.0, 6.0)],
    }
    times = paths.medians(documents, "time")
    assert times == {"NCCL": {KiB: 10.0}, "NCCL -R 2": {KiB: 5.5}, "one-shot": {KiB: 5.0}}


def test_auto_limits_are_those_of_the_four_rank_run() -> None:
    times = measured(FOUR_RANKS)
    assert paths.auto_limits(times) == (256 * KiB, 4 * MiB)
    assert [paths.plan(size, (256 * KiB, 4 * MiB)) for size in FOUR_RANKS] == [
        "one-shot",
        "two-shot",
        "two-shot",
        "two-shot",
        "two-shot",
        "NCCL",
    ]


def test_one_noisy_size_does_not_split_the_plan() -> None:
    """One-shot wins by a hair at 2 MiB alone: switching back and forth would cost more elsewhere
    than it gains there, so the limits stay where two-shot takes over."""
    table = dict(FOUR_RANKS) | {2 * MiB: (26.62, 21.50, 21.55)}
    assert paths.auto_limits(measured(table)) == (256 * KiB, 4 * MiB)


def test_where_nccl_is_fastest_everywhere_auto_never_takes_the_custom_kernels() -> None:
    table = {size: (1.0, 2.0, 3.0) for size in FOUR_RANKS}
    assert paths.auto_limits(measured(table)) == (0, 0)


def test_no_size_all_three_ran_is_an_error() -> None:
    with pytest.raises(ValueError, match="no size was run by NCCL, one-shot and two-shot alike"):
        paths.auto_limits({"NCCL": {MiB: 1.0}, "one-shot": {}, "two-shot": {KiB: 1.0}})


def test_tables_give_ratios_to_plain_nccl_and_the_plans() -> None:
    times = measured(FOUR_RANKS) | {"NCCL -R 2": {size: 10.0 for size in FOUR_RANKS}}
    times["NCCL"][16 * MiB] = 100.0  # NCCL alone past the custom buffer
    times["NCCL -R 2"][16 * MiB] = 80.0
    busbw = {label: {size: 2.0 * size / t / 1e3 for size, t in by_size.items()} for label, by_size in times.items()}
    text = paths.tables(times, busbw, (8 * MiB, 8 * MiB)).splitlines()
    assert text[0] == (
        "| size (B) | NCCL (us) | NCCL -R 2 (us) | one-shot (us) | two-shot (us) | fastest | auto now | auto measured |"
    )
    assert f"| {MiB} | 17.62 | 10.00 (0.57) | 16.68 (0.95) | 14.07 (0.80) | NCCL -R 2 | one-shot | two-shot |" in text
    assert f"| {16 * MiB} | 100.00 | 80.00 (0.80) | - | - | NCCL -R 2 | NCCL | NCCL |" in text
    assert text[text.index("") + 1] == (
        "| size (B) | NCCL busbw (GB/s) | NCCL -R 2 busbw (GB/s) | one-shot busbw (GB/s) | two-shot busbw (GB/s) |"
    )
    assert f"| {16 * MiB} | 335.5 | 419.4 | 0.0 | 0.0 |" in text


def test_more_ranks_than_gpus_is_an_error_naming_nproc(capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    gpus = torch.cuda.device_count()
    too_many = " ".join(str(n) for n in (2, 512) if n > gpus)
    with pytest.raises(SystemExit) as info:
        paths.main(["--nproc", "2", "512"])
    assert info.value.code == 2
    assert f"--nproc {too_many}: this machine has {gpus} visible GPU(s)" in capsys.readouterr().err


def test_the_plot_draws_one_line_per_path(tmp_path: Path) -> None:
    from ncclkit.bench import plot

    pytest.importorskip("matplotlib")
    times = measured(FOUR_RANKS) | {"NCCL -R 2": {size: 10.0 for size in FOUR_RANKS}}
    busbw = {label: {size: 1.0 for size in by_size} for label, by_size in times.items()}
    rows = paths.plot_rows(times, busbw, "bfloat16")
    assert set(plot.lines(rows, "time")) == {
        "NCCL out-of-place",
        "one-shot out-of-place",
        "two-shot out-of-place",
        "NCCL-R2 out-of-place",
    }
    plot.plot(rows, tmp_path / "paths.png", "time", "all_reduce")
    assert (tmp_path / "paths.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
