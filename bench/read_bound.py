"""How near the copy bandwidth a one-row GEMV can come at all: kernels that only read the GEMV's
bytes (bench/read_bound.cu), launched as it is, timed beside it. Prints one table (Markdown).

    python bench/read_bound.py [--graphs] [--out FILE]      (on a GPU; needs nvcc)

For M=1 float16 at the shapes of `ncclkit bench kernels`, int8 and int4 (groups 64 and 128): the
bytes the GEMV must read (weights, scales, activations), read by
- "tiles": one block per 8 output channels, as the GEMV, at its 4 blocks an SM; loads after the
  wait for the kernel ahead;
- "tiles, early": the same, 6 of the first 8 loads before the wait, as with static weights;
- "persistent": as many blocks as the SMs hold (4 an SM), each always with a round of loads in
  flight while it folds the one before;
and the GEMV itself, default and with static weights. Timed as `ncclkit bench kernels` times:
back-to-back calls on rotating buffers, each % against a 1 GiB copy measured in the same run.
Every read kernel's XOR of the bytes is checked against torch's before it is timed.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import shutil
import subprocess
import sys
import tempfile
from functools import partial
from pathlib import Path

import torch
from ncclkit import ops
from ncclkit.bench.kernels import (
    QUANTIZATIONS,
    SHAPES,
    copy_bandwidth,
    linear_times,
    median_time,
    weight_sets,
)

SOURCE = Path(__file__).with_name("read_bound.cu")
KERNEL_SOURCES = Path(__file__).resolve().parents[1] / "src"  # kernels/loads.h: the GEMV's loads
KINDS = ("tiles", "tiles, early", "persistent")
CHANNELS_PER_BLOCK, BLOCKS_PER_SM = 8, 4  # the one-row GEMV's tile and occupancy


def device_arch() -> str:
    """The current GPU's arch, as nvcc names it ("90"): these kernels need sm_90 (griddepcontrol)."""
    major, minor = torch.cuda.get_device_capability()
    if major < 9:
        sys.exit(f"these kernels launch programmatically (griddepcontrol): sm_90 or newer, not sm_{major}{minor}")
    return f"{major}{minor}"


def build(directory: Path, arch: str) -> ctypes.CDLL:
    """read_bound.cu compiled for sm_`arch` into `directory`, loaded."""
    nvcc = shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc"
    if not Path(nvcc).exists():
        sys.exit("nvcc not found on PATH or in /usr/local/cuda/bin: put the CUDA toolkit's bin on PATH")
    library = directory / "read_bound.so"
    subprocess.run(
        [
            nvcc,
            "-O3",
            f"-gencode=arch=compute_{arch},code=sm_{arch}",
            "-shared",
            f"-I{KERNEL_SOURCES}",
            "-Xcompiler",
            "-fPIC",
            "-o",
            library,
            SOURCE,
        ],
        check=True,
    )
    lib = ctypes.CDLL(str(library))
    lib.read_bound.argtypes = [
        ctypes.c_int,
        ctypes.c_void_p,
        ctypes.c_longlong,
        ctypes.c_longlong,
        ctypes.c_int,
        ctypes.c_void_p,
        ctypes.c_void_p,
    ]
    return lib


def xor_all(t: torch.Tensor) -> int:
    """The XOR of every 32-bit word of `t`."""
    words = t.reshape(-1).view(torch.int32)
    while words.numel() > 1:
        if words.numel() % 2:
            words = torch.cat([words, words.new_zeros(1)])
        half = words.numel() // 2
        words = words[:half] ^ words[half:]
    return int(words.item()) & 0xFFFFFFFF


def read(lib: ctypes.CDLL, kind: int, buf: torch.Tensor, per_block: int, out: torch.Tensor) -> None:
    """One launch of kernel `kind` (read_bound.cu) over `buf`, one XOR a block into `out`."""
    error = lib.read_bound(
        kind,
        buf.data_ptr(),
        per_block,
        buf.nbytes,
        BLOCKS_PER_SM,
        out.data_ptr(),
        torch.cuda.current_stream().cuda_stream,
    )
    if error:
        raise RuntimeError(f"read_bound kind {kind}: CUDA error {error}")


def check_read(lib: ctypes.CDLL, kind: int, buf: torch.Tensor, per_block: int) -> None:
    """Raises unless kernel `kind`'s blocks together read every byte of `buf` once."""
    sms = torch.cuda.get_device_properties(buf.device).multi_processor_count
    blocks = -(-buf.nbytes // per_block) if KINDS[kind] != "persistent" else sms * BLOCKS_PER_SM
    out = torch.full((blocks,), -1, dtype=torch.int32, device=buf.device)
    read(lib, kind, buf, per_block, out)
    if xor_all(out) != xor_all(buf):
        raise AssertionError(f"read_bound {KINDS[kind]!r} did not read each byte of {buf.nbytes} once")


def rows(lib: ctypes.CDLL, copy: float, graphs: bool) -> list[str]:
    timer = partial(median_time, graphs=graphs)
    sms = torch.cuda.get_device_properties(torch.cuda.current_device()).multi_processor_count
    lines = []
    for n, k in SHAPES:
        weights = weight_sets(n, k, torch.float16)
        xs = [torch.randn(1, k, dtype=torch.float16, device="cuda") for _ in weights]
        for bits, group_size in QUANTIZATIONS:
            quantized = [ops.quantize_weight(w, bits, group_size) for w in weights]
            nbytes = quantized[0][0].nbytes + quantized[0][1].nbytes + xs[0].nbytes
            per_block = -(-nbytes // (n // CHANNELS_PER_BLOCK) // 16) * 16
            buffers = [torch.empty(nbytes, dtype=torch.uint8, device="cuda").random_() for _ in weights]
            out = torch.empty(max(n // CHANNELS_PER_BLOCK, sms * BLOCKS_PER_SM), dtype=torch.int32, device="cuda")
            times = []
            for kind in range(len(KINDS)):
                check_read(lib, kind, buffers[0], per_block)
                times.append(timer([partial(read, lib, kind, b, per_block, out) for b in buffers]))
            times += linear_times(xs, quantized, bits, group_size, timer)
            name = f"int{bits}" + (f" g{group_size}" if group_size else "")
            cells = [f"{t * 1e6:.1f} | {100 * nbytes / t / copy:.0f}%" for t in times]
            lines.append(f"| {name} | {n} x {k} | {nbytes / 1e6:.1f} | " + " | ".join(cells) + " |")
            del quantized, buffers
        del weights, xs
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graphs", action="store_true", help="time replays of CUDA graphs, not launches")
    parser.add_argument("--out", type=Path, help="also write the table here")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as directory:
        lib = build(Path(directory), device_arch())
        copy = copy_bandwidth()
        header = [
            f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {torch.cuda.get_device_name()}, "
            f"M=1, float16, {'CUDA graph replays' if args.graphs else 'back-to-back launches'}; "
            f"device-to-device copy {copy / 1e9:.0f} GB/s; torch {torch.__version__}",
            "",
            "| weights | N x K | MB | "
            + " | ".join(f"{kind} (us) | % copy" for kind in (*KINDS, "ncclkit", "ncclkit, static weights"))
            + " |",
            "| --- | --- | ---: |" + " ---: | ---: |" * (len(KINDS) + 2),
        ]
        table = "\n".join(header + rows(lib, copy, args.graphs))
    if args.out:
        args.out.write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
