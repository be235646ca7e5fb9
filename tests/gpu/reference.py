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


# Significand bits (the implicit one included) of each float dtype: integers up to 2**bits are exact.
SIGNIFICAND_BITS = {
    "float16": 11,
    "bfloat16": 8,
    "float32": 24,
    "float64": 53,
    "float8_e4m3fn": 4,
    "float8_e5m2": 3,
}


def random_input(dtype: str, count: int, device: int, op: str = "sum", ranks: int = 1) -> torch.Tensor:
    """Fresh random values for which op over `ranks` ranks is exact in any order of operations:
    integers whose sums stay in the dtype's range; for one rank, floats use their whole
    significand, since nothing is added."""
    target = TORCH_DTYPES[dtype]
    on = f"cuda:{device}"
    if target.is_floating_point and ranks == 1:
        values = torch.randn(count, device=on, dtype=torch.float64)
        if dtype in FLOAT8:
            values = values.clamp(-4, 4)
        return values.to(target)
    if target.is_floating_point and op == "prod":
        # Signed powers of two from 1/2 to 2: a product over 8 ranks fits even float8.
        signs = torch.randint(0, 2, (count,), device=on) * 2 - 1
        return (signs * torch.exp2(torch.randint(-1, 2, (count,), device=on).double())).to(target)
    if target.is_floating_point:
        bound = max(1, 2 ** SIGNIFICAND_BITS[dtype] // ranks)
        return torch.randint(-bound, bound + 1, (count,), device=on, dtype=torch.int64).to(target)
    if op == "prod":  # ones and twos: a product past the dtype wraps alike in NCCL and in reduce()
        return torch.randint(1, 3, (count,), device=on, dtype=torch.int64).to(target)
    # Sums stay in range, so that avg (NCCL divides the sum) sees no wrapped one: |x| <= 127 // ranks for int8.
    bound = min(50, torch.iinfo(target).max // ranks)
    low = 0 if dtype.startswith("uint") else -bound
    return torch.randint(low, bound + 1, (count,), device=on, dtype=torch.int64).to(target)


def exact_over(op: str, ranks: int) -> bool:
    """Whether op over `ranks` ranks of random_input(..., ranks=ranks) is exact: always, but for a
    float average over a rank count that is not a power of two (NCCL scales each input by 1/ranks)."""
    return op != "avg" or ranks & (ranks - 1) == 0


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
    """Equal values (so -0 == +0, and a NaN poison never passes) for integers and where `exact`;
    otherwise floats within a few units of their precision. The expected values may be on another
    GPU."""
    want = expected.to(result.device, result.dtype)
    wide = torch.float64 if result.dtype.is_floating_point else torch.int64
    if exact or not result.dtype.is_floating_point:
        assert torch.equal(result.to(wide), want.to(wide)), (result[:8], want[:8])
        return
    eps = torch.finfo(result.dtype).eps
    torch.testing.assert_close(result.to(torch.float64), want.to(torch.float64), rtol=8 * eps, atol=8 * eps)


def rejected_as_expected(dtype: str, op: str, error: ncclkit.NcclError) -> bool:
    """NCCL builds whose host code lacks the fp8 types (2.28.3 and 2.28.9 here) reject avg of fp8:
    that must be NcclError(ncclInvalidArgument), never a wrong result."""
    return dtype in FLOAT8 and op == "avg" and error.name == "ncclInvalidArgument"


def run_collective(dtype: str, op: str, run: Callable[[], None]) -> None:
    """Run a collective; an expected rejection (above) makes the test an expected failure."""
    try:
        run()
    except ncclkit.NcclError as error:
        if not rejected_as_expected(dtype, op, error):
            raise
        pytest.xfail(f"NCCL {ncclkit.get_version()} rejects {op} of {dtype}")
