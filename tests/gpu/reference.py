"""Inputs and expected results for the collective tests, computed by torch on the GPU."""

from __future__ import annotations

from collections.abc import Callable

import ncclkit
import pytest
import torch
from ncclkit import _comm

TORCH_DTYPES = {
    "int8": torch.int8,
    "uint8": torch.uint8,
    "int32": torch.int32,
    "uint32": torch.uint32,
    "int64": torch.int64,
    "uint64": torch.uint64,
    "float16": torch.float16,
    "float32": torch.float32,
    "float64": torch.float64,
    "bfloat16": torch.bfloat16,
    "float8_e4m3fn": torch.float8_e4m3fn,
    "float8_e5m2": torch.float8_e5m2,
}
# Every dtype this build's NCCL has (bfloat16 and fp8 only where the header had them).
DTYPES = sorted(_comm.DTYPES)
OPS = sorted(_comm.OPS)

FLOAT8 = {"float8_e4m3fn", "float8_e5m2"}


def random_input(dtype: str, count: int, device: int, op: str = "sum") -> torch.Tensor:
    """Fresh random values that keep every op of a few ranks exact for integers and finite for floats."""
    target = TORCH_DTYPES[dtype]
    if target.is_floating_point:
        values = torch.randn(count, device=f"cuda:{device}", dtype=torch.float64)
        if dtype in FLOAT8:
            values = values.clamp(-4, 4)
        return values.to(target)
    low = 1 if op == "prod" else (0 if dtype.startswith("uint") else -50)
    high = 3 if op == "prod" else 50
    return torch.randint(low, high, (count,), device=f"cuda:{device}", dtype=torch.int64).to(target)


def poisoned_like(t: torch.Tensor, count: int | None = None) -> torch.Tensor:
    """An output buffer no correct result here can look like: NaN bytes for floats, 0xA5 bytes for integers."""
    out = torch.empty(t.numel() if count is None else count, dtype=t.dtype, device=t.device)
    out.view(torch.uint8).fill_(0xFF if t.dtype.is_floating_point else 0xA5)
    return out


def reduce(inputs: list[torch.Tensor], op: str) -> torch.Tensor:
    """op over ranks, in float64 (floats) or int64 (integers), on the first input's GPU."""
    dtype = inputs[0].dtype
    wide = torch.float64 if dtype.is_floating_point else torch.int64
    stack = torch.stack([t.to(inputs[0].device).to(wide) for t in inputs])
    if op == "sum":
        return stack.sum(0)
    if op == "prod":
        return stack.prod(0)
    if op == "max":
        return stack.max(0).values
    if op == "min":
        return stack.min(0).values
    if op == "avg":
        total = stack.sum(0)
        return total / len(inputs) if dtype.is_floating_point else torch.div(total, len(inputs), rounding_mode="trunc")
    raise ValueError(op)


def assert_matches(result: torch.Tensor, expected: torch.Tensor, *, exact: bool) -> None:
    """Equal values (so -0 == +0, and a NaN poison never passes) for integers and single-rank
    results; floats of several ranks within a few units of their precision. The expected values
    may be on another GPU."""
    want = expected.to(result.device, result.dtype)
    wide = torch.float64 if result.dtype.is_floating_point else torch.int64
    if exact or not result.dtype.is_floating_point:
        assert torch.equal(result.to(wide), want.to(wide)), (result[:8], want[:8])
        return
    eps = torch.finfo(result.dtype).eps
    torch.testing.assert_close(result.to(torch.float64), want.to(torch.float64), rtol=8 * eps, atol=8 * eps)


def run_collective(dtype: str, op: str, run: Callable[[], None]) -> None:
    """Run a collective. NCCL builds whose host code lacks the fp8 types (2.28.3 and 2.28.9 here)
    reject avg of fp8: that must be NcclError(ncclInvalidArgument), never a wrong result, and the
    test is then an expected failure."""
    if dtype not in FLOAT8 or op != "avg":
        run()
        return
    try:
        run()
    except ncclkit.NcclError as error:
        assert error.name == "ncclInvalidArgument", error
        pytest.xfail(f"NCCL {ncclkit.get_version()} rejects avg of {dtype}")


def on_every_gpu(
    comms: list[ncclkit.Communicator],
    collective: Callable[..., None],
    inputs: list[torch.Tensor],
    outputs: list[torch.Tensor],
    **kwargs: object,
) -> None:
    """collective(comm, input, output, **kwargs) for each communicator of this process, as one NCCL group."""
    with ncclkit.group():
        for comm, x, out in zip(comms, inputs, outputs):
            collective(comm, x, out, **kwargs)
