"""The command line of the wheel check: `python ci/check_wheel.py [--print-excludes] WHEEL`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from .binary_rules import external_libraries
from .check import check_wheel
from .contents import unpacked
from .metadata_rules import DEFAULT_SIZE_BUDGET_MIB
from .results import Result, Status

HELP = "check a built wheel before publishing it; exit 1 when a rule fails"


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="check_wheel", description=HELP)
    parser.add_argument("wheel", type=Path, help="the .whl file")
    parser.add_argument(
        "--size-budget-mib",
        type=float,
        default=DEFAULT_SIZE_BUDGET_MIB,
        help="the largest wheel that passes (default: %(default)s)",
    )
    parser.add_argument(
        "--print-excludes",
        action="store_true",
        help="print, one per line, the libraries `auditwheel repair` must --exclude, and exit",
    )
    return parser


def print_excludes(wheel: Path) -> int:
    """Print external_libraries(), one per line: ci/repair_wheel.sh reads them."""
    with unpacked(wheel) as (_, _, _, extensions):
        print("\n".join(sorted(external_libraries(extensions))))
    return 0


def summary(wheel: Path, results: list[Result]) -> str:
    failed = sum(r.status is Status.FAIL for r in results)
    skipped = sum(r.status is Status.SKIP for r in results)
    verdict = f"{failed} rule(s) failed" if failed else "every rule passed"  # CI scripts grep "every rule passed"
    return f"{wheel.name}: {verdict}" + (f", {skipped} skipped" if skipped else "")


def main(argv: Sequence[str] | None = None) -> int:
    """Print every rule's result; 1 when one failed (a skipped rule does not), 2 without the wheel."""
    args = parser().parse_args(argv)
    if not args.wheel.is_file():
        print(f"check_wheel: no such wheel: {args.wheel}")
        return 2
    if args.print_excludes:
        return print_excludes(args.wheel)
    results = check_wheel(args.wheel, size_budget_mib=args.size_budget_mib)
    for result in results:
        print(result)
    print(summary(args.wheel, results))
    return 1 if any(r.status is Status.FAIL for r in results) else 0
