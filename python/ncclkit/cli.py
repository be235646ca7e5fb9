"""`ncclkit info` and `ncclkit check`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from typing import Any

from . import compat
from .build_info import build_info


def _rows(build: dict[str, Any], facts: compat.Facts) -> list[tuple[str, str]]:
    cuda, nccl = build["cuda"], build["nccl"]
    features = ", ".join(
        k.removeprefix("NCCLKIT_HAS_") for k, v in build["features"].items() if k.startswith("NCCLKIT_HAS_") and v
    )
    rows = [
        ("ncclkit", build["version"]),
        ("commit", build["git_commit"]),
        ("built", build["build_time"]),
        ("built for Python", f"{build['python']['version']} ({build['python']['soabi']})"),
        ("compilers", f"{build['compiler']['cxx']}; {build['compiler']['cuda']}"),
        ("CUDA (nvcc, runtime)", f"{cuda['nvcc_version']}, {cuda['runtime_version']} ({cuda['cudart']})"),
        (
            "CUDA archs",
            f"SASS {' '.join(cuda['archs_sass']) or '-'}; PTX {' '.join(cuda['archs_ptx']) or '-'} "
            f"({cuda['archs_source']})",
        ),
        ("NCCL provider", nccl["provider"] + (f" ({nccl['wheel']})" if nccl["wheel"] else "")),
    ]
    if nccl["provider"] != "off":
        rows += [
            ("NCCL built against", f"{nccl['version']} ({nccl['library']}{', static' if nccl['static'] else ''})"),
            ("NCCL features", features or "-"),
        ]
    loaded = (
        "-"
        if facts.nccl_loaded_code is None
        else f"{compat.nccl_version_string(facts.nccl_loaded_code)} ({facts.nccl_loaded_file})"
    )
    rows += [
        ("Python", "{}.{}".format(*facts.python)),
        ("NCCL loaded", loaded),
        ("nvidia-nccl wheels", ", ".join(f"{k} {v}" for k, v in facts.nccl_wheels.items()) or "-"),
        (
            "CUDA driver",
            f"{facts.driver_cuda // 1000}.{facts.driver_cuda % 1000 // 10}" if facts.driver_cuda else "none",
        ),
    ]
    rows += [
        (f"GPU {g.index}", f"{g.name} (compute capability {g.capability[0]}.{g.capability[1]})")
        for g in facts.gpus or ()
    ] or [("GPUs", "none visible")]
    rows.append(("torch CUDA", facts.torch_cuda or "-"))
    return rows


def _report(facts: compat.Facts) -> list[compat.Problem]:
    return compat.problems(facts, build_info(), full=True)


def info(as_json: bool) -> int:
    facts = compat.gather(full=True)
    found = _report(facts)
    if as_json:
        print(
            json.dumps(
                {
                    "build": build_info(),
                    "runtime": dataclasses.asdict(facts),
                    "problems": [dataclasses.asdict(p) for p in found],
                },
                indent=2,
            )
        )
        return 0
    rows = _rows(build_info(), facts)
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(f"{'problems':<{width}}  {len(found) or 'none'}")
    for problem in found:
        print(f"  - {problem}")
    return 0


def check() -> int:
    found = _report(compat.gather(full=True))
    for problem in found:
        print(f"- {problem}")
    print("ok" if not found else f"{len(found)} problem(s)")
    return 1 if found else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ncclkit", description="What ncclkit was built with and what it finds here.")
    commands = parser.add_subparsers(dest="command", required=True)
    info_parser = commands.add_parser("info", help="build info and this machine, as a table")
    info_parser.add_argument("--json", action="store_true", help="print JSON instead")
    commands.add_parser("check", help="exit 1 when this machine does not match the build, saying why")
    args = parser.parse_args(argv)
    return info(args.json) if args.command == "info" else check()


if __name__ == "__main__":
    sys.exit(main())
