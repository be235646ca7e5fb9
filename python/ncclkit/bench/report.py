"""Results of `ncclkit bench collectives` as nccl-tests prints them (the format strings are those
of writeResultHeader, writeBenchmarkLine* and writeResultFooter in its src/util.cu), and as JSON
and CSV."""

# ruff: noqa: UP031 (printf formats, kept as nccl-tests writes them)
from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

from .results import Measurement, Row

_COLUMNS = "# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %6s  %7s  %6s  %6s  %6s %*s"
_PLACEMENT = ("time", "algbw", "busbw", "#wrong")
_UNITS = ("(us)", "(GB/s)", "(GB/s)", "")
HEADER = "\n".join(
    (
        "#",
        "# %10s  %12s  %8s  %6s  %6s           out-of-place                       in-place          " % (("",) * 5),
        _COLUMNS % ("size", "count", "type", "redop", "root", *_PLACEMENT, *_PLACEMENT, 0, ""),
        _COLUMNS % ("(B)", "(elements)", "", "", "", *_UNITS, *_UNITS, 0, ""),
    )
)
CSV_COLUMNS = (
    "collective",
    "size",
    "count",
    "type",
    "redop",
    "root",
    "placement",
    "time_us",
    "algbw",
    "busbw",
    "wrong",
)


def fit(value: float, width: int) -> str:
    """nccl-tests' getFloatStr: the most decimals, of 2, 1 or 0, that keep the value in its column."""
    for spec in ("%*.2f", "%*.1f", "%*.0f"):
        text = spec % (width, value)
        if len(text) <= width:
            return text
    return (("%*.1e" if width >= 7 else "%*.0e") % (width, value))[:width]


def _cells(m: Measurement | None) -> str:
    if m is None:
        return "  %7s  %6s  %6s    N/A" % ("N/A", "N/A", "N/A")
    cells = "  %7s  %6s  %6s" % (fit(m.time_us, 7), fit(m.algbw, 6), fit(m.busbw, 6))
    return cells + ("    N/A" if m.wrong is None else "  %6g" % m.wrong)


def line(row: Row) -> str:
    preamble = "%12li  %12li  %8s  %6s  %6i" % (row.size, row.count, row.type, row.redop, row.root)
    return preamble + _cells(row.out_of_place) + _cells(row.in_place)


def out_of_bounds(rows: Sequence[Row]) -> int:
    """Runs with a wrong element (nccl-tests' "Out of bounds values")."""
    return sum(1 for row in rows for m in row.measurements().values() if m.wrong)


def average_busbw(rows: Sequence[Row]) -> float:
    """The mean busbw of every run, out of place and in place (nccl-tests' "Avg bus bandwidth")."""
    values = [m.busbw for row in rows for m in row.measurements().values()]
    return sum(values) / len(values) if values else 0.0


def by_collective(rows: Sequence[Row]) -> dict[str, list[Row]]:
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(row.collective, []).append(row)
    return groups


def footer(rows: Sequence[Row]) -> str:
    wrong = out_of_bounds(rows)
    return "\n".join(
        (
            "# %-20s : %d %s" % ("Out of bounds values", wrong, "FAILED" if wrong else "OK"),
            "# %-20s : %g %s" % ("Avg bus bandwidth", average_busbw(rows), ""),
            "#",
        )
    )


def preamble(config: Mapping[str, Any], environment: Mapping[str, Any]) -> str:
    """The sweep's settings and this process's ranks, as nccl-tests opens its output."""
    factor = config["stepfactor"]
    step = f"{factor}(factor)" if factor > 1 else f"{config['stepbytes']}(bytes)"
    lines = [
        "# ncclkit bench collectives: minBytes %d maxBytes %d step: %s warmup iters: %d iters: %d validation: %d"
        " graph: %d"
        % (
            config["minbytes"],
            config["maxbytes"],
            step,
            config["warmup_iters"],
            config["iters"],
            config["check"],
            config["cudagraph"],
        ),
        f"# {environment['world_size']} rank(s) in {environment['processes']} process(es) ({environment['launcher']}); "
        f"ncclkit {environment['ncclkit']}, NCCL {environment['nccl']}, torch {environment['torch']} "
        f"(CUDA {environment['cuda']}); {environment['date']}",
        "#",
        "# Using devices",
    ]
    lines += [
        "#  Rank %2d Pid %6d on %10s device %2d %s" % (r["rank"], r["pid"], environment["host"], r["device"], r["name"])
        for r in environment["ranks"]
    ]
    return "\n".join(lines)


def table(rows: Sequence[Row]) -> str:
    """One nccl-tests table per collective, in the order the rows came."""
    blocks = [
        "\n".join((f"# Collective test: {name}", HEADER, *map(line, group), footer(group)))
        for name, group in by_collective(rows).items()
    ]
    return "\n".join(blocks)


def _measurement(m: Measurement) -> dict[str, Any]:
    # nccl-tests' JSON keys (-J): times in microseconds, bandwidths in GB/s, null where not checked.
    return {"time": m.time_us, "alg_bw": m.algbw, "bus_bw": m.busbw, "nwrong": m.wrong}


def to_json(rows: Sequence[Row], *, config: Mapping[str, Any], environment: Mapping[str, Any]) -> str:
    wrong = out_of_bounds(rows)
    document = {
        "environment": dict(environment),
        "config": dict(config),
        "results": [
            {
                "collective": row.collective,
                "size": row.size,
                "count": row.count,
                "type": row.type,
                "redop": row.redop,
                "root": row.root,
                **{placement: _measurement(m) for placement, m in row.measurements().items()},
            }
            for row in rows
        ],
        "out_of_bounds": {"count": wrong, "okay": wrong == 0},
        "average_bus_bandwidth": {name: average_busbw(group) for name, group in by_collective(rows).items()},
    }
    return json.dumps(document, indent=2) + "\n"


def to_csv(rows: Sequence[Row]) -> str:
    """One line per run (size and placement); wrong is empty where not checked."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        for placement, m in row.measurements().items():
            wrong = "" if m.wrong is None else m.wrong
            writer.writerow(
                (row.collective, row.size, row.count, row.type, row.redop, row.root, placement)
                + (m.time_us, m.algbw, m.busbw, wrong)
            )
    return out.getvalue()
