"""`ncclkit bench overhead`: host time per call of a 1-element float32 all_reduce (sum, in place)
on a 1-rank communicator, in one process, through
- ncclkit on a torch tensor (Communicator.all_reduce: the checks, the stream lookup, the call);
- ncclkit on a raw pointer: ncclkit._comm.Comm, the bindings under Communicator, which take
  addresses, an element count and NCCL's dtype and op codes;
- torch.distributed, NCCL backend;
- CuPy's NCCL (cupy.cuda.nccl) on a raw pointer, where CuPy is installed.

Each time is that of a Python loop issuing -n calls, divided by -n: the median of --repeats
rounds, after -w untimed calls; each round runs every path's loop in turn. Goals: ncclkit on a
torch tensor at most 3 us per call, and on a raw pointer within 10% of CuPy.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import functools
import importlib.util
import io
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .arguments import at_least

TENSOR = "ncclkit, torch tensor"
POINTER = "ncclkit, raw pointer"
TORCH = "torch.distributed (nccl)"
CUPY = "CuPy NCCL, raw pointer"
GOAL_TENSOR_US = 3.0
GOAL_POINTER_OVER_CUPY = 1.10


class Unavailable(Exception):
    """A path this process cannot take; the message says why."""


@dataclass(frozen=True)
class Result:
    path: str
    us_per_call: float | None
    note: str = ""  # why there is no time


@dataclass(frozen=True)
class Goal:
    goal: str
    met: bool | None  # None: not checked
    detail: str


def per_call_us(
    calls: Mapping[str, Callable[[], object]],
    *,
    iters: int,
    warmup: int,
    repeats: int,
    synchronize: Callable[[], None],
) -> dict[str, float]:
    """Per call of each of `calls`, in microseconds: the median over `repeats` rounds of the host
    time of `iters` calls. A round times every path's loop in turn, so that a machine that speeds
    up or slows down during the run does so for every path alike, and the ratios hold; each round
    starts one path further on, so that no path always runs after the same one (whose work can
    leave the caches cold, or the GPU's queue long, for the next)."""
    for call in calls.values():
        for _ in range(warmup):
            call()
    synchronize()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    order = list(calls.items())
    for round_ in range(repeats):
        shift = round_ % len(order)
        for name, call in order[shift:] + order[:shift]:
            start = time.perf_counter()
            for _ in range(iters):
                call()
            samples[name].append((time.perf_counter() - start) / iters * 1e6)
            synchronize()  # the GPU's queue drains between loops, never during one
    return {name: statistics.median(values) for name, values in samples.items()}


# -- the paths: each yields the call to time, on one float32 element x ---------------------------
@contextlib.contextmanager
def _ncclkit_tensor(x: Any) -> Iterator[Callable[[], object]]:
    from ..comm import Communicator, UniqueId

    with Communicator.init_rank(1, UniqueId.generate(), 0, device=x.device.index) as comm:
        yield functools.partial(comm.all_reduce, x)


@contextlib.contextmanager
def _ncclkit_pointer(x: Any) -> Iterator[Callable[[], object]]:
    import torch

    from .. import compat
    from ..comm import UniqueId

    nccl = compat.require_comm()
    handle = nccl.Comm.init_rank(1, [bytes(UniqueId.generate())], 0, x.device.index, [], False)
    stream = torch.cuda.current_stream(x.device).cuda_stream
    try:
        yield functools.partial(
            handle.all_reduce, x.data_ptr(), x.data_ptr(), 1, nccl.DTYPES["float32"], nccl.OPS["sum"], stream
        )
    finally:
        handle.destroy()


@contextlib.contextmanager
def _torch_distributed(x: Any) -> Iterator[Callable[[], object]]:
    import torch.distributed as dist

    if not dist.is_available() or not dist.is_nccl_available():
        raise Unavailable("this torch has no NCCL backend")
    if dist.is_initialized():
        raise Unavailable("torch.distributed is already initialized in this process")
    dist.init_process_group("nccl", store=dist.HashStore(), rank=0, world_size=1)
    try:
        yield functools.partial(dist.all_reduce, x)
    finally:
        dist.destroy_process_group()


@contextlib.contextmanager
def _cupy(x: Any) -> Iterator[Callable[[], object]]:
    import torch

    if importlib.util.find_spec("cupy") is None:
        raise Unavailable("not installed")
    try:
        import cupy
        from cupy.cuda import nccl

        with cupy.cuda.Device(x.device.index):
            comm = nccl.NcclCommunicator(1, nccl.get_unique_id(), 0)
    except Exception as error:  # CuPy built without NCCL, or for another CUDA: say so, measure the rest
        raise Unavailable(f"unavailable: {type(error).__name__}: {error}") from error
    stream = torch.cuda.current_stream(x.device).cuda_stream
    try:
        yield functools.partial(comm.allReduce, x.data_ptr(), x.data_ptr(), 1, nccl.NCCL_FLOAT32, nccl.NCCL_SUM, stream)
    finally:
        comm.destroy()


PATHS = {TENSOR: _ncclkit_tensor, POINTER: _ncclkit_pointer, TORCH: _torch_distributed, CUPY: _cupy}


def goals(results: Sequence[Result]) -> list[Goal]:
    us = {r.path: r.us_per_call for r in results}
    notes = {r.path: r.note for r in results}
    tensor, pointer, cupy = us.get(TENSOR), us.get(POINTER), us.get(CUPY)
    tensor_goal = Goal(
        f"{TENSOR}: at most {GOAL_TENSOR_US:g} us per call",
        None if tensor is None else tensor <= GOAL_TENSOR_US,
        "not measured" if tensor is None else f"{tensor:.2f} us",
    )
    within = f"{POINTER}: within {GOAL_POINTER_OVER_CUPY - 1:.0%} of CuPy"
    if pointer is None or cupy is None:
        pointer_goal = Goal(within, None, f"not checked: CuPy {notes.get(CUPY) or 'not measured'}")
    else:
        ratio = pointer / cupy
        pointer_goal = Goal(within, ratio <= GOAL_POINTER_OVER_CUPY, f"{ratio:.2f}x CuPy's time")
    return [tensor_goal, pointer_goal]


def table(results: Sequence[Result], found: Sequence[Goal]) -> str:
    cupy = next((r.us_per_call for r in results if r.path == CUPY), None)
    width = max(len(r.path) for r in results)
    lines = [f"{'path':<{width}}  {'us/call':>8}  {'vs CuPy':>8}"]
    for r in results:
        if r.us_per_call is None:
            lines.append(f"{r.path:<{width}}  {r.note}")
            continue
        ratio = f"{r.us_per_call / cupy:.2f}x" if cupy else "-"
        lines.append(f"{r.path:<{width}}  {r.us_per_call:8.2f}  {ratio:>8}")
    verdict = {True: "met", False: "MISSED", None: "not checked"}
    lines += [f"# goal: {g.goal}: {verdict[g.met]} ({g.detail})" for g in found]
    return "\n".join(lines)


def to_json(
    results: Sequence[Result], found: Sequence[Goal], *, config: Mapping[str, Any], environment: Mapping[str, Any]
) -> str:
    document = {
        "environment": dict(environment),
        "config": dict(config),
        "results": [asdict(r) for r in results],
        "goals": [asdict(g) for g in found],
    }
    return json.dumps(document, indent=2) + "\n"


def to_csv(results: Sequence[Result]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("path", "us_per_call", "note"))
    writer.writerows((r.path, "" if r.us_per_call is None else r.us_per_call, r.note) for r in results)
    return out.getvalue()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ncclkit bench overhead", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("-n", "--iters", type=at_least(1), default=10000, help="calls per timed loop (default: 10000)")
    p.add_argument("-w", "--warmup_iters", type=at_least(0), default=1000, help="untimed calls first (default: 1000)")
    p.add_argument("--repeats", type=at_least(1), default=12, help="timed rounds; their median counts (default: 12)")
    p.add_argument("--device", type=at_least(0), default=0, help="the GPU (default: 0)")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the results, with the machine, as JSON")
    p.add_argument("--csv", type=Path, metavar="FILE", help="also write the results as CSV")
    return p


def measure(args: argparse.Namespace) -> list[Result]:
    import torch

    torch.cuda.set_device(args.device)
    x = torch.zeros(1, dtype=torch.float32, device=f"cuda:{args.device}")
    calls, unavailable = {}, {}
    with contextlib.ExitStack() as paths:  # every path open at once, for the interleaved rounds
        for name, path in PATHS.items():
            try:
                calls[name] = paths.enter_context(path(x))
            except Unavailable as why:
                unavailable[name] = str(why)
        times = per_call_us(
            calls,
            iters=args.iters,
            warmup=args.warmup_iters,
            repeats=args.repeats,
            synchronize=functools.partial(torch.cuda.synchronize, x.device),
        )
    return [Result(name, times.get(name), unavailable.get(name, "")) for name in PATHS]


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from ..comm import check_device
    from .environment import describe

    try:
        check_device(args.device)
    except (RuntimeError, ValueError) as error:
        print(f"ncclkit bench overhead: {error}", file=sys.stderr)
        return 2
    results = measure(args)
    found = goals(results)
    environment = describe([(0, args.device)], launcher="one process", world_size=1, processes=1)
    config = {key: getattr(args, key) for key in ("iters", "warmup_iters", "repeats", "device")}
    print(
        "# ncclkit bench overhead: host time per call of a 1-element float32 all_reduce (sum, in place) "
        "on a 1-rank communicator"
    )
    print(
        f"# cuda:{args.device} {environment['ranks'][0]['name']}; median of {args.repeats} rounds of {args.iters} "
        f"calls per path, the paths in turn, after {args.warmup_iters} untimed; NCCL {environment['nccl']}, "
        f"torch {environment['torch']}; {environment['date']}"
    )
    print(table(results, found))
    if args.json:
        args.json.write_text(to_json(results, found, config=config, environment=environment))
    if args.csv:
        args.csv.write_text(to_csv(results))
    return 0
