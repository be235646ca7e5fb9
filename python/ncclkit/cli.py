"""`ncclkit info`, `ncclkit check` and `ncclkit bench`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from typing import Any

from . import bench, compat
from .build_info import build_info, built_dir, read_record
from .errors import CompatibilityError
from .features import features


def _feature_rows(build: dict[str, Any], facts: compat.Facts) -> list[tuple[str, str]]:
    """One row per NCCL feature: its release, whether it is compiled in and available, and why not."""
    rows = []
    for feature in features(build, facts.nccl_loaded_code, facts.nccl_exports).values():
        if not feature.compiled:
            status = feature.reason
        else:
            status = "compiled in, " + ("available" if feature.available else f"unavailable: {feature.reason}")
        rows.append((f"  {feature.name}", f"NCCL {feature.since}: {status}"))
    return rows


def _requirement(nccl: dict[str, Any]) -> str:
    if "requirement" not in nccl:
        return "not recorded (a build record without a floor)"
    return nccl["requirement"] or "none (NCCL does not come from a wheel)"


def _launcher(compiler: dict[str, Any]) -> str:
    return f" (through {compiler['launcher']})" if compiler.get("launcher") else ""


def _toolkit(cuda: dict[str, Any]) -> str:
    toolkit = cuda.get("toolkit")
    if toolkit is None:
        return "not recorded"
    if toolkit["source"] == "pypi":
        return "NVIDIA's PyPI wheels: " + ", ".join(toolkit["wheels"])
    return "a toolkit install (system)"


def _torch_build(torch: dict[str, Any]) -> str:
    runs_with = f"torch {torch['target_version']} and newer" if torch["target_version"] else "this torch only"
    cuda = f"CUDA {torch['cuda']}" if torch["cuda"] else "CPU only"
    return f"{torch['version']} ({torch['mode']}: runs with {runs_with}; {cuda}, C++ ABI {torch['cxx11_abi']})"


def _rows(build: dict[str, Any], facts: compat.Facts) -> list[tuple[str, str]]:
    cuda, nccl = build["cuda"], build["nccl"]
    rows = [
        (build["package"], build["version"]),
        ("extension", build["module"]),
        ("commit", build["git_commit"]),
        ("built", build["build_time"]),
        ("built for Python", f"{build['python']['version']} ({build['python']['soabi']})"),
        ("compilers", f"{build['compiler']['cxx']}; {build['compiler']['cuda']}" + _launcher(build["compiler"])),
        ("CUDA (nvcc, runtime)", f"{cuda['nvcc_version']}, {cuda['runtime_version']} ({cuda['cudart']})"),
        ("CUDA toolkit", _toolkit(cuda)),
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
            ("NCCL floor", "{} ({})".format(*compat.nccl_floor(nccl))),
            ("NCCL requirement", _requirement(nccl)),
            ("NCCL features", "required: " + (", ".join(nccl.get("required_features", [])).lower() or "none")),
            *_feature_rows(build, facts),
        ]
    if build.get("torch"):
        rows.append(("built against torch", _torch_build(build["torch"])))
    if nccl["provider"] == "source":
        rows.append(
            ("NCCL source", f"{nccl['source_dir']} (commit {nccl['source_commit']}, {nccl['build_style']} build)")
        )
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
    if build.get("torch"):
        rows.append(("torch", facts.torch_version or "-"))
    rows.append(("torch CUDA", facts.torch_cuda or "-"))
    return rows


def _kernels_record() -> dict[str, Any] | None:
    """ncclkit._kernels' build record; None where the build has no kernels (ROCm)."""
    try:
        return read_record(f"{__package__}._kernels")
    except ImportError:
        return None


def _kernel_features(kernels: dict[str, Any] | None) -> str:
    if kernels is None:
        return "not built (ncclkit._kernels is CUDA-only)"
    return ", ".join(f"{k}={v}" for k, v in kernels["features"].items() if k.startswith("NCCLKIT_ENABLE_"))


def info(build: dict[str, Any], as_json: bool, *, own: bool) -> int:
    """``own``: ncclkit's build, whose kernels' record is shown too; else one extension's."""
    facts = compat.gather(build, full=True)
    found = compat.problems(facts, build, full=True)
    kernels = _kernels_record() if own else None
    if as_json:
        runtime = dataclasses.asdict(facts)
        if facts.nccl_exports is not None:
            runtime["nccl_exports"] = sorted(facts.nccl_exports)
        report = {
            "build": build,
            "runtime": runtime,
            "nccl_features": {
                name: dataclasses.asdict(f)
                for name, f in features(build, facts.nccl_loaded_code, facts.nccl_exports).items()
            },
            "problems": [dataclasses.asdict(p) for p in found],
        }
        if own:
            report["kernels"] = kernels
        print(json.dumps(report, indent=2))
        return 0
    rows = _rows(build, facts)
    if own:
        rows.insert(
            next(i for i, (name, _) in enumerate(rows) if name == "Python"),
            ("kernel features", _kernel_features(kernels)),
        )
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(f"{'problems':<{width}}  {len(found) or 'none'}")
    for problem in found:
        print(f"  - {problem}")
    return 0


def _not_checked(facts: compat.Facts, build: dict[str, Any]) -> list[str]:
    """What a full check could not compare on this machine, and why."""
    skipped = []
    if build["nccl"]["version_code"] is not None and facts.nccl_loaded_code is None:
        skipped.append("the loaded NCCL against the build's floor (no NCCL loaded)")
    if not facts.driver_cuda:
        skipped.append("the CUDA driver's version (no CUDA driver here)")
    if not facts.gpus:
        skipped.append("the GPUs' compute capabilities against the built archs (no GPU visible)")
    if facts.torch_cuda is None:
        skipped.append("torch's CUDA (torch is not installed)")
    return skipped


def check(build: dict[str, Any], *, allow_no_gpu: bool) -> int:
    facts = compat.gather(build, full=True)
    found = compat.problems(facts, build, full=True)
    for problem in found:
        print(f"- {problem}")
    for skipped in _not_checked(facts, build):
        print(f"skipped: {skipped}")
    if found:
        print(f"{len(found)} problem(s)")
        return 1
    if not (facts.driver_cuda and facts.gpus) and not allow_no_gpu:
        print("incomplete: no GPU to check the build against (--allow-no-gpu accepts a machine without one)")
        return 1
    print("ok")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ncclkit", description="What ncclkit was built with and what it finds here.")
    parser.add_argument(
        "--cmake-dir",
        action="store_true",
        help="print the directory of ncclkitConfig.cmake (for -Dncclkit_DIR=...) and exit",
    )
    commands = parser.add_subparsers(dest="command")
    info_parser = commands.add_parser("info", help="build info and this machine, as a table")
    info_parser.add_argument("--json", action="store_true", help="print JSON instead")
    check_parser = commands.add_parser("check", help="exit 1 when this machine does not match the build, saying why")
    check_parser.add_argument(
        "--allow-no-gpu",
        action="store_true",
        help="pass on a machine without a CUDA driver or GPU, where the driver and arch checks are skipped",
    )
    bench.add_parser(commands)
    for command in (info_parser, check_parser):
        command.add_argument(
            "--extension",
            metavar="MODULE",
            help="an extension built with ncclkit_add_extension (e.g. mypkg._myext) instead of ncclkit's own",
        )
    args = parser.parse_args(argv)
    if args.cmake_dir:
        print(built_dir() / "cmake")
        return 0
    if args.command is None:
        parser.error("a command is required: info, check or bench (or --cmake-dir)")
    if args.command == "bench":
        return bench.run(args)
    build = read_record(args.extension) if args.extension else build_info()
    try:
        compat.require_cuda_build(build, args.extension)
    except CompatibilityError as error:
        # Nothing here can look at a ROCm machine: say so, and show the build record as it is.
        print(error, file=sys.stderr)
        if args.command == "info":
            print(json.dumps(build, indent=2))
        return 1
    if args.command == "info":
        return info(build, args.json, own=not args.extension)
    return check(build, allow_no_gpu=args.allow_no_gpu)


if __name__ == "__main__":
    sys.exit(main())
