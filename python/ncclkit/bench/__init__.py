"""`ncclkit bench`: the benchmarks. Each is a module of this package with
``main(argv: list[str]) -> int``, imported only when it runs, so that `ncclkit info` imports
neither torch nor a benchmark."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any

# name -> (module of this package, help). A benchmark is one line here.
BENCHES = {
    "collectives": ("collectives", "collectives over a size sweep, in nccl-tests' format and definitions"),
    "overhead": ("overhead", "host time per call of a tiny all_reduce: ncclkit, torch.distributed, CuPy"),
    "kernels": ("kernels", "the kernel benchmarks, where this ncclkit has them (ncclkit.bench.kernels)"),
}


def add_parser(commands: Any) -> None:
    """`ncclkit bench NAME ...` on the subparsers of the ncclkit command."""
    parser = commands.add_parser(
        "bench",
        help="benchmarks: " + ", ".join(BENCHES),
        description="\n".join(f"{name}: {text}" for name, (_, text) in BENCHES.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("bench", choices=BENCHES, help="the benchmark")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="its flags: ncclkit bench NAME -h lists them")


def run(args: argparse.Namespace) -> int:
    module = f"{__name__}.{BENCHES[args.bench][0]}"
    try:
        bench = importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name != module:
            raise
        print(f"ncclkit bench {args.bench}: this ncclkit has no {module}", file=sys.stderr)
        return 2
    return bench.main(args.args)
