"""ncclkit bench on GPUs: short sweeps of every collective on one rank, on every visible GPU
(init_all) and under torchrun, each size checked (#wrong 0); a check that does find wrong
elements; and the call-overhead benchmark."""

from __future__ import annotations

import dataclasses
import functools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

import ncclkit  # noqa: E402
from ncclkit import _comm  # noqa: E402
from ncclkit.bench import collectives, overhead, runner  # noqa: E402
from ncclkit.bench.definitions import COLLECTIVES  # noqa: E402

# What `ncclkit bench collectives all` runs: nccl-tests' collectives, not the custom all-reduce.
NCCL_TESTS = {name for name, c in COLLECTIVES.items() if not c.custom_all_reduce}

pytestmark = pytest.mark.gpu

SWEEP = ["-b", "8", "-e", "1M", "-f", "8", "-w", "2", "-n", "5", "-c", "2", "--no-progress"]
UNCHECKED_IN_PLACE = {"sendrecv"}  # N/A in nccl-tests too


def run_sweep(tmp_path: Path, *flags: str) -> dict[str, Any]:
    report = tmp_path / "bench.json"
    assert collectives.main(["all", *SWEEP, "--json", str(report), "--csv", str(tmp_path / "bench.csv"), *flags]) == 0
    return json.loads(report.read_text())


def assert_sane(document: dict[str, Any], nranks: int) -> None:
    results = document["results"]
    assert document["environment"]["world_size"] == nranks
    assert document["environment"]["nccl"] == ncclkit.compat.nccl_version_string(ncclkit.get_version())
    assert [r["size"] for r in results if r["collective"] == "all_reduce"] == [8 * 8**i for i in range(6)]
    assert {r["collective"] for r in results} == NCCL_TESTS
    assert document["out_of_bounds"] == {"count": 0, "okay": True}
    for r in results:
        collective = COLLECTIVES[r["collective"]]
        assert ("in_place" in r) == collective.has_in_place, r
        for placement in ("out_of_place", "in_place")[: 1 + collective.has_in_place]:
            m = r[placement]
            unchecked = placement == "in_place" and r["collective"] in UNCHECKED_IN_PLACE
            assert m["nwrong"] == (None if unchecked else 0), r
            assert 0 < m["time"] < 1e5, r  # microseconds: a small collective takes more than 0 and well under 0.1 s
            assert (m["alg_bw"] > 0) == (r["count"] > 0), r
            assert m["bus_bw"] == pytest.approx(m["alg_bw"] * collective.bus_factor(nranks)), r
            # algbw is the bytes moved over the time, as nccl-tests defines them.
            moved = r["count"] * 4 * (nranks if collective.moves_per_rank else 1)
            assert m["alg_bw"] == pytest.approx(moved / 1e9 / (m["time"] * 1e-6), rel=1e-6), r


def test_sweep_on_one_rank(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = run_sweep(tmp_path, "-g", "1")
    assert_sane(document, 1)
    out = capsys.readouterr().out
    assert out.count("# Out of bounds values : 0 OK") == len(NCCL_TESTS)
    assert "#  Rank  0 Pid" in out and torch.cuda.get_device_name(0) in out
    csv_lines = (tmp_path / "bench.csv").read_text().splitlines()
    runs = sum(1 + COLLECTIVES[r["collective"]].has_in_place for r in document["results"])
    assert len(csv_lines) == 1 + runs


def test_sweep_replayed_from_a_cuda_graph(tmp_path: Path) -> None:
    document = run_sweep(tmp_path, "-g", "1", "-G", "3")
    assert_sane(document, 1)
    assert document["config"]["cudagraph"] == 3


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 GPUs or more")
def test_a_graph_needs_one_gpu_per_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert collectives.main(["all_reduce", "-b", "8", "-e", "8", "-G", "2"]) == 2
    assert "-G captures one GPU's calls in a graph, and this process drives" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 GPUs or more")
def test_sweep_over_every_gpu(tmp_path: Path) -> None:
    document = run_sweep(tmp_path, "-r", str(torch.cuda.device_count() - 1))
    assert_sane(document, torch.cuda.device_count())
    assert document["environment"]["launcher"] == "init_all"
    assert [r["device"] for r in document["environment"]["ranks"]] == list(range(torch.cuda.device_count()))


def test_sweep_under_torchrun(tmp_path: Path) -> None:
    world = torch.cuda.device_count()
    report = tmp_path / "bench.json"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={world}"]
    command += ["-m", "ncclkit", "bench", "collectives", "all", *SWEEP, "--json", str(report)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("# Collective test: ") == len(NCCL_TESTS)  # rank 0 alone prints
    document = json.loads(report.read_text())
    assert (document["environment"]["launcher"], document["environment"]["processes"]) == ("torchrun", world)
    assert_sane(document, world)


@pytest.mark.parametrize("dtype", sorted(_comm.DTYPES))
def test_every_dtype_and_op_is_exact(dtype: str, tmp_path: Path) -> None:
    if dtype.startswith("float8") and torch.cuda.get_device_capability(0) < (9, 0):
        pytest.skip("NCCL reduces fp8 on sm_90 and newer only")
    for op in ("sum", "prod", "max", "min"):
        report = tmp_path / f"{op}.json"
        flags = ["all_reduce", "reduce_scatter", "reduce", "-d", dtype, "-o", op, "-b", "1K", "-e", "64K", "-f", "8"]
        assert collectives.main([*flags, "-n", "2", "-g", "1", "--no-progress", "--json", str(report)]) == 0
        assert json.loads(report.read_text())["out_of_bounds"]["count"] == 0


def test_the_check_finds_wrong_and_unwritten_elements() -> None:
    all_reduce = COLLECTIVES["all_reduce"]

    def corrupted(comm: Any, send: Any, recv: Any, op: str, root: int, stream: Any) -> None:
        all_reduce.call(comm, send, recv, op, root, stream)
        with torch.cuda.stream(stream):
            recv.view(torch.uint8)[:1].add_(1)  # one element's bits, after NCCL's result

    def skipped(comm: Any, send: Any, recv: Any, op: str, root: int, stream: Any) -> None:
        pass

    world = runner.open_world(torchrun=False, ngpus=1)
    try:
        timing = {"op": "sum", "root": 0, "warmup": 1, "iters": 2, "check": 1}
        wrong = runner.row(world, dataclasses.replace(all_reduce, call=corrupted), 4096, "float32", **timing)
        unwritten = runner.row(world, dataclasses.replace(all_reduce, call=skipped), 4096, "float32", **timing)
    finally:
        world.close()
    assert (wrong.out_of_place.wrong, wrong.in_place.wrong) == (1, 1)
    # Out of place the poison stays; in place one rank's input is already its sum.
    assert (unwritten.out_of_place.wrong, unwritten.in_place.wrong) == (1024, 0)


def test_overhead(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "overhead.json"
    assert overhead.main(["-n", "2000", "-w", "200", "--repeats", "3", "--json", str(report)]) == 0
    document = json.loads(report.read_text())
    by_path = {r["path"]: r for r in document["results"]}
    assert list(by_path) == [overhead.TENSOR, overhead.POINTER, overhead.TORCH, overhead.CUPY]
    for path in (overhead.TENSOR, overhead.POINTER):
        assert 0 < by_path[path]["us_per_call"] < 1000, by_path[path]
    assert by_path[overhead.POINTER]["us_per_call"] < by_path[overhead.TENSOR]["us_per_call"]
    assert by_path[overhead.TORCH]["us_per_call"] is not None or by_path[overhead.TORCH]["note"]
    assert len(document["goals"]) == 2
    print(capsys.readouterr().out)  # the numbers, for the log of a -s run


@pytest.mark.parametrize("graphs", [False, True], ids=["launches", "graphs"])
def test_kernels_timer_makes_every_call_of_every_batch(graphs: bool) -> None:
    kernels = pytest.importorskip("ncclkit.bench.kernels", reason="needs ncclkit.bench.kernels")
    counters = [torch.zeros(1, dtype=torch.int64, device="cuda") for _ in range(kernels.BATCH + 3)]
    seconds = kernels.median_time([functools.partial(c.add_, 1) for c in counters], graphs=graphs)
    counts = [int(c.item()) for c in counters]
    # The warm-up calls each once; then every sample, a batch: BATCH calls in turn, or a graph of all.
    batch = len(counters) if graphs else kernels.BATCH
    assert sum(counts) == len(counters) + kernels.SAMPLES * batch
    if graphs:
        assert counts == [1 + kernels.SAMPLES] * len(counters)
    assert 0 < seconds < 1e-3
