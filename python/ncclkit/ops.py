"""Weight-only quantized linear layers and RMSNorm, as torch ops (namespace ``ncclkit``).

The kernels are ncclkit._kernels, which links the CUDA runtime and not libtorch; this module
registers them with torch.library, each with a fake implementation, so they run in eager mode,
under torch.compile(fullgraph=True) and in CUDA graphs, on torch's current stream. Importing it
imports torch; ``import ncclkit`` does not, and loads this module on first use of ``ncclkit.ops``.

Activations are float16, or bfloat16 where the build has it (NCCLKIT_ENABLE_BF16). Quantized
weights, as quantize_weight() makes them (the layout is src/kernels/weight_layout.h's):

- bits=8: qweight int8 [N, K]; scales [N], one per output channel.
- bits=4: qweight uint8 [N, K // 2] of two's-complement nibbles, each 32-bit word holding 8
  consecutive k in the nibble order 0, 2, 4, 6, 1, 3, 5, 7; scales [N, K // group_size], with
  group_size 64 or 128.

w[n, k] = q[n, k] * scale, and scales have the activations' dtype. Every check runs before a
kernel is launched; a bad argument is a ValueError or TypeError naming it, what was expected and
what it got.
"""

from __future__ import annotations

import functools
from types import ModuleType

import torch
import torch.nn.functional as F
from torch import Tensor

from .build_info import read_record

# Activation rows up to which weight_only_linear runs the GEMV kernel; above, it dequantizes the
# weight and calls F.linear (cuBLAS).
GEMV_MAX_ROWS = 16
GROUP_SIZES = (64, 128)
ALIGNMENT = 16  # bytes: the kernels read 16-byte vectors
_ACTIVATION_DTYPES = {torch.float16: "float16", torch.bfloat16: "bfloat16"}
_FEATURE_OF = {"bfloat16": "NCCLKIT_ENABLE_BF16"}
_INT32_MAX = 2**31 - 1
_NOT_BUILT = "this ncclkit has no ncclkit._kernels: CUDA builds have it, ROCm builds (NCCLKIT_NCCL=rccl) do not"


@functools.cache
def _kernels() -> ModuleType:
    try:
        from . import _kernels
    except ImportError as error:
        raise RuntimeError(f"{_NOT_BUILT} ({error})") from error
    return _kernels


@functools.cache
def _features() -> dict[str, int]:
    """The build's NCCLKIT_ENABLE_* macros, from its record: no need to load the kernels."""
    try:
        return read_record(f"{__package__}._kernels")["features"]
    except ImportError as error:
        raise RuntimeError(f"{_NOT_BUILT} ({error})") from error


def _shape(t: Tensor) -> tuple[int, ...]:
    return tuple(t.shape)


# -- checks: shared by the real implementations and the fake ones ---------------------------------
def _check_dtype(name: str, t: Tensor, *, built: bool = True) -> None:
    """An activation dtype; with `built`, one the build's kernels have."""
    if t.dtype not in _ACTIVATION_DTYPES:
        msg = f"{name} must be float16 or bfloat16, got {t.dtype}"
        raise TypeError(msg)
    dtype = _ACTIVATION_DTYPES[t.dtype]
    feature = _FEATURE_OF.get(dtype)
    if built and feature and not _features().get(feature):
        msg = (
            f"{name} is {dtype}, which this build's kernels lack ({feature}=0: no CUDA arch of the build has it, "
            f"or it was turned off); rebuild ncclkit with NCCLKIT_CUDA_ARCHS including 80 or newer and {feature}=auto"
        )
        raise TypeError(msg)


def _check_same_dtype(name: str, t: Tensor, reference: str, dtype: torch.dtype) -> None:
    if t.dtype != dtype:
        msg = f"{name} must have {reference}'s dtype {dtype}, got {t.dtype}"
        raise TypeError(msg)


def _check_shape(name: str, t: Tensor, expected: tuple[int, ...]) -> None:
    if _shape(t) != expected:
        msg = f"{name} must have shape {expected}, got {_shape(t)}"
        raise ValueError(msg)


def _check_quantization(bits: int, group_size: int | None) -> None:
    if bits not in (4, 8):
        msg = f"bits must be 4 or 8, got {bits!r}"
        raise ValueError(msg)
    if bits == 8 and group_size is not None:
        msg = f"group_size must be None for bits=8 (one scale per output channel), got {group_size!r}"
        raise ValueError(msg)
    if bits == 4 and group_size not in GROUP_SIZES:
        msg = f"group_size must be 64 or 128 for bits=4, got {group_size!r}"
        raise ValueError(msg)


def _check_weight(qweight: Tensor, scales: Tensor, bits: int, group_size: int | None) -> tuple[int, int]:
    """(N, K) of a quantized weight, after checking it against the layout."""
    _check_quantization(bits, group_size)
    storage = torch.int8 if bits == 8 else torch.uint8
    if qweight.dtype != storage:
        msg = f"qweight must be {storage} for bits={bits}, got {qweight.dtype}"
        raise TypeError(msg)
    if qweight.dim() != 2 or 0 in qweight.shape:
        columns = "K" if bits == 8 else "K // 2"
        msg = f"qweight must be a non-empty 2-D tensor [N, {columns}], got shape {_shape(qweight)}"
        raise ValueError(msg)
    n, k = qweight.shape[0], qweight.shape[1] * (8 // bits)
    _check_k("qweight", k, bits, group_size)
    if n * k // (8 // bits) > _INT32_MAX:
        msg = f"qweight must have fewer than 2**31 bytes, got shape {_shape(qweight)}"
        raise ValueError(msg)
    if k > _INT32_MAX:  # the kernels' K is a C int
        msg = f"qweight's K must be below 2**31, got K={k} (shape {_shape(qweight)})"
        raise ValueError(msg)
    _check_dtype("scales", scales)
    _check_shape("scales", scales, (n,) if bits == 8 else (n, k // group_size))
    return n, k


def _check_eps(eps: float) -> None:
    if type(eps) is bool or not isinstance(eps, (int, float)) or not eps >= 0:
        msg = f"eps must be a non-negative number, got {eps!r}"
        raise ValueError(msg)


def _check_tensors(**tensors: Tensor | None) -> None:
    """Before torch's dispatcher sees them: its own complaint names no argument of ours."""
    for name, t in tensors.items():
        if t is not None and not isinstance(t, Tensor):
            msg = f"{name} must be a torch.Tensor, got {type(t).__name__}"
            raise TypeError(msg)


def _check_k(name: str, k: int, bits: int, group_size: int | None) -> None:
    multiple = 16 if bits == 8 else group_size
    if k % multiple:
        unit = "16-byte rows" if bits == 8 else f"whole groups of {group_size}"
        msg = f"{name}'s K must be a multiple of {multiple} for bits={bits} ({unit}), got K={k}"
        raise ValueError(msg)


def _check_device(first: str, **tensors: Tensor | None) -> None:
    """Every tensor a contiguous CUDA tensor on the device of tensors[first]."""
    device = tensors[first].device
    for name, t in tensors.items():
        if t is None:
            continue
        if t.device.type != "cuda":
            msg = f"{name} must be a CUDA tensor, got one on {t.device}"
            raise ValueError(msg)
        if t.device != device:
            msg = f"{name} must be on {first}'s device {device}, got {t.device}"
            raise ValueError(msg)
        if not t.is_contiguous():
            msg = f"{name} must be contiguous, got strides {t.stride()} for shape {_shape(t)}; pass {name}.contiguous()"
            raise ValueError(msg)


def _check_aligned(**tensors: Tensor) -> None:
    for name, t in tensors.items():
        if t.data_ptr() % ALIGNMENT:
            msg = f"{name} must start {ALIGNMENT}-byte aligned, got address {t.data_ptr():#x}; pass {name}.clone()"
            raise ValueError(msg)


def _check_apart(written: str, tensor: Tensor, **read: Tensor) -> None:
    """`tensor` is written in place while the others are read (through the read-only cache): no
    byte of it may be one of theirs. Each is contiguous, so it spans numel() elements."""
    start = tensor.data_ptr()
    end = start + tensor.numel() * tensor.element_size()
    for name, other in read.items():
        other_start = other.data_ptr()
        other_end = other_start + other.numel() * other.element_size()
        if tensor.numel() and other.numel() and start < other_end and other_start < end:
            msg = f"{written} must not overlap {name}: it is written in place while {name} is read"
            raise ValueError(msg)


def _check_linear(
    x: Tensor, qweight: Tensor, scales: Tensor, bits: int, group_size: int | None, bias: Tensor | None
) -> tuple[int, int, int]:
    """(M, N, K) of weight_only_linear."""
    n, k = _check_weight(qweight, scales, bits, group_size)
    _check_dtype("x", x)
    if x.dim() < 1 or x.shape[-1] != k:
        msg = f"x must have K={k} features in its last dimension (qweight's), got shape {_shape(x)}"
        raise ValueError(msg)
    _check_same_dtype("scales", scales, "x", x.dtype)
    if bias is not None:
        _check_same_dtype("bias", bias, "x", x.dtype)
        _check_shape("bias", bias, (n,))
    if x.numel() // k > _INT32_MAX:
        msg = f"x must have fewer than 2**31 rows of K={k}, got shape {_shape(x)}"
        raise ValueError(msg)
    _check_device("x", x=x, qweight=qweight, scales=scales, bias=bias)
    return x.numel() // k, n, k


def _check_norm(x: Tensor, weight: Tensor, eps: float, residual: Tensor | None = None) -> tuple[int, int]:
    """(rows, hidden) of a norm over x's last dimension."""
    _check_dtype("x", x)
    if x.dim() < 1 or x.shape[-1] == 0 or x.shape[-1] % 8:
        msg = f"x's last dimension (hidden) must be a positive multiple of 8 (16-byte vectors), got shape {_shape(x)}"
        raise ValueError(msg)
    hidden = x.shape[-1]
    if hidden > _INT32_MAX:  # the kernels' hidden size is a C int
        msg = f"x's last dimension (hidden) must be below 2**31, got shape {_shape(x)}"
        raise ValueError(msg)
    _check_same_dtype("weight", weight, "x", x.dtype)
    _check_shape("weight", weight, (hidden,))
    _check_eps(eps)
    if x.numel() // hidden > _INT32_MAX:
        msg = f"x must have fewer than 2**31 rows, got shape {_shape(x)}"
        raise ValueError(msg)
    if residual is not None:
        _check_same_dtype("residual", residual, "x", x.dtype)
        _check_shape("residual", residual, _shape(x))
    _check_device("x", x=x, weight=weight, residual=residual)
    return x.numel() // hidden, hidden


# -- launches ---------------------------------------------------------------------------------------
def _launch_args(x: Tensor) -> dict[str, int]:
    kernels = _kernels()
    return {
        "dtype": kernels.DTYPES[_ACTIVATION_DTYPES[x.dtype]],
        "device": x.device.index,
        "stream": torch.cuda.current_stream(x.device).cuda_stream,
    }


@torch.library.custom_op("ncclkit::dequantize_weight", mutates_args=())
def _dequantize_weight(qweight: Tensor, scales: Tensor, bits: int, group_size: int | None) -> Tensor:
    n, k = _check_weight(qweight, scales, bits, group_size)
    _check_device("qweight", qweight=qweight, scales=scales)
    _check_aligned(qweight=qweight)
    out = torch.empty((n, k), dtype=scales.dtype, device=scales.device)
    _kernels().dequantize_weight(
        qweight.data_ptr(), scales.data_ptr(), out.data_ptr(), n, k, bits, group_size or 0, **_launch_args(scales)
    )
    return out


@_dequantize_weight.register_fake
def _(qweight: Tensor, scales: Tensor, bits: int, group_size: int | None) -> Tensor:
    n, k = _check_weight(qweight, scales, bits, group_size)
    _check_device("qweight", qweight=qweight, scales=scales)
    return scales.new_empty((n, k))


@torch.library.custom_op("ncclkit::weight_only_linear", mutates_args=())
def _weight_only_linear(
    x: Tensor,
    qweight: Tensor,
    scales: Tensor,
    bits: int,
    group_size: int | None,
    bias: Tensor | None,
    static_weights: bool,
) -> Tensor:
    m, n, k = _check_linear(x, qweight, scales, bits, group_size, bias)
    _check_aligned(x=x, qweight=qweight)
    if m > GEMV_MAX_ROWS:
        # Enough rows for the matrix units: one dequantization, then cuBLAS in the activation dtype.
        return F.linear(x, _dequantize_weight(qweight, scales, bits, group_size), bias)
    out = torch.empty((*x.shape[:-1], n), dtype=x.dtype, device=x.device)
    if m:
        _kernels().weight_only_gemv(
            x.data_ptr(),
            qweight.data_ptr(),
            scales.data_ptr(),
            0 if bias is None else bias.data_ptr(),
            out.data_ptr(),
            m,
            n,
            k,
            bits,
            group_size or 0,
            static_weights,
            **_launch_args(x),
        )
    return out


@_weight_only_linear.register_fake
def _(
    x: Tensor,
    qweight: Tensor,
    scales: Tensor,
    bits: int,
    group_size: int | None,
    bias: Tensor | None,
    static_weights: bool,
) -> Tensor:
    _, n, _ = _check_linear(x, qweight, scales, bits, group_size, bias)
    return x.new_empty((*x.shape[:-1], n))


@torch.library.custom_op("ncclkit::rms_norm", mutates_args=())
def _rms_norm(x: Tensor, weight: Tensor, eps: float) -> Tensor:
    rows, hidden = _check_norm(x, weight, eps)
    _check_aligned(x=x, weight=weight)
    out = torch.empty_like(x)
    if rows:
        _kernels().rms_norm(x.data_ptr(), 0, weight.data_ptr(), out.data_ptr(), rows, hidden, eps, **_launch_args(x))
    return out


@_rms_norm.register_fake
def _(x: Tensor, weight: Tensor, eps: float) -> Tensor:
    _check_norm(x, weight, eps)
    return torch.empty_like(x)


@torch.library.custom_op("ncclkit::fused_add_rms_norm", mutates_args=("residual",))
def _fused_add_rms_norm(x: Tensor, residual: Tensor, weight: Tensor, eps: float) -> Tensor:
    rows, hidden = _check_norm(x, weight, eps, residual)
    _check_aligned(x=x, residual=residual, weight=weight)
    _check_apart("residual", residual, x=x, weight=weight)
    out = torch.empty_like(x)
    if rows:
        _kernels().rms_norm(
            x.data_ptr(), residual.data_ptr(), weight.data_ptr(), out.data_ptr(), rows, hidden, eps, **_launch_args(x)
        )
    return out


@_fused_add_rms_norm.register_fake
def _(x: Tensor, residual: Tensor, weight: Tensor, eps: float) -> Tensor:
    _check_norm(x, weight, eps, residual)
    return torch.empty_like(x)


# -- the API --------------------------------------------------------------------------------------
def weight_only_linear(
    x: Tensor,
    qweight: Tensor,
    scales: Tensor,
    *,
    bits: int,
    group_size: int | None = None,
    bias: Tensor | None = None,
    static_weights: bool = False,
) -> Tensor:
    """x @ w.T (+ bias) with w stored quantized (quantize_weight()); x is [..., K], the result [..., N].
    Up to GEMV_MAX_ROWS rows of x run the GEMV kernel, more dequantize w and call F.linear.

    static_weights=True promises that the kernel queued just before this call on the stream does not
    write qweight or scales, as with a model's weights, written once when it loads. Where the GEMV
    launches programmatically (sm_90 and newer), for one or two rows of x it then starts reading them
    before that kernel ends, which shortens one-row calls (bench/EXPERIMENTS.md, "Static weights").
    Right after writing them (quantize_weight(), copy_()), leave it False: the GEMV could read them
    half written."""
    _check_tensors(x=x, qweight=qweight, scales=scales, bias=bias)
    _check_quantization(bits, group_size)
    if not isinstance(static_weights, bool):
        msg = f"static_weights must be True or False, not {static_weights!r}"
        raise TypeError(msg)
    return torch.ops.ncclkit.weight_only_linear(x, qweight, scales, bits, group_size, bias, static_weights)


def dequantize_weight(qweight: Tensor, scales: Tensor, *, bits: int, group_size: int | None = None) -> Tensor:
    """The weight [N, K] in the scales' dtype: q * scale, each rounded once."""
    _check_tensors(qweight=qweight, scales=scales)
    _check_quantization(bits, group_size)
    return torch.ops.ncclkit.dequantize_weight(qweight, scales, bits, group_size)


def rms_norm(x: Tensor, weight: Tensor, eps: float) -> Tensor:
    """x / sqrt(mean(x**2) + eps) * weight over x's last dimension, computed in float32."""
    _check_tensors(x=x, weight=weight)
    _check_eps(eps)
    return torch.ops.ncclkit.rms_norm(x, weight, eps)


def fused_add_rms_norm(x: Tensor, residual: Tensor, weight: Tensor, eps: float) -> Tensor:
    """residual += x (in place, rounded to its dtype), then rms_norm(residual, weight, eps)."""
    _check_tensors(x=x, residual=residual, weight=weight)
    _check_eps(eps)
    return torch.ops.ncclkit.fused_add_rms_norm(x, residual, weight, eps)


def quantize_weight(w: Tensor, bits: int, group_size: int | None = None) -> tuple[Tensor, Tensor]:
    """(qweight, scales) of a float16 or bfloat16 weight [N, K], symmetric, in the layout above.

    Plain torch on any device: scale = max|w| / 127 (bits=8, per output channel) or / 7 (bits=4,
    per group), rounded to w's dtype; q = round(w / scale) in float32, clamped to the int range.
    """
    _check_quantization(bits, group_size)
    _check_dtype("w", w, built=False)
    if w.dim() != 2 or 0 in w.shape:
        msg = f"w must be a non-empty 2-D tensor [N, K], got shape {_shape(w)}"
        raise ValueError(msg)
    n, k = w.shape
    _check_k("w", k, bits, group_size)
    levels, low, high = (127, -128, 127) if bits == 8 else (7, -8, 7)
    groups = w.float().reshape(n, -1, k if bits == 8 else group_size)
    scales = (groups.abs().amax(-1) / levels).to(w.dtype)
    scales = torch.where(scales == 0, torch.ones_like(scales), scales)  # an all-zero group, or one that underflows
    q = torch.round(groups / scales.float().unsqueeze(-1)).clamp_(low, high).to(torch.int8).reshape(n, k)
    if bits == 8:
        return q, scales.reshape(n)
    nibbles = (q & 0xF).to(torch.uint8).reshape(n, k // 8, 8)
    # Bytes 0..3 of a word: nibbles (0, 1), (2, 3), ... hold k (0, 2), (4, 6), (1, 3), (5, 7).
    packed = nibbles[..., [0, 4, 1, 5]] | (nibbles[..., [2, 6, 3, 7]] << 4)
    return packed.reshape(n, k // 2), scales
