"""`--plot FILE.png`: a measure against size on log axes, one line per collective and placement.
matplotlib is optional: `require()` says what to install before a sweep starts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .results import Row

# --plot-y choice -> (Measurement attribute, axis label)
MEASURES = {"busbw": ("busbw", "busbw (GB/s)"), "algbw": ("algbw", "algbw (GB/s)"), "time": ("time_us", "time (us)")}


def require() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError as error:
        msg = f"--plot needs matplotlib, which is not installed ({error}): pip install matplotlib"
        raise RuntimeError(msg) from error


def lines(rows: Sequence[Row], measure: str) -> dict[str, tuple[list[int], list[float]]]:
    """label -> (sizes, values), leaving out values of 0, which log axes cannot show (busbw of
    one rank, sizes of 0 elements)."""
    attribute = MEASURES[measure][0]
    found: dict[str, tuple[list[int], list[float]]] = {}
    for row in rows:
        for placement, m in row.measurements().items():
            value = getattr(m, attribute)
            if value > 0:
                sizes, values = found.setdefault(f"{row.collective} {placement.replace('_', '-')}", ([], []))
                sizes.append(row.size)
                values.append(value)
    return found


def plot(rows: Sequence[Row], path: Path, measure: str, title: str) -> None:
    # Figure without pyplot: no GUI backend, nothing global.
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 5), layout="constrained")
    axes = figure.subplots()
    drawn = lines(rows, measure)
    colors = {}  # one color per collective; in place dashed
    for label, (sizes, values) in drawn.items():
        collective, placement = label.split(" ")
        color = colors.setdefault(collective, f"C{len(colors)}")
        style = "--" if placement == "in-place" else "-"
        axes.plot(sizes, values, style, color=color, marker="o", markersize=3, label=label)
    axes.set_xscale("log", base=2)
    axes.set_yscale("log")
    axes.set_xlabel("size (B)")
    axes.set_ylabel(MEASURES[measure][1])
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    if drawn:
        axes.legend()
    else:
        axes.text(
            0.5,
            0.5,
            f"no {measure} above 0 (busbw is 0 on one rank: --plot-y time)",
            ha="center",
            transform=axes.transAxes,
        )
    figure.savefig(path, dpi=150)
