"""A torch extension built with ncclkit, twice: against torch's C++ API (_ops, for the torch it
was built against) and against its stable ABI (_stable_ops, for every torch from 2.10 on). Each
is checked against this machine and this torch before it is loaded; loading it registers its op."""

from __future__ import annotations

import torch  # first: the extensions link the libtorch that torch loads
from ncclkit import Communicator
from ncclkit.compat import check_extension

check_extension(f"{__name__}._ops", full=False)
check_extension(f"{__name__}._stable_ops", full=False)

from . import _ops, _stable_ops  # noqa: E402, F401  (after the checks; importing them registers the ops)


def fused_add_all_reduce(
    x: torch.Tensor, residual: torch.Tensor, alpha: float, comm: Communicator, *, stable: bool = False
) -> torch.Tensor:
    """The sum over `comm`'s ranks of alpha * x + residual, on torch's current stream; `stable`
    runs the stable-ABI build of the op.

    The operands are checked here before either op sees them: the ops check them too, but an
    error raised in a stable-ABI kernel crashes torch 2.11.0 (SIGSEGV), where torch 2.13.0 raises it."""
    for name, tensor in (("x", x), ("residual", residual)):
        if not isinstance(tensor, torch.Tensor) or tensor.dtype != torch.float32:
            msg = f"{name}: expected a float32 tensor, got {getattr(tensor, 'dtype', type(tensor).__name__)}"
            raise TypeError(msg)
    if x.shape != residual.shape:
        msg = f"residual: expected the shape of x, {tuple(x.shape)}, got {tuple(residual.shape)}"
        raise ValueError(msg)
    if x.device.type not in ("cuda", "meta") or residual.device != x.device:
        msg = f"x and residual must be on one CUDA device, got {x.device} and {residual.device}"
        raise ValueError(msg)
    if not isinstance(comm, Communicator):
        msg = f"comm: expected an ncclkit.Communicator, got {type(comm).__name__}"
        raise TypeError(msg)
    ops = torch.ops.ncclkit_torch_example_stable if stable else torch.ops.ncclkit_torch_example
    return ops.fused_add_all_reduce(x, residual, alpha, comm.ptr)
