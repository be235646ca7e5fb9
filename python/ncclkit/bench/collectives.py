"""`ncclkit bench collectives`: nccl-tests' collective benchmarks (all_reduce_perf and the others)
through ncclkit, with its flags, its definitions of count, algbw and busbw, and its table.

One process drives every visible GPU (Communicator.init_all; -g for fewer), or under torchrun
each process drives the GPU of its LOCAL_RANK (ncclkit.init_from_env). Rank 0 prints.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import custom_all_reduce
from ..buffers import _ITEMSIZE
from ..compat import nccl_features
from . import arguments, plot, report
from .definitions import COLLECTIVES
from .patterns import OPS
from .progress import progress
from .results import Row
from .sizes import sweep

if TYPE_CHECKING:
    from .runner import World

# The flags the JSON records, with the collectives.
CONFIG = (
    "minbytes",
    "maxbytes",
    "stepfactor",
    "stepbytes",
    "warmup_iters",
    "iters",
    "check",
    "cudagraph",
    "datatype",
    "op",
    "root",
    "local_register",
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ncclkit bench collectives",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "collectives",
        nargs="*",
        metavar="COLLECTIVE",
        help=f"{', '.join(COLLECTIVES)}, or all (nccl-tests' collectives; default: all_reduce)",
    )
    sizing = p.add_argument_group("sizes (as nccl-tests: K, M and G are binary)")
    sizing.add_argument("-b", "--minbytes", type=arguments.size, default="32M", help="first size (default: 32M)")
    sizing.add_argument("-e", "--maxbytes", type=arguments.size, default="32M", help="last size at most (default: 32M)")
    sizing.add_argument(
        "-f", "--stepfactor", type=arguments.at_least(1), default=1, help="multiply the size by this, when above 1"
    )
    sizing.add_argument("-i", "--stepbytes", type=arguments.size, default="1M", help="else add this (default: 1M)")
    nccl = p.add_argument_group("operation")
    nccl.add_argument(
        "-d",
        "--datatype",
        choices=sorted(_ITEMSIZE),
        default="float32",
        metavar="TYPE",
        help=f"{', '.join(sorted(_ITEMSIZE))} (default: float32)",
    )
    nccl.add_argument(
        "-o",
        "--op",
        choices=OPS,
        default="sum",
        help="for reducing collectives (default: sum; avg has no exact result)",
    )
    nccl.add_argument(
        "-r", "--root", type=arguments.at_least(0), default=0, help="for the rooted collectives (default: 0)"
    )
    nccl.add_argument(
        "-R",
        "--local_register",
        type=int,
        choices=(0, 1, 2),
        default=0,
        help="register the send and receive buffers with NCCL: 1 locally (ncclCommRegister), 2 as symmetric "
        "windows (ncclCommWindowRegister, NCCL >= 2.27); with 1 and 2 they come from NCCL's allocator, as "
        "nccl-tests' do (default: 0, neither)",
    )
    runs = p.add_argument_group("runs")
    runs.add_argument(
        "-w",
        "--warmup_iters",
        type=arguments.at_least(0),
        default=1,
        help="untimed calls per run, one at least (default: 1)",
    )
    runs.add_argument(
        "-n", "--iters", type=arguments.at_least(1), default=20, help="timed calls per run, averaged (default: 20)"
    )
    runs.add_argument(
        "-c", "--check", type=arguments.at_least(0), default=1, help="checked calls per run, 0 for none (default: 1)"
    )
    runs.add_argument(
        "-G",
        "--cudagraph",
        type=arguments.at_least(0),
        default=0,
        help="capture the -n calls in a CUDA graph and time this many replays of it; one GPU per process "
        "(torchrun). Default 0: no graph",
    )
    runs.add_argument(
        "-g",
        "--ngpus",
        type=arguments.at_least(1),
        help="GPUs of this process, outside torchrun (default: every visible one)",
    )
    output = p.add_argument_group("output (rank 0 prints nccl-tests' table on stdout)")
    output.add_argument("--json", type=Path, metavar="FILE", help="also write the results, with the machine, as JSON")
    output.add_argument("--csv", type=Path, metavar="FILE", help="also write the results as CSV, one line per run")
    output.add_argument("--plot", type=Path, metavar="FILE.png", help="draw a measure against size (needs matplotlib)")
    output.add_argument("--plot-y", choices=plot.MEASURES, default="busbw", help="what --plot draws (default: busbw)")
    output.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    return p


def _under_torchrun() -> bool:
    return "WORLD_SIZE" in os.environ


def _checked(p: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[list[str], list[int]]:
    """The collectives and sizes to run; a usage error for any flag that cannot run."""
    names = args.collectives or ["all_reduce"]
    if "all" in names:  # nccl-tests' collectives; the custom all-reduce only when named
        names = [name for name, collective in COLLECTIVES.items() if not collective.custom_all_reduce]
    unknown = [name for name in names if name not in COLLECTIVES]
    if unknown:
        p.error(f"unknown collective {', '.join(unknown)}: choose from {', '.join(COLLECTIVES)} or all")
    try:
        sizes = sweep(args.minbytes, args.maxbytes, factor=args.stepfactor, step=args.stepbytes)
    except ValueError as error:
        p.error(str(error))
    if args.ngpus is not None and _under_torchrun():
        p.error("-g is for one process over several GPUs; under torchrun each process drives the GPU of LOCAL_RANK")
    if args.plot:
        try:
            plot.require()
        except RuntimeError as error:
            p.error(str(error))
    return names, sizes


def _runs(names: list[str], sizes: list[int]) -> list[tuple[str, int]]:
    """(collective, size) pairs; the custom all-reduce only up to its buffer, which NCCL has not."""
    return [
        (name, nbytes)
        for name in names
        for nbytes in sizes
        if not COLLECTIVES[name].custom_all_reduce or nbytes <= custom_all_reduce.DEFAULT_MAX_BYTES
    ]


def _sweep(world: World, args: argparse.Namespace, names: list[str], sizes: list[int], show: bool) -> list[Row]:
    from . import runner

    return [
        runner.row(
            world,
            COLLECTIVES[name],
            nbytes,
            args.datatype,
            op=args.op,
            root=args.root,
            warmup=args.warmup_iters,
            iters=args.iters,
            check=args.check,
            graph_launches=args.cudagraph,
            register=args.local_register,
        )
        for name, nbytes in progress(_runs(names, sizes), lambda step: f"{step[0]} {step[1]} B", enabled=show)
    ]


def _write(rows: list[Row], args: argparse.Namespace, config: dict[str, Any], environment: dict[str, Any]) -> None:
    print(report.table(rows))
    if args.json:
        args.json.write_text(report.to_json(rows, config=config, environment=environment))
    if args.csv:
        args.csv.write_text(report.to_csv(rows))
    if args.plot:
        ranks = environment["world_size"]
        # Two lines: with three collectives, one would run past the figure's width.
        title = (
            f"{', '.join(config['collectives'])}, {args.datatype}, {ranks} rank(s)\n{environment['ranks'][0]['name']}"
        )
        plot.plot(rows, args.plot, args.plot_y, title)


def main(argv: Sequence[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    names, sizes = _checked(p, args)
    from . import runner  # torch and the GPUs, once the flags are known to be good
    from .environment import describe

    try:
        world = runner.open_world(torchrun=_under_torchrun(), ngpus=args.ngpus)
    except (RuntimeError, ValueError) as error:  # no GPU, -g above the visible ones, torchrun's variables
        print(f"ncclkit bench collectives: {error}", file=sys.stderr)
        return 2
    if args.cudagraph and len(world.ranks) > 1:
        world.close()
        print(
            f"ncclkit bench collectives: -G captures one GPU's calls in a graph, and this process drives "
            f"{len(world.ranks)}: run one process per GPU under torchrun, or pass -g 1",
            file=sys.stderr,
        )
        return 2
    needed = {1: "buffer_registration", 2: "window_registration"}.get(args.local_register)
    if needed and not world.ranks[0].comm.supports(needed):
        world.close()
        reason = nccl_features()[needed].reason
        print(f"ncclkit bench collectives: -R {args.local_register} needs {needed}: {reason}", file=sys.stderr)
        return 2
    if any(COLLECTIVES[name].custom_all_reduce for name in names):
        try:
            world.set_up_custom_all_reduce()
        except RuntimeError as error:  # peers not reachable, a ROCm build
            world.close()
            print(f"ncclkit bench collectives: {error}", file=sys.stderr)
            return 2
    main_rank = world.is_main
    try:
        if args.root >= world.size and any(COLLECTIVES[name].rooted for name in names):
            print(
                f"ncclkit bench collectives: root {args.root} is out of range for {world.size} rank(s)", file=sys.stderr
            )
            return 2
        environment = describe(
            [(r.comm.rank, r.comm.device) for r in world.ranks],
            launcher=world.launcher,
            world_size=world.size,
            processes=world.processes,
        )
        config = {"collectives": names, **{key: getattr(args, key) for key in CONFIG}}
        if main_rank:
            print(report.preamble(config, environment), flush=True)
        rows = _sweep(world, args, names, sizes, show=main_rank and not args.no_progress and sys.stderr.isatty())
    finally:
        world.close()
    if main_rank:
        _write(rows, args, config, environment)
    return 1 if report.out_of_bounds(rows) else 0
