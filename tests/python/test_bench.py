"""ncclkit bench without a GPU: size sweeps, nccl-tests' definitions, inputs whose results are
exact, the table, JSON and CSV, the command line, the progress bar and the optional matplotlib."""

from __future__ import annotations

import csv
import functools
import importlib.util
import io
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest
from ncclkit import _cuda, cli
from ncclkit.bench import BENCHES, collectives, overhead, plot, report
from ncclkit.bench.definitions import COLLECTIVES, Case
from ncclkit.bench.patterns import CAP, LIMIT, OPS, Fill, input_row, reduce_rows, rotated
from ncclkit.bench.progress import progress
from ncclkit.bench.results import Measurement, Row
from ncclkit.bench.sizes import parse_size, sweep

GiB = 2**30


# -- sizes ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "size"),
    [("8", 8), ("64K", 2**16), ("64k", 2**16), ("1M", 2**20), ("0.5M", 2**19), ("8G", 8 * GiB), (" 2 g ", 2 * GiB)],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "G", "8X", "8GB", "-1", "1e3", "8 M K"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"bytes, with an optional K, M or G \(binary\)"):
        parse_size(text)


def test_sweep_by_factor() -> None:
    sizes = sweep(8, 8 * GiB, factor=2)
    assert sizes == [8 * 2**i for i in range(31)]
    assert sweep(3, 20, factor=2) == [3, 6, 12]


def test_sweep_by_step() -> None:
    assert sweep(2**20, 4 * 2**20, step=2**20) == [2**20, 2 * 2**20, 3 * 2**20, 4 * 2**20]
    assert sweep(0, 2, step=1) == [0, 1, 2]
    assert sweep(32 * 2**20, 32 * 2**20) == [32 * 2**20]  # nccl-tests' defaults: one size


@pytest.mark.parametrize(
    ("minbytes", "maxbytes", "factor", "step", "message"),
    [
        (16, 8, 2, 1, "minbytes 16 > maxbytes 8"),
        (0, 8, 2, 1, "a step factor never leaves 0 bytes"),
        (8, 16, 1, 0, "the step must be at least 1 byte, got 0"),
    ],
)
def test_sweep_rejects(minbytes: int, maxbytes: int, factor: int, step: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sweep(minbytes, maxbytes, factor=factor, step=step)


# -- nccl-tests' definitions ------------------------------------------------------------------------
# The custom all-reduce is an all_reduce to nccl-tests: the same counts, busbw and result.
CUSTOM = {"all_reduce_oneshot": "all_reduce", "all_reduce_twoshot": "all_reduce"}


def nccl_tests_counts(name: str, count: int, eltsize: int, nranks: int) -> tuple[int, int, int, int, int]:
    """(sendcount, recvcount, paramcount, sendInplaceOffset, recvInplaceOffset), transcribed from
    the GetCollByteCount of NVIDIA/nccl-tests src/<name>.cu."""
    base = (count // nranks) & ~(16 // eltsize - 1)
    if name in ("all_gather", "gather"):
        return base, base * nranks, base, base, 0
    if name in ("reduce_scatter", "scatter"):
        return base * nranks, base, base, 0, base
    if name == "all_to_all":
        return nranks * base, nranks * base, base, 0, 0
    return count, count, count, 0, 0  # all_reduce, broadcast, reduce, sendrecv


def nccl_tests_bw(name: str, count: int, typesize: int, sec: float, nranks: int) -> tuple[float, float]:
    """(algBw, busBw), transcribed from the GetBw of NVIDIA/nccl-tests src/<name>.cu."""
    if name == "all_reduce":
        base_bw = (count * typesize) / 1.0e9 / sec
        return base_bw, base_bw * (2 * (nranks - 1)) / nranks
    if name in ("all_gather", "reduce_scatter", "gather", "scatter"):
        base_bw = (count * typesize * nranks) / 1.0e9 / sec
        return base_bw, base_bw * (nranks - 1) / nranks
    if name == "all_to_all":
        base_bw = (count * nranks * typesize) / 1.0e9 / sec
        return base_bw, base_bw * (nranks - 1) / nranks
    base_bw = (count * typesize) / 1.0e9 / sec  # broadcast, reduce, sendrecv: factor 1
    return base_bw, base_bw


@pytest.mark.parametrize("name", list(COLLECTIVES))
@pytest.mark.parametrize("nranks", [1, 2, 3, 8, 72])
@pytest.mark.parametrize("itemsize", [1, 2, 4, 8])
def test_counts_and_bandwidths_are_nccl_tests(name: str, nranks: int, itemsize: int) -> None:
    collective, name = COLLECTIVES[name], CUSTOM.get(name, name)
    for size in (0, 8, 1000, 4096, 12345, 2**20, 8 * GiB):
        count = size // itemsize
        counts = collective.counts(count, itemsize, nranks)
        want = nccl_tests_counts(name, count, itemsize, nranks)
        assert (counts.send, counts.recv, counts.param, counts.send_offset, counts.recv_offset) == want
        assert counts.size(itemsize) == max(want[0], want[1]) * itemsize  # the table's size column
        got = collective.bandwidths(counts, itemsize, nranks, 1.25e-3)
        assert got == pytest.approx(nccl_tests_bw(name, counts.param, itemsize, 1.25e-3, nranks), rel=1e-12)


def test_bandwidth_numbers() -> None:
    one_gib_float32 = COLLECTIVES["all_reduce"].counts(GiB // 4, 4, 8)
    algbw, busbw = COLLECTIVES["all_reduce"].bandwidths(one_gib_float32, 4, 8, 0.01)
    assert (algbw, busbw) == pytest.approx((107.3741824, 107.3741824 * 1.75))
    gathered = COLLECTIVES["all_gather"].counts(2**20 // 4, 4, 8)  # 1 MiB of float32: the gathered size
    assert (gathered.size(4), gathered.param) == (2**20, 2**15)
    assert COLLECTIVES["all_gather"].bandwidths(gathered, 4, 8, 1e-3) == pytest.approx((1.048576, 1.048576 * 7 / 8))
    # Per-rank blocks round down to 16 bytes: 100 B of float32 on 3 ranks is 3 blocks of 8.
    assert COLLECTIVES["reduce_scatter"].counts(25, 4, 3).size(4) == 96
    assert COLLECTIVES["broadcast"].bandwidths(one_gib_float32, 4, 8, 0.0) == (0.0, 0.0)


def test_table_columns_of_each_collective() -> None:
    assert {n for n, c in COLLECTIVES.items() if c.reduces} == {"all_reduce", "reduce_scatter", "reduce", *CUSTOM}
    assert {n for n, c in COLLECTIVES.items() if c.custom_all_reduce} == set(CUSTOM)
    assert {n for n, c in COLLECTIVES.items() if c.rooted} == {"broadcast", "reduce", "gather", "scatter"}
    # nccl-tests does not check in-place sendrecv: #wrong is N/A there.
    assert {n for n, c in COLLECTIVES.items() if not c.checked_in_place} == {"sendrecv"}
    # ncclkit's all_to_all refuses overlapping buffers, so it has no in-place column at all.
    assert {n for n, c in COLLECTIVES.items() if not c.has_in_place} == {"all_to_all"}


# -- inputs with exact results --------------------------------------------------------------------
FLOATS = {"float16", "bfloat16", "float32", "float64", "float8_e4m3fn", "float8_e5m2"}


@pytest.mark.parametrize("dtype", sorted(LIMIT))
@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("nranks", [1, 2, 3, 8, 64])
def test_reductions_are_exact_in_any_order(dtype: str, op: str, nranks: int) -> None:
    rows = [input_row(q, nranks, dtype, op) for q in range(nranks)]
    assert len({len(row) for row in rows}) == 1
    reduced = reduce_rows(rows, op)
    every_value = [v for row in rows for v in row] + list(reduced)
    assert 0 <= min(every_value) and max(every_value) <= LIMIT[dtype]
    assert len(set(rows)) == min(nranks, len(rows[0]))  # ranks told apart, modulo the period
    if dtype not in FLOATS:
        return
    torch = pytest.importorskip("torch")
    target = getattr(torch, dtype)
    combine = {"sum": torch.add, "prod": torch.mul, "max": torch.maximum, "min": torch.minimum}[op]
    for order in (rows, rows[::-1], rows[1::2] + rows[::2]):
        # Each partial result rounded to the dtype, as a reduction of NCCL's in that dtype is.
        partial = torch.tensor(order[0], dtype=torch.float64).to(target)
        for row in order[1:]:
            partial = combine(partial.to(torch.float64), torch.tensor(row, dtype=torch.float64)).to(target)
        assert partial.to(torch.float64).tolist() == [float(v) for v in reduced]


def test_no_result_looks_like_the_poison() -> None:
    # The poison is all bytes 0xFF: NaN for floats, -1 for signed integers, the maximum for unsigned.
    assert (LIMIT["uint8"], LIMIT["uint32"], LIMIT["uint64"]) == (2**8 - 2, 2**32 - 2, 2**64 - 2)


def test_rows_that_only_move_data() -> None:
    assert input_row(0, 4, "float32", None) == tuple(range(CAP + 1))
    assert input_row(1, 4, "float32", None)[:3] == (1, 2, 3)
    assert input_row(2, 4, "float8_e5m2", None) == (2, 3, 4, 5, 6, 7, 8, 0, 1)  # 0..8 are exact in e5m2
    assert input_row(0, 2, "int8", "sum") == tuple(range(64))  # 2 x 63 fits int8
    assert input_row(0, 4, "int8", "sum") == tuple(range(32))  # 127 // 4
    assert input_row(1, 3, "float32", "prod") == (1, 2, 1)
    assert input_row(0, 9, "float8_e5m2", "sum") == (0,)  # more ranks than exact values: zeros
    assert rotated((0, 1, 2), 4) == (1, 2, 0)


def _materialize(length: int, fills: list[Fill], before: list[object]) -> list[object]:
    buffer = list(before)
    assert len(buffer) == length
    for fill in fills:
        assert 0 <= fill.start and fill.start + fill.length <= length
        for i in range(fill.length):
            buffer[fill.start + i] = "poison" if fill.row is None else fill.row[(fill.phase + i) % len(fill.row)]
    return buffer


def _simulate(name: str, sends: list[list[object]], op: str, root: int, recv_count: int) -> list[list[object] | None]:
    """What each rank receives, from NCCL's definition of each collective; None: not written."""
    n = len(sends)

    def reduced(i: int) -> object:
        return reduce_rows([(s[i],) for s in sends], op)[0]

    if name == "all_reduce":
        return [[reduced(i) for i in range(recv_count)]] * n
    if name == "reduce":
        return [[reduced(i) for i in range(recv_count)] if r == root else None for r in range(n)]
    if name == "reduce_scatter":
        return [[reduced(r * recv_count + i) for i in range(recv_count)] for r in range(n)]
    if name == "broadcast":
        return [sends[root]] * n
    if name == "all_gather":
        return [[v for s in sends for v in s]] * n
    if name == "gather":
        return [[v for s in sends for v in s] if r == root else None for r in range(n)]
    if name == "scatter":
        block = len(sends[root]) // n
        return [sends[root][r * block : (r + 1) * block] for r in range(n)]
    if name == "all_to_all":
        block = len(sends[0]) // n
        return [[v for s in sends for v in s[r * block : (r + 1) * block]] for r in range(n)]
    return [sends[(r - 1) % n] for r in range(n)]  # sendrecv


@pytest.mark.parametrize("name", list(COLLECTIVES))
@pytest.mark.parametrize("nranks", [1, 2, 3, 4])
@pytest.mark.parametrize("op", ["sum", "prod", "max"])
@pytest.mark.parametrize("in_place", [False, True])
def test_expected_results_are_what_each_collective_makes(name: str, nranks: int, op: str, in_place: bool) -> None:
    collective = COLLECTIVES[name]
    if in_place and not collective.has_in_place:
        pytest.skip(f"{name} has no in-place form")
    counts = collective.counts(1000, 4, nranks)
    rows = tuple(input_row(q, nranks, "float32", op if collective.reduces else None) for q in range(nranks))
    reduced = reduce_rows(rows, op) if collective.reduces else None
    for root in {0, nranks - 1}:
        cases = [Case(r, nranks, counts, rows, reduced, root, in_place) for r in range(nranks)]
        unset = "unset"  # what a buffer held before: only a rank that sends nothing keeps it
        sends = [_materialize(counts.send, collective.inputs(c), [unset] * counts.send) for c in cases]
        assert all(unset not in s for r, s in enumerate(sends) if not collective.root_sends_only or r == root)
        received = _simulate(CUSTOM.get(name, name), sends, op, root, counts.recv)
        for case, send, got in zip(cases, sends, received):
            # In place, a reduce leaves other ranks' buffers as their input, a gather its own block
            # of them; out of place, poisoned.
            before = ["poison"] * counts.recv
            if in_place and name == "gather":
                block = counts.send
                before[case.rank * block : (case.rank + 1) * block] = send
            elif in_place:
                before = send
            want = _materialize(counts.recv, collective.expected(case), ["wrong"] * counts.recv)
            assert want == (before if got is None else got), (case.rank, root)


# -- the table, JSON and CSV ------------------------------------------------------------------------
# As nccl-tests prints them (its printf formats run through a C compiler).
NCCL_TESTS_HEADER = "\n".join(
    (
        "#",
        "#                                                              out-of-place                       in-place          ",  # noqa: E501
        "#       size         count      type   redop    root     time   algbw   busbw  #wrong     time   algbw   busbw  #wrong ",  # noqa: E501
        "#        (B)    (elements)                               (us)  (GB/s)  (GB/s)             (us)  (GB/s)  (GB/s)         ",  # noqa: E501
    )
)
NCCL_TESTS_LINE = "    33554432       8388608   float32     sum      -1   123.46  271.80  475.65       0  1234567   12346    0.00    N/A"  # noqa: E501


def make_row(collective: str = "all_reduce", size: int = 33554432, busbw: float = 475.65, **kw: object) -> Row:
    fields = {
        "collective": collective,
        "size": size,
        "count": size // 4,
        "type": "float32",
        "redop": "sum",
        "root": -1,
        "out_of_place": Measurement(123.456, 271.8, busbw, 0),
        "in_place": Measurement(1234567.0, 12345.678, 0.001, None),
    }
    return Row(**{**fields, **kw})


def test_header_and_line_are_nccl_tests() -> None:
    assert report.HEADER == NCCL_TESTS_HEADER
    assert report.line(make_row()) == NCCL_TESTS_LINE


def test_a_collective_without_an_in_place_form_prints_n_a_and_leaves_the_averages() -> None:
    row = make_row(collective="all_to_all", in_place=None)
    assert report.line(row) == NCCL_TESTS_LINE[:-32] + "      N/A     N/A     N/A    N/A"
    assert list(row.measurements()) == ["out_of_place"]
    assert report.average_busbw([row]) == 475.65


@pytest.mark.parametrize(
    ("value", "six", "seven"),
    [
        (0, "  0.00", "   0.00"),
        (1.234, "  1.23", "   1.23"),
        (999.999, "1000.0", "1000.00"),
        (12345.678, " 12346", "12345.7"),
        (123456.7, "123457", " 123457"),
        (1234567.0, " 1e+06", "1234567"),
        (98765432.1, " 1e+08", "9.9e+07"),
    ],
)
def test_numbers_fit_their_columns_as_in_nccl_tests(value: float, six: str, seven: str) -> None:
    assert (report.fit(value, 6), report.fit(value, 7)) == (six, seven)


def test_footer_counts_wrong_runs_and_averages_busbw() -> None:
    ok = [
        make_row(busbw=400.0, in_place=Measurement(1.0, 1.0, 200.0, 0)),
        make_row(size=64, busbw=100.0, in_place=Measurement(1.0, 1.0, 101.0, None)),
    ]
    assert report.footer(ok) == "# Out of bounds values : 0 OK\n# Avg bus bandwidth    : 200.25 \n#"
    wrong = make_row(out_of_place=Measurement(1.0, 1.0, 1.0, 3))
    assert report.footer([wrong]).startswith("# Out of bounds values : 1 FAILED\n")


def test_one_table_per_collective() -> None:
    rows = [make_row(), make_row(size=64), make_row("broadcast", redop="none", root=0)]
    blocks = report.table(rows).split("# Collective test: ")[1:]
    assert [b.splitlines()[0] for b in blocks] == ["all_reduce", "broadcast"]
    assert blocks[0].count(NCCL_TESTS_LINE) == 1 and len(blocks[0].splitlines()) == 1 + 4 + 2 + 3


ENVIRONMENT = {
    "date": "2026-01-01T00:00:00+00:00",
    "host": "node1",
    "ranks": [{"rank": 0, "pid": 42, "device": 0, "name": "NVIDIA H100 80GB HBM3"}],
    "ncclkit": "0.1.0",
    "nccl": "2.28.9",
    "torch": "2.11.0",
    "cuda": "13.0",
    "python": "3.12.0",
    "launcher": "init_all",
    "world_size": 1,
    "processes": 1,
}
CONFIG = {"minbytes": 8, "maxbytes": 1024, "stepfactor": 2, "stepbytes": 2**20, "warmup_iters": 1}
CONFIG |= {"iters": 20, "check": 1, "cudagraph": 0, "datatype": "float32", "op": "sum", "root": 0, "local_register": 0}
CONFIG |= {"collectives": ["all_reduce"]}


def test_preamble_names_the_sweep_the_versions_and_the_devices() -> None:
    lines = report.preamble(CONFIG, ENVIRONMENT).splitlines()
    assert lines[0] == (
        "# ncclkit bench collectives: minBytes 8 maxBytes 1024 step: 2(factor) warmup iters: 1 iters: 20 validation: 1 "
        "graph: 0"
    )
    assert "ncclkit 0.1.0, NCCL 2.28.9, torch 2.11.0 (CUDA 13.0); 2026-01-01T00:00:00+00:00" in lines[1]
    assert lines[-1] == "#  Rank  0 Pid     42 on      node1 device  0 NVIDIA H100 80GB HBM3"
    by_bytes = report.preamble({**CONFIG, "stepfactor": 1}, ENVIRONMENT).splitlines()[0]
    assert "step: 1048576(bytes)" in by_bytes


def test_json() -> None:
    rows = [make_row(), make_row("all_gather", redop="none", busbw=100.0)]
    document = json.loads(report.to_json(rows, config=CONFIG, environment=ENVIRONMENT))
    assert document["environment"] == ENVIRONMENT and document["config"] == CONFIG
    first = document["results"][0]
    assert {k: first[k] for k in ("collective", "size", "count", "type", "redop", "root")} == {
        "collective": "all_reduce",
        "size": 33554432,
        "count": 8388608,
        "type": "float32",
        "redop": "sum",
        "root": -1,
    }
    assert first["out_of_place"] == {"time": 123.456, "alg_bw": 271.8, "bus_bw": 475.65, "nwrong": 0}
    assert first["in_place"]["nwrong"] is None
    assert document["out_of_bounds"] == {"count": 0, "okay": True}
    assert document["average_bus_bandwidth"] == pytest.approx({"all_reduce": 237.8255, "all_gather": 50.0005})


def test_csv() -> None:
    lines = list(csv.DictReader(io.StringIO(report.to_csv([make_row()]))))
    assert [line["placement"] for line in lines] == ["out_of_place", "in_place"]
    assert list(lines[0]) == list(report.CSV_COLUMNS)
    assert (lines[0]["size"], lines[0]["busbw"], lines[0]["wrong"]) == ("33554432", "475.65", "0")
    assert lines[1]["wrong"] == ""  # not checked


# -- the command line ---------------------------------------------------------------------------
def usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2
    return capsys.readouterr().err


def test_flags_as_nccl_tests_takes_them() -> None:
    args = collectives.parser().parse_args(
        ["all_reduce", "all_gather", "-b", "8", "-e", "8G", "-f", "2", "-w", "5", "-n", "50", "-d", "bfloat16"]
    )
    assert (args.collectives, args.minbytes, args.maxbytes, args.stepfactor) == (
        ["all_reduce", "all_gather"],
        8,
        8 * GiB,
        2,
    )
    assert (args.warmup_iters, args.iters, args.datatype, args.op, args.root, args.check) == (
        5,
        50,
        "bfloat16",
        "sum",
        0,
        1,
    )
    defaults = collectives.parser().parse_args([])
    assert (defaults.minbytes, defaults.maxbytes, defaults.stepbytes) == (32 * 2**20, 32 * 2**20, 2**20)
    long_names = collectives.parser().parse_args(["--minbytes", "1K", "--stepbytes", "4K", "--warmup_iters", "0"])
    assert (long_names.minbytes, long_names.stepbytes, long_names.warmup_iters) == (1024, 4096, 0)
    registered = collectives.parser().parse_args(["gather", "scatter", "-R", "2", "-r", "1"])
    assert (registered.collectives, registered.local_register, registered.root, defaults.local_register) == (
        ["gather", "scatter"],
        2,
        1,
        0,
    )
    assert collectives.parser().parse_args(["--local_register", "1"]).local_register == 1


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["-b", "8X"], "argument -b/--minbytes: invalid size '8X'"),
        (["-b", "1G", "-e", "1M"], "invalid sizes: minbytes 1073741824 > maxbytes 1048576"),
        (["-b", "0", "-f", "2"], "a step factor never leaves 0 bytes"),
        (["-f", "0"], "argument -f/--stepfactor: expected an integer of at least 1, got '0'"),
        (["-n", "0"], "argument -n/--iters: expected an integer of at least 1, got '0'"),
        (["-w", "x"], "argument -w/--warmup_iters: expected an integer of at least 0, got 'x'"),
        (["-d", "float128"], "argument -d/--datatype: invalid choice: 'float128'"),
        (["-o", "avg"], "argument -o/--op: invalid choice: 'avg'"),
        (["allreduce"], "unknown collective allreduce: choose from all_reduce, all_reduce_oneshot, all_reduce_twoshot"),
        (["--plot-y", "latency"], "argument --plot-y: invalid choice: 'latency'"),
        (["-R", "3"], "argument -R/--local_register: invalid choice: 3 (choose from 0, 1, 2)"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_flags_are_usage_errors(flags: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    err = usage_error(["bench", "collectives", *flags], capsys)
    assert err.startswith("usage: ncclkit bench collectives")
    assert message in err


def test_ngpus_is_not_for_torchrun(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert "under torchrun each process drives the GPU of LOCAL_RANK" in usage_error(
        ["bench", "collectives", "-g", "2"], capsys
    )


def test_plot_without_matplotlib(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    with pytest.raises(
        RuntimeError, match="--plot needs matplotlib, which is not installed .*: pip install matplotlib"
    ):
        plot.require()
    err = usage_error(["bench", "collectives", "--plot", "busbw.png"], capsys)
    assert "pip install matplotlib" in err


def test_torchrun_variables_missing(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    monkeypatch.setenv("WORLD_SIZE", "2")
    for name in ("RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    assert cli.main(["bench", "collectives", "-b", "8", "-e", "8"]) == 2
    assert capsys.readouterr().err.startswith("ncclkit bench collectives: init_from_env() needs RANK, WORLD_SIZE")


@pytest.mark.skipif(_cuda.device_count() > 0, reason="a GPU is visible")
def test_no_gpu(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    assert cli.main(["bench", "collectives", "-b", "8", "-e", "8"]) == 2
    assert "no CUDA GPU is visible" in capsys.readouterr().err
    assert cli.main(["bench", "overhead"]) == 2
    assert capsys.readouterr().err == (
        "ncclkit bench overhead: no CUDA GPU is visible (check nvidia-smi and CUDA_VISIBLE_DEVICES)\n"
    )


def test_flags_are_checked_before_torch_or_a_gpu() -> None:
    code = (
        "import sys\nfrom ncclkit import cli\n"
        "try:\n    cli.main(['bench', 'collectives', '-b', '8X'])\nexcept SystemExit as e:\n    print(e.code)\n"
        "print('torch' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.split() == ["2", "False"]


def test_unknown_bench(capsys: pytest.CaptureFixture[str]) -> None:
    err = usage_error(["bench", "nccl"], capsys)
    assert "argument bench: invalid choice: 'nccl' (choose from" in err


def test_a_bench_is_one_line_of_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    fake = types.ModuleType("ncclkit.bench.fake")
    fake.main = lambda argv: seen.append(argv) or 7
    monkeypatch.setitem(sys.modules, "ncclkit.bench.fake", fake)
    monkeypatch.setitem(BENCHES, "fake", ("fake", "a benchmark"))
    assert cli.main(["bench", "fake", "-n", "3", "--json", "x.json"]) == 7
    assert seen == [["-n", "3", "--json", "x.json"]]


def test_kernels_hook_without_the_module(capsys: pytest.CaptureFixture[str]) -> None:
    if importlib.util.find_spec("ncclkit.bench.kernels") is not None:
        pytest.skip("this ncclkit has ncclkit.bench.kernels")
    assert cli.main(["bench", "kernels"]) == 2
    assert capsys.readouterr().err == "ncclkit bench kernels: this ncclkit has no ncclkit.bench.kernels\n"


def test_kernels_row_counts_bytes_against_both_copies() -> None:
    kernels = pytest.importorskip("ncclkit.bench.kernels", reason="needs torch and ncclkit.bench.kernels")
    # 6 MB in 2 us is 3000 GB/s: all of a 3000 GB/s copy; with static weights 2.5 us, 80%; the
    # same-bytes copy took 2.5 us.
    assert kernels.row("linear int8", "M=1 N=4096 K=4096", 6_000_000, 2e-6, 2.5e-6, 3e12, 2.5e-6, 4e-6, 5e-6) == [
        "linear int8",
        "M=1 N=4096 K=4096",
        "2.0",
        "3000",
        "100%",
        "2.5",
        "80%",
        "2.5",
        "4.0",
        "2.00x",
        "5.0",
        "2.50x",
    ]
    norm = kernels.row("rms_norm", "16 x 4096", 6_000_000, 2e-6, None, 3e12, 2.5e-6, 4e-6, 5e-6)
    assert norm[5:8] == ["-", "-", "2.5"]


def test_overhead_flags(capsys: pytest.CaptureFixture[str]) -> None:
    args = overhead.parser().parse_args(["-n", "100", "-w", "0", "--repeats", "3", "--device", "1"])
    assert (args.iters, args.warmup_iters, args.repeats, args.device) == (100, 0, 3, 1)
    assert "argument -n/--iters: expected an integer of at least 1" in usage_error(
        ["bench", "overhead", "-n", "0"], capsys
    )


# -- progress bar -----------------------------------------------------------------------------------
def test_progress_line_without_tqdm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)
    out = io.StringIO()
    assert list(progress(["a", "bb", "c"], str.upper, enabled=True, stream=out)) == ["a", "bb", "c"]
    text = out.getvalue()
    assert text.startswith("\r[0/3] A\r[1/3] BB\r[2/3] C ")  # each step overwrites the last, wholly
    assert text.endswith("\r" + " " * len("[2/3] C") + "\r")  # and the line is cleared at the end


def test_progress_through_tqdm(monkeypatch: pytest.MonkeyPatch) -> None:
    described = []

    class FakeBar:
        def __init__(self, **kwargs: object) -> None:
            described.append(f"total {kwargs['total']}")

        def __enter__(self) -> FakeBar:
            return self

        def __exit__(self, *exc: object) -> None:
            described.append("closed")

        def set_description(self, text: str) -> None:
            described.append(text)

        def update(self) -> None:
            described.append("done")

    monkeypatch.setitem(sys.modules, "tqdm", types.SimpleNamespace(tqdm=FakeBar))
    out = io.StringIO()
    assert list(progress(["a", "b"], str.upper, enabled=True, stream=out)) == ["a", "b"]
    assert described == ["total 2", "A", "done", "B", "done", "closed"]
    assert out.getvalue() == ""


def test_progress_disabled() -> None:
    out = io.StringIO()
    assert list(progress([1, 2], str, enabled=False, stream=out)) == [1, 2]
    assert out.getvalue() == ""


# -- plot ---------------------------------------------------------------------------------------------
def test_plot_lines_leave_out_zeros() -> None:
    one_rank = [
        make_row(size=8, out_of_place=Measurement(5.0, 0.0016, 0.0, 0), in_place=Measurement(4.0, 0.002, 0.0, 0)),
        make_row(size=16, out_of_place=Measurement(5.0, 0.0032, 0.0, 0), in_place=Measurement(4.0, 0.004, 0.0, 0)),
    ]
    assert plot.lines(one_rank, "busbw") == {}  # busbw is 0 on one rank
    assert plot.lines(one_rank, "time") == {
        "all_reduce out-of-place": ([8, 16], [5.0, 5.0]),
        "all_reduce in-place": ([8, 16], [4.0, 4.0]),
    }


def test_plot_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "busbw.png"
    plot.plot([make_row(), make_row(size=2**26, busbw=480.0)], path, "busbw", "all_reduce")
    assert path.read_bytes().startswith(b"\x89PNG")


# -- the overhead benchmark's arithmetic -----------------------------------------------------------
def test_per_call_times_come_from_interleaved_rounds() -> None:
    calls, syncs = [], []
    us = overhead.per_call_us(
        {name: functools.partial(calls.append, name) for name in "abc"},
        iters=100,
        warmup=10,
        repeats=4,
        synchronize=lambda: syncs.append(1),
    )
    assert (len(calls), len(syncs)) == (3 * (10 + 4 * 100), 1 + 4 * 3)
    # Round by round, every path's loop in turn, each round starting one path further on.
    assert calls[30::100] == ["a", "b", "c", "b", "c", "a", "c", "a", "b", "a", "b", "c"]
    assert set(us) == set("abc") and all(0 < t < 1e6 for t in us.values())


def results(tensor: float, pointer: float, cupy: float | None) -> list[overhead.Result]:
    return [
        overhead.Result(overhead.TENSOR, tensor),
        overhead.Result(overhead.POINTER, pointer),
        overhead.Result(overhead.TORCH, 30.0),
        overhead.Result(overhead.CUPY, cupy, "" if cupy else "not installed"),
    ]


def test_goals() -> None:
    assert [g.met for g in overhead.goals(results(2.9, 1.09, 1.0))] == [True, True]
    assert [g.met for g in overhead.goals(results(3.1, 1.11, 1.0))] == [False, False]
    tensor, pointer = overhead.goals(results(2.0, 1.0, None))
    assert (tensor.met, tensor.detail) == (True, "2.00 us")
    assert (pointer.met, pointer.detail) == (None, "not checked: CuPy not installed")


def test_overhead_table_and_files() -> None:
    found = overhead.goals(results(2.0, 1.05, 1.0))
    lines = overhead.table(results(2.0, 1.05, 1.0), found).splitlines()
    assert lines[0].split() == ["path", "us/call", "vs", "CuPy"]
    assert lines[2].split()[-2:] == ["1.05", "1.05x"]
    assert lines[-1] == "# goal: ncclkit, raw pointer: within 10% of CuPy: met (1.05x CuPy's time)"
    without_cupy = overhead.table(results(2.0, 1.05, None), overhead.goals(results(2.0, 1.05, None)))
    assert "CuPy NCCL, raw pointer    not installed" in without_cupy
    assert without_cupy.splitlines()[1].split()[-1] == "-"
    rows = list(csv.DictReader(io.StringIO(overhead.to_csv(results(2.0, 1.05, None)))))
    assert (rows[3]["path"], rows[3]["us_per_call"], rows[3]["note"]) == (overhead.CUPY, "", "not installed")
    document = json.loads(overhead.to_json(results(2.0, 1.05, None), found, config={}, environment=ENVIRONMENT))
    assert document["results"][0] == {"path": overhead.TENSOR, "us_per_call": 2.0, "note": ""}
    assert document["goals"][0]["met"] is True


# -- the GPU side's buffer helpers, on CPU tensors --------------------------------------------------
def test_fills_and_wrong_elements() -> None:
    torch = pytest.importorskip("torch")
    from ncclkit.bench import runner

    buffer = torch.empty(10, dtype=torch.float16)
    runner._write(buffer, [Fill(0, 10, None)])
    assert buffer.isnan().all() and buffer.view(torch.uint8).eq(0xFF).all()
    runner._write(buffer, [Fill(1, 8, (0, 1, 2), phase=1)])
    assert buffer[1:9].tolist() == [1, 2, 0, 1, 2, 0, 1, 2]
    integers = torch.empty(4, dtype=torch.int32)
    runner._write(integers, [Fill(0, 4, None)])
    assert integers.tolist() == [-1] * 4
    expected = buffer.clone()
    assert runner._count_wrong(buffer, expected) == 0  # the NaN poison compares equal bit for bit
    buffer[3] = 7
    assert runner._count_wrong(buffer, expected) == 1
    assert runner._count_wrong(torch.tensor([-0.0]), torch.tensor([0.0])) == 1  # bits, not values


def test_the_custom_all_reduce_runs_only_sizes_its_buffer_holds() -> None:
    from ncclkit import custom_all_reduce
    from ncclkit.bench.collectives import _runs

    buffer = custom_all_reduce.DEFAULT_MAX_BYTES
    sizes = [buffer // 2, buffer, buffer * 2]
    assert _runs(["all_reduce", "all_reduce_oneshot"], sizes) == [
        *(("all_reduce", size) for size in sizes),
        ("all_reduce_oneshot", buffer // 2),
        ("all_reduce_oneshot", buffer),
    ]
