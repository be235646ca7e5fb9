"""The quantized weight layout read back the way src/kernels/weight_layout.h states it, without
ncclkit's code: the reference for the quantizer (CPU) and the kernels (GPU)."""

from __future__ import annotations

import torch

# Nibble i of each 32-bit word holds k0 + NIBBLE_K[i].
NIBBLE_K = [2 * (i % 4) + i // 4 for i in range(8)]


def unpack_int4(qweight: torch.Tensor) -> torch.Tensor:
    """The signed 4-bit integers of a packed uint8 [N, K // 2] qweight, as int64 [N, K] in k order."""
    n, half_k = qweight.shape
    data = qweight.to(torch.int64)
    nibbles = torch.stack([data & 0xF, data >> 4], dim=-1).reshape(n, half_k // 4, 8)  # nibble i: byte i // 2
    signed = torch.where(nibbles >= 8, nibbles - 16, nibbles)
    out = torch.empty_like(signed)
    out[..., NIBBLE_K] = signed
    return out.reshape(n, 2 * half_k)


def integers(qweight: torch.Tensor, bits: int) -> torch.Tensor:
    """q[n, k] as int64."""
    return qweight.to(torch.int64) if bits == 8 else unpack_int4(qweight)


def dequantized(qweight: torch.Tensor, scales: torch.Tensor, bits: int, group_size: int | None) -> torch.Tensor:
    """w[n, k] = q[n, k] * scale, exactly, in float64."""
    q = integers(qweight, bits).to(torch.float64)
    scale = scales.to(torch.float64)
    if bits == 8:
        return q * scale[:, None]
    return q * scale.repeat_interleave(group_size, dim=1)
