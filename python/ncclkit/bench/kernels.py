"""`ncclkit bench kernels`: time ncclkit.ops' kernels against torch on one GPU, and print one
table (Markdown).

    ncclkit bench kernels [--dtype float16] [--graphs] [--out results.md]   (or: python bench/kernels.py)

weight_only_linear for M in {1, 4, 16} rows and (N, K) in {(4096, 4096), (11008, 4096),
(4096, 11008), (14336, 4096)}, int8 and int4 (groups of 64 and 128); rms_norm and
fused_add_rms_norm for a few (rows, hidden). Each time is the median, over many batches, of a
batch of back-to-back calls on rotating inputs (so that L2 holds none of them) divided by its
calls; a sleeping kernel queued first lets the host queue the whole batch before the GPU starts.
With --graphs a batch is instead one replay of a CUDA graph that holds a call on every input set
(the copies in it are memcpy nodes, which the copy engines may run).
GB/s counts the fewest bytes each call must move: for the linear, the weights, scales and
activations once; for the norms, x (and the residual) read, the outputs written, the weight. "% copy"
is that over the bandwidth of a large device-to-device copy (bytes read plus written) measured in
the same run, for the default call and for the linear's static_weights=True (a decode step's
weights, which the GEMV may read before the kernel ahead of it ends). The time of a 4-byte copy,
timed alike, is the floor every call pays, and a copy that moves as many bytes as the call, timed
alike, is what a plain copy of that size achieves. The header says whether the kernels launched
programmatically (each starting while the one before it ends; NCCLKIT_PDL=0 turns that off, to
time without it). The baselines: for the linear, dequantizing in torch then F.linear in the
activation dtype, and F.linear on the unquantized weight; for the norms, torch eager (F.rms_norm)
and torch.compile of the same code.
"""

from __future__ import annotations

import argparse
import datetime
import math
import statistics
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F

from .. import __version__, ops
from ..build_info import read_record

ROWS = (1, 4, 16)
SHAPES = ((4096, 4096), (11008, 4096), (4096, 11008), (14336, 4096))  # (N, K)
QUANTIZATIONS = ((8, None), (4, 64), (4, 128))
NORM_SHAPES = ((16, 4096), (4096, 4096), (16384, 4096), (4096, 8192))  # (rows, hidden)
BATCH, SAMPLES = 10, 30
SLEEP_CYCLES = 4_000_000  # a couple of milliseconds: longer than the host takes to queue a batch


Calls = list[Callable[[], object]]
Timer = Callable[[Calls], float]


def median_time(calls: Calls, *, graphs: bool = False) -> float:
    """Seconds per call: the median over SAMPLES batches of BATCH calls, taken in turn from `calls`.
    With `graphs`, a batch is the replay of a CUDA graph of every call (BATCH at least), as a
    decode step replays its kernels."""
    for call in calls:  # warm-up: compilation, module loading, allocator
        call()
    torch.cuda.synchronize()
    batch = BATCH
    if graphs:
        batch = max(BATCH, len(calls))
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            for i in range(batch):
                calls[i % len(calls)]()
    times = []
    for sample in range(SAMPLES):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda._sleep(SLEEP_CYCLES)
        start.record()
        if graphs:
            graph.replay()
        else:
            for i in range(batch):
                calls[(sample * batch + i) % len(calls)]()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3 / batch)
    return statistics.median(times)


def copies_for(nbytes: int) -> int:
    """Input sets to rotate through so that together they are four times L2."""
    l2 = torch.cuda.get_device_properties(torch.cuda.current_device()).L2_cache_size
    return max(2, math.ceil(4 * l2 / nbytes))


def copy_bandwidth() -> float:
    """Bytes read plus written per second by a 1 GiB device-to-device copy, launched: a CUDA graph
    would make it a memcpy node, which the copy engines may run, slower than the SMs."""
    src = torch.randn(2**28, device="cuda")
    dst = torch.empty_like(src)
    seconds = median_time([partial(dst.copy_, src)])
    return 2 * src.nbytes / seconds


def same_bytes_copy(nbytes: int, timer: Timer) -> float:
    """Seconds per call of a device-to-device copy that moves `nbytes` (half read, half written),
    on rotating buffers, timed as the kernels are."""
    half = nbytes // 2
    pairs = [
        (torch.empty(half, dtype=torch.uint8, device="cuda"), torch.empty(half, dtype=torch.uint8, device="cuda"))
        for _ in range(copies_for(nbytes))
    ]
    return timer([partial(dst.copy_, src) for src, dst in pairs])


def launch_floor(timer: Timer) -> float:
    """Seconds per call of a kernel that moves almost nothing (a 4-byte copy), timed as the others
    are: what any call here costs before it moves its bytes."""
    src = torch.zeros(1, device="cuda")
    dst = torch.empty_like(src)
    return timer([partial(dst.copy_, src)])


def weight_sets(n: int, k: int, dtype: torch.dtype) -> list[torch.Tensor]:
    """Float weights [n, k] to rotate through: as many as the smallest (int4) quantized ones need
    to overflow L2."""
    return [torch.randn(n, k, dtype=dtype, device="cuda") / k**0.5 for _ in range(copies_for(n * k // 2))]


def linear_times(
    xs: list[torch.Tensor],
    quantized: list[tuple[torch.Tensor, torch.Tensor]],
    bits: int,
    group_size: int | None,
    timer: Timer,
) -> tuple[float, float]:
    """Seconds per ops.weight_only_linear call on rotating (x, (qweight, scales)), by default and
    with static_weights=True."""
    linear = partial(ops.weight_only_linear, bits=bits, group_size=group_size)
    ours, static = (
        timer([partial(linear, x, q, s, static_weights=promise) for x, (q, s) in zip(xs, quantized)])
        for promise in (False, True)
    )
    return ours, static


def torch_dequantize(qweight: torch.Tensor, scales: torch.Tensor, bits: int, group_size: int | None) -> torch.Tensor:
    """The baseline's dequantization, in plain torch ops of the activation dtype."""
    if bits == 8:
        return qweight.to(scales.dtype) * scales[:, None]
    n = qweight.shape[0]
    data = qweight.view(torch.int8).to(torch.int16)
    nibbles = torch.stack([(data << 12) >> 12, (data << 8) >> 12], dim=-1).reshape(n, -1, 8)  # sign-extended
    # Nibbles 0..7 hold k 0, 2, 4, 6, 1, 3, 5, 7: as [2, 4] transposed, k order (views, so that a CUDA
    # graph can capture it).
    q = nibbles.reshape(n, -1, 2, 4).transpose(-1, -2).reshape(n, -1)
    return (q.to(scales.dtype).reshape(n, -1, group_size) * scales[..., None]).reshape(n, -1)


def torch_linear(
    x: torch.Tensor, qweight: torch.Tensor, scales: torch.Tensor, bits: int, group_size: int | None
) -> torch.Tensor:
    return F.linear(x, torch_dequantize(qweight, scales, bits, group_size))


def linear_rows(dtype: torch.dtype, copy: float, timer: Timer) -> list[list[str]]:
    rows = []
    for n, k in SHAPES:
        weights = weight_sets(n, k, dtype)
        for m in ROWS:
            xs = [torch.randn(m, k, dtype=dtype, device="cuda") for _ in weights]
            fp16 = timer([partial(F.linear, x, w) for w, x in zip(weights, xs)])
            for bits, group_size in QUANTIZATIONS:
                quantized = [ops.quantize_weight(w, bits, group_size) for w in weights]
                q, s = quantized[0]
                ours_out = ops.weight_only_linear(xs[0], q, s, bits=bits, group_size=group_size)
                torch_out = F.linear(xs[0], torch_dequantize(q, s, bits, group_size))
                error = ((ours_out.double() - torch_out.double()).norm() / torch_out.double().norm()).item()
                assert error < 2e-2, f"ncclkit and torch disagree: relative difference {error:.1e}"
                ours, static = linear_times(xs, quantized, bits, group_size, timer)
                dequant = timer([partial(torch_linear, x, q, s, bits, group_size) for x, (q, s) in zip(xs, quantized)])
                nbytes = q.nbytes + s.nbytes + xs[0].nbytes
                name = f"int{bits}" + (f" g{group_size}" if group_size else "")
                same = same_bytes_copy(nbytes, timer)
                rows.append(
                    row(f"linear {name}", f"M={m} N={n} K={k}", nbytes, ours, static, copy, same, dequant, fp16)
                )
            del xs
        del weights
    return rows


def norm_rows(dtype: torch.dtype, copy: float, timer: Timer) -> list[list[str]]:
    def eager_norm(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x, (x.shape[-1],), w, 1e-6)

    def eager_fused(x: torch.Tensor, r: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        r.add_(x)
        return F.rms_norm(r, (r.shape[-1],), w, 1e-6)

    compiled_norm = torch.compile(eager_norm, dynamic=True)
    compiled_fused = torch.compile(eager_fused, dynamic=True)
    rows = []
    for n_rows, hidden in NORM_SHAPES:
        size = n_rows * hidden * torch.finfo(dtype).bits // 8
        sets = [
            [torch.randn(n_rows, hidden, dtype=dtype, device="cuda") for _ in range(2)]
            for _ in range(copies_for(2 * size))
        ]
        w = torch.randn(hidden, dtype=dtype, device="cuda")
        torch.testing.assert_close(ops.rms_norm(sets[0][0], w, 1e-6), eager_norm(sets[0][0], w), rtol=2e-2, atol=2e-2)
        norm = [
            timer([partial(ops.rms_norm, x, w, 1e-6) for x, _ in sets]),
            timer([partial(eager_norm, x, w) for x, _ in sets]),
            timer([partial(compiled_norm, x, w) for x, _ in sets]),
        ]
        fused = [
            timer([partial(ops.fused_add_rms_norm, x, r, w, 1e-6) for x, r in sets]),
            timer([partial(eager_fused, x, r, w) for x, r in sets]),
            timer([partial(compiled_fused, x, r, w) for x, r in sets]),
        ]
        shape = f"{n_rows} x {hidden}"
        for kernel, moved, times in (("rms_norm", 2 * size, norm), ("fused_add_rms_norm", 4 * size, fused)):
            nbytes = moved + w.nbytes
            rows.append(row(kernel, shape, nbytes, times[0], None, copy, same_bytes_copy(nbytes, timer), *times[1:]))
        del sets
    return rows


def row(
    kernel: str,
    shape: str,
    nbytes: int,
    ours: float,
    static: float | None,
    copy: float,
    same: float,
    first: float,
    second: float,
) -> list[str]:
    """A table row; `static` is the linear's time with static_weights=True (None for the norms)."""
    bandwidth = nbytes / ours
    return [
        kernel,
        shape,
        f"{ours * 1e6:.1f}",
        f"{bandwidth / 1e9:.0f}",
        f"{100 * bandwidth / copy:.0f}%",
        *((f"{static * 1e6:.1f}", f"{100 * nbytes / static / copy:.0f}%") if static is not None else ("-", "-")),
        f"{same * 1e6:.1f}",
        f"{first * 1e6:.1f}",
        f"{first / ours:.2f}x",
        f"{second * 1e6:.1f}",
        f"{second / ours:.2f}x",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ncclkit bench kernels", description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", choices=("float16", "bfloat16"), default="float16")
    parser.add_argument("--graphs", action="store_true", help="time replays of CUDA graphs, not launches")
    parser.add_argument("--out", type=Path, help="also write the table here")
    args = parser.parse_args(argv)
    dtype = getattr(torch, args.dtype)
    timer = partial(median_time, graphs=args.graphs)

    torch.manual_seed(0)
    copy = copy_bandwidth()
    floor = launch_floor(timer)
    record = read_record("ncclkit._kernels")
    programmatic = ops._kernels().programmatic_launch(torch.cuda.current_device())
    lines = [
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {torch.cuda.get_device_name()}, "
        f"{args.dtype} activations, {'CUDA graph replays' if args.graphs else 'back-to-back launches'}",
        f"ncclkit {__version__} (commit {record['git_commit']}, CUDA {record['cuda']['nvcc_version']}, "
        f"SASS {' '.join(record['cuda']['archs_sass'])}), torch {torch.__version__} (CUDA {torch.version.cuda})",
        f"device-to-device copy: {copy / 1e9:.0f} GB/s (read + written); a call that moves 4 bytes: "
        f"{floor * 1e6:.1f} us; programmatic launch: {'on' if programmatic else 'off'}",
        "",
        "| kernel | shape | ncclkit (us) | GB/s | % copy | static weights (us) | % copy | copy, same bytes (us) "
        "| torch A (us) | speed-up | torch B (us) | speed-up |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in linear_rows(dtype, copy, timer) + norm_rows(dtype, copy, timer)]
    lines += [
        "",
        "torch A: linear, dequantize in torch then F.linear; norms, eager F.rms_norm. "
        "torch B: linear, F.linear on the unquantized weight; norms, torch.compile of the eager code.",
    ]
    table = "\n".join(lines)
    if args.out:
        args.out.write_text(table + "\n")
    print(table)
    return 0
