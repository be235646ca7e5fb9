"""ncclkit.ops on the GPU, against float64 references computed by torch on fresh random inputs,
into outputs poisoned first (NaN): the quantized linear for every row count of the GEMV (1 to 16) and
one past it, at shapes that are no multiple of the kernels' tiles; the norms; and the same ops
under torch.compile(fullgraph=True) and replayed from a CUDA graph.

Tolerances, as ||out - ref|| / ||ref|| with every element finite:
- weight_only_linear: float16 2e-3, bfloat16 1e-2 (products and 8-term sums of int4 weights in
  the activation dtype, then float32; int8 in float32);
- the norms: float16 1e-3, bfloat16 8e-3 (float32 arithmetic, one rounding to the dtype);
- dequantize_weight and the residual sum: exact (one rounding of an exact value).
"""

from __future__ import annotations

import functools

import pytest

torch = pytest.importorskip("torch")

_kernels = pytest.importorskip("ncclkit._kernels", reason="this ncclkit has no ncclkit._kernels (a ROCm build)")

from ncclkit import ops  # noqa: E402
from weight_layout import dequantized  # noqa: E402

pytestmark = pytest.mark.gpu

DTYPES = [torch.float16] + ([torch.bfloat16] if "bfloat16" in _kernels.DTYPES else [])
LINEAR_TOLERANCE = {torch.float16: 2e-3, torch.bfloat16: 1e-2}
NORM_TOLERANCE = {torch.float16: 1e-3, torch.bfloat16: 8e-3}
# (bits, group_size, K): K = 4176 is 261 chunks of 16 int8 weights, which the tensor-core GEMV's
# groups of 4 chunks leave one over; 4160 is 65 groups of 64, no multiple of 128; 4224 is 33 groups
# of 128.
QUANTIZATIONS = [(8, None, 4176), (4, 64, 4160), (4, 128, 4224)]
N = 11008
ROWS = [*range(1, ops.GEMV_MAX_ROWS + 1), 33]


def poison_next(shape: tuple[int, ...], dtype: torch.dtype) -> int:
    """Leaves NaN in the memory that torch's caching allocator gives the next tensor of this shape
    (with nothing else cached, it is the block just freed), and returns its address: the op's
    output must be there, and an element the kernel leaves unwritten fails the comparison."""
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    poison = torch.empty(shape, dtype=dtype, device="cuda")
    poison.view(torch.uint8).fill_(0xFF)
    return poison.data_ptr()


def assert_close(out: torch.Tensor, ref: torch.Tensor, tolerance: float) -> None:
    assert torch.isfinite(out).all(), "unwritten (NaN) or overflowed elements"
    error = (out.to(torch.float64) - ref).norm() / ref.norm()
    assert error <= tolerance, f"relative error {error:.2e} > {tolerance:.0e}"


@functools.cache
def quantized(dtype: torch.dtype, bits: int, group_size: int | None, k: int) -> tuple[torch.Tensor, ...]:
    """A random weight's (qweight, scales) and its exact float64 values; one per module run."""
    qweight, scales = ops.quantize_weight(torch.randn(N, k, dtype=dtype, device="cuda") / k**0.5, bits, group_size)
    return qweight, scales, dequantized(qweight, scales, bits, group_size)


@pytest.mark.parametrize("bias", [False, True], ids=["", "bias"])
@pytest.mark.parametrize("m", ROWS)
@pytest.mark.parametrize(("bits", "group_size", "k"), QUANTIZATIONS, ids=["int8", "int4-g64", "int4-g128"])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_weight_only_linear(dtype: torch.dtype, bits: int, group_size: int | None, k: int, m: int, bias: bool) -> None:
    qweight, scales, w = quantized(dtype, bits, group_size, k)
    x = torch.randn(m, k, dtype=dtype, device="cuda")
    b = torch.randn(N, dtype=dtype, device="cuda") if bias else None
    address = poison_next((m, N), dtype)
    out = ops.weight_only_linear(x, qweight, scales, bits=bits, group_size=group_size, bias=b)
    assert out.data_ptr() == address
    ref = x.to(torch.float64) @ w.T + (0 if b is None else b.to(torch.float64))
    assert (out.shape, out.dtype) == ((m, N), dtype)
    assert_close(out, ref, LINEAR_TOLERANCE[dtype])


@pytest.mark.parametrize("m", [1, 2, 3])
@pytest.mark.parametrize("group_size", [64, 128])
def test_int4_float16_with_large_activations(group_size: int, m: int) -> None:
    """Activations of 20k and the largest int4 weight: eight of their products sum past float16's
    range, though the result (about 8k) is well within it."""
    k = 4224 if group_size == 128 else 4160
    qweight, scales = ops.quantize_weight(torch.full((N, k), 1e-4, dtype=torch.float16, device="cuda"), 4, group_size)
    w = dequantized(qweight, scales, 4, group_size)
    x = (
        torch.full((m, k), 20000.0, dtype=torch.float16, device="cuda")
        * (1 + torch.rand(m, k, device="cuda") / 8).half()
    )
    out = ops.weight_only_linear(x, qweight, scales, bits=4, group_size=group_size)
    assert_close(out, x.to(torch.float64) @ w.T, LINEAR_TOLERANCE[torch.float16])


@pytest.mark.parametrize("m", [1, 2, 3, 16])  # CUDA cores (read them early) at 1 and 2, tensor cores from 3
@pytest.mark.parametrize(("bits", "group_size", "k"), QUANTIZATIONS, ids=["int8", "int4-g64", "int4-g128"])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_static_weights_give_the_default_result(
    dtype: torch.dtype, bits: int, group_size: int | None, k: int, m: int
) -> None:
    """static_weights=True reads the same weights earlier: the result is the default's, bit for bit."""
    qweight, scales, w = quantized(dtype, bits, group_size, k)
    x = torch.randn(m, k, dtype=dtype, device="cuda")
    expected = ops.weight_only_linear(x, qweight, scales, bits=bits, group_size=group_size)
    address = poison_next((m, N), dtype)
    out = ops.weight_only_linear(x, qweight, scales, bits=bits, group_size=group_size, static_weights=True)
    assert out.data_ptr() == address
    assert_close(out, x.to(torch.float64) @ w.T, LINEAR_TOLERANCE[dtype])
    assert torch.equal(out, expected)


# 1 and 2 rows run on CUDA cores, 3 and more on tensor cores, where 9 leaves rows 9-15 of the mma empty.
@pytest.mark.parametrize("m", [1, 2, 3, 4, 8, 9, 16])
@pytest.mark.parametrize("channels", [N - 7, 5], ids=str)
@pytest.mark.parametrize(("bits", "group_size", "k"), QUANTIZATIONS, ids=["int8", "int4-g64", "int4-g128"])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_last_tile_partly_filled(
    dtype: torch.dtype, bits: int, group_size: int | None, k: int, channels: int, m: int
) -> None:
    """11001 output channels, which no block of the GEMV (2 to 32 channels) divides, and 5, fewer
    than a tensor-core block holds (those of under 8192 channels take the int4 shape of 16)."""
    qweight, scales, w = (t[:channels] for t in quantized(dtype, bits, group_size, k))
    x = torch.randn(m, k, dtype=dtype, device="cuda")
    address = poison_next((m, channels), dtype)
    out = ops.weight_only_linear(x, qweight, scales, bits=bits, group_size=group_size)
    assert out.data_ptr() == address
    assert_close(out, x.to(torch.float64) @ w.T, LINEAR_TOLERANCE[dtype])


@pytest.mark.parametrize(("bits", "group_size", "k"), QUANTIZATIONS, ids=["int8", "int4-g64", "int4-g128"])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_batch_dimensions(dtype: torch.dtype, bits: int, group_size: int | None, k: int) -> None:
    qweight, scales, w = quantized(dtype, bits, group_size, k)
    x = torch.randn(2, 3, k, dtype=dtype, device="cuda")
    out = ops.weight_only_linear(x, qweight, scales, bits=bits, group_size=group_size)
    assert out.shape == (2, 3, N)
    assert_close(out, x.to(torch.float64) @ w.T, LINEAR_TOLERANCE[dtype])


@pytest.mark.parametrize(("bits", "group_size", "k"), QUANTIZATIONS, ids=["int8", "int4-g64", "int4-g128"])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_dequantize_weight(dtype: torch.dtype, bits: int, group_size: int | None, k: int) -> None:
    qweight, scales, w = quantized(dtype, bits, group_size, k)
    address = poison_next(w.shape, dtype)
    out = ops.dequantize_weight(qweight, scales, bits=bits, group_size=group_size)
    assert out.data_ptr() == address
    assert torch.equal(out, w.to(dtype))


# A thread holds 1 of a row's 16-byte vectors below 1024 rows, 4 from 1024 rows (rms_norm.cu), in
# a block of at most 1024 threads: 11008 (1376 vectors) leaves some to read again below 1024
# rows, 32776 (4097) at 1024 rows too.
HIDDEN = [8, 4096, 4160, 11008, 32776]


@pytest.mark.parametrize("rows", [1, 7, 33, 1024])
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_rms_norm(dtype: torch.dtype, hidden: int, rows: int) -> None:
    x = torch.randn(rows, hidden, dtype=dtype, device="cuda") * 3 + 0.5
    weight = torch.randn(hidden, dtype=dtype, device="cuda")
    address = poison_next(x.shape, dtype)
    out = ops.rms_norm(x, weight, 1e-5)
    assert out.data_ptr() == address
    x64 = x.to(torch.float64)
    ref = x64 * torch.rsqrt(x64.square().mean(-1, keepdim=True) + 1e-5) * weight.to(torch.float64)
    assert_close(out, ref, NORM_TOLERANCE[dtype])


@pytest.mark.parametrize("rows", [1, 7, 33, 1024])
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_fused_add_rms_norm(dtype: torch.dtype, hidden: int, rows: int) -> None:
    x = torch.randn(rows, hidden, dtype=dtype, device="cuda")
    residual = torch.randn(rows, hidden, dtype=dtype, device="cuda") * 4
    weight = torch.randn(hidden, dtype=dtype, device="cuda")
    expected_residual = (x.float() + residual.float()).to(dtype)
    address = poison_next(x.shape, dtype)
    out = ops.fused_add_rms_norm(x, residual, weight, 1e-6)
    assert out.data_ptr() == address
    assert torch.equal(residual, expected_residual)
    r64 = expected_residual.to(torch.float64)
    ref = r64 * torch.rsqrt(r64.square().mean(-1, keepdim=True) + 1e-6) * weight.to(torch.float64)
    assert_close(out, ref, NORM_TOLERANCE[dtype])


def decoder_step(x: torch.Tensor, residual: torch.Tensor, *weights: torch.Tensor) -> torch.Tensor:
    """Residual-add and norm, a quantized projection, a norm: as a decoder layer strings them (its
    weights written once, before)."""
    norm, qweight, scales, out_norm = weights
    h = ops.fused_add_rms_norm(x, residual, norm, 1e-6)
    h = ops.weight_only_linear(h, qweight, scales, bits=4, group_size=128, static_weights=True)
    return ops.rms_norm(h, out_norm, 1e-6)


def decoder_inputs(dtype: torch.dtype, m: int) -> tuple[torch.Tensor, ...]:
    qweight, scales, _ = quantized(dtype, 4, 128, 4224)
    x = torch.randn(m, 4224, dtype=dtype, device="cuda")
    norm, out_norm = torch.randn(4224, dtype=dtype, device="cuda"), torch.randn(N, dtype=dtype, device="cuda")
    return x, torch.randn_like(x), norm, qweight, scales, out_norm


@pytest.mark.parametrize("m", [4, 33])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_torch_compile_fullgraph(dtype: torch.dtype, m: int) -> None:
    x, residual, *weights = decoder_inputs(dtype, m)
    eager_residual = residual.clone()
    expected = decoder_step(x, eager_residual, *weights)
    out = torch.compile(decoder_step, fullgraph=True)(x, residual, *weights)
    assert torch.equal(residual, eager_residual)
    assert torch.equal(out, expected)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_cuda_graph_replay(dtype: torch.dtype) -> None:
    x, residual, *weights = decoder_inputs(dtype, 8)
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):  # warm-up off the default stream, as capture needs
        decoder_step(x, residual.clone(), *weights)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = decoder_step(x, residual, *weights)
    for _ in range(2):  # fresh inputs into the captured buffers, then replay
        x.copy_(torch.randn_like(x))
        residual.copy_(torch.randn_like(residual))
        eager_residual = residual.clone()
        expected = decoder_step(x, eager_residual, *weights)
        graph.replay()
        torch.cuda.synchronize()
        assert torch.equal(residual, eager_residual)
        assert torch.equal(out, expected)


def test_misaligned_input_is_refused() -> None:
    qweight, scales, _ = quantized(torch.float16, 8, None, 4160)
    x = torch.randn(4160 + 8, dtype=torch.float16, device="cuda")[1:4161].view(1, 4160)  # 2 bytes in
    with pytest.raises(ValueError, match=r"^x must start 16-byte aligned, got address 0x[0-9a-f]+; pass x.clone\(\)$"):
        ops.weight_only_linear(x, qweight, scales, bits=8)


def test_other_stream_and_device_of_the_inputs() -> None:
    """The kernels run on torch's current stream, on the inputs' device whatever the current one is."""
    x = torch.randn(16, 4096, dtype=torch.float16, device="cuda")
    weight = torch.randn(4096, dtype=torch.float16, device="cuda")
    expected = ops.rms_norm(x, weight, 1e-6)
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        out = ops.rms_norm(x, weight, 1e-6)
    stream.synchronize()
    assert torch.equal(out, expected)
