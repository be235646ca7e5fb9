"""ncclkit.ops without a GPU: every bad argument is a ValueError or TypeError naming it, raised
before a kernel is launched; the fake implementations give torch.compile the right shapes; the
quantizer writes the documented layout; the build records its kernel features."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
if importlib.util.find_spec("ncclkit._kernels") is None:
    pytest.skip("this ncclkit has no ncclkit._kernels (a ROCm build)", allow_module_level=True)

from ncclkit import ops  # noqa: E402
from ncclkit.build_info import read_record  # noqa: E402
from torch._subclasses.fake_tensor import FakeTensorMode  # noqa: E402
from weight_layout import dequantized, integers  # noqa: E402

F16 = torch.float16
N, K = 96, 256


@pytest.fixture(autouse=True)
def no_launch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any use of the compiled kernels fails the test: the checks must come first."""

    def launched() -> None:
        pytest.fail("a kernel was about to be launched")

    monkeypatch.setattr(ops, "_kernels", launched)


def weight(bits: int, group_size: int | None = None, n: int = N, k: int = K) -> tuple[torch.Tensor, torch.Tensor]:
    return ops.quantize_weight(torch.randn(n, k, dtype=F16), bits, group_size)


def test_importing_ncclkit_does_not_import_torch() -> None:
    code = (
        "import sys, ncclkit; assert 'torch' not in sys.modules, 'import ncclkit imported torch'; "
        "ncclkit.ops.rms_norm; assert 'torch' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def linear_case(**change: object) -> dict[str, object]:
    q, s = weight(4, 64)
    return {"x": torch.randn(3, K, dtype=F16), "qweight": q, "scales": s, "bits": 4, "group_size": 64, **change}


LINEAR_ERRORS = [
    ({"bits": 3}, ValueError, r"^bits must be 4 or 8, got 3$"),
    ({"group_size": 32}, ValueError, r"^group_size must be 64 or 128 for bits=4, got 32$"),
    ({"group_size": None}, ValueError, r"^group_size must be 64 or 128 for bits=4, got None$"),
    ({"bits": 8}, ValueError, r"^group_size must be None for bits=8 \(one scale per output channel\), got 64$"),
    (
        {"qweight": torch.zeros(N, K // 2, dtype=torch.int8)},
        TypeError,
        r"^qweight must be torch.uint8 for bits=4, got torch.int8$",
    ),
    (
        {"qweight": torch.zeros(N * K // 2, dtype=torch.uint8)},
        ValueError,
        r"^qweight must be a non-empty 2-D tensor \[N, K // 2\], got shape \(12288,\)$",
    ),
    (
        {"qweight": torch.zeros(N, 40, dtype=torch.uint8)},
        ValueError,
        r"^qweight's K must be a multiple of 64 for bits=4 \(whole groups of 64\), got K=80$",
    ),
    (
        {"scales": torch.ones(N, 4, dtype=torch.float32)},
        TypeError,
        r"^scales must be float16 or bfloat16, got torch.float32$",
    ),
    ({"scales": torch.ones(N, 2, dtype=F16)}, ValueError, r"^scales must have shape \(96, 4\), got \(96, 2\)$"),
    ({"x": torch.randn(3, K, dtype=torch.float32)}, TypeError, r"^x must be float16 or bfloat16, got torch.float32$"),
    ({"x": torch.randn(3, K + 64, dtype=F16)}, ValueError, r"^x must have K=256 features in its last dimension"),
    (
        {"x": torch.randn(3, K, dtype=torch.bfloat16)},
        TypeError,
        r"^scales must have x's dtype torch.bfloat16, got torch.float16$",
    ),
    ({"bias": torch.ones(N + 1, dtype=F16)}, ValueError, r"^bias must have shape \(96,\), got \(97,\)$"),
    (
        {"bias": torch.ones(N, dtype=torch.bfloat16)},
        TypeError,
        r"^bias must have x's dtype torch.float16, got torch.bfloat16$",
    ),
    ({}, ValueError, r"^x must be a CUDA tensor, got one on cpu$"),
    ({"static_weights": 1}, TypeError, r"^static_weights must be True or False, not 1$"),
]


@pytest.mark.parametrize(("change", "error", "message"), LINEAR_ERRORS)
def test_weight_only_linear_arguments(change: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        ops.weight_only_linear(**linear_case(**change))


def test_int8_rows_are_16_byte_vectors() -> None:
    with pytest.raises(
        ValueError, match=r"^qweight's K must be a multiple of 16 for bits=8 \(16-byte rows\), got K=40$"
    ):
        ops.dequantize_weight(torch.zeros(4, 40, dtype=torch.int8), torch.ones(4, dtype=F16), bits=8)


NORM_ERRORS = [
    (
        {"x": torch.randn(2, 12, dtype=F16)},
        ValueError,
        r"^x's last dimension \(hidden\) must be a positive multiple of 8",
    ),
    (
        {"weight": torch.ones(K, dtype=torch.float32)},
        TypeError,
        r"^weight must have x's dtype torch.float16, got torch.float32$",
    ),
    ({"weight": torch.ones(K // 2, dtype=F16)}, ValueError, r"^weight must have shape \(256,\), got \(128,\)$"),
    ({"eps": -1.0}, ValueError, r"^eps must be a non-negative number, got -1.0$"),
    ({}, ValueError, r"^x must be a CUDA tensor, got one on cpu$"),
]


@pytest.mark.parametrize("fused", [False, True], ids=["rms_norm", "fused_add_rms_norm"])
@pytest.mark.parametrize(("change", "error", "message"), NORM_ERRORS)
def test_norm_arguments(fused: bool, change: dict, error: type, message: str) -> None:
    args = {"x": torch.randn(2, K, dtype=F16), "weight": torch.ones(K, dtype=F16), "eps": 1e-6, **change}
    with pytest.raises(error, match=message):
        if fused:
            ops.fused_add_rms_norm(args["x"], torch.randn_like(args["x"]), args["weight"], args["eps"])
        else:
            ops.rms_norm(**args)


def test_residual_arguments() -> None:
    x, w = torch.randn(2, K, dtype=F16), torch.ones(K, dtype=F16)
    with pytest.raises(ValueError, match=r"^residual must have shape \(2, 256\), got \(4, 256\)$"):
        ops.fused_add_rms_norm(x, torch.randn(4, K, dtype=F16), w, 1e-6)
    with pytest.raises(TypeError, match=r"^residual must have x's dtype torch.float16, got torch.bfloat16$"):
        ops.fused_add_rms_norm(x, torch.randn(2, K, dtype=torch.bfloat16), w, 1e-6)


def test_contiguity_and_cpu_tensors_on_a_fake_gpu() -> None:
    with FakeTensorMode():
        w = torch.empty(K, dtype=F16, device="cuda:0")
        with pytest.raises(ValueError, match=r"^x must be contiguous, got strides \(1, 4\) for shape \(4, 256\)"):
            ops.rms_norm(torch.empty(K, 4, dtype=F16, device="cuda:0").t(), w, 1e-6)
        x = torch.empty(4, K, dtype=F16, device="cuda:0")
        qweight, scales = torch.empty(N, K, dtype=torch.int8, device="cuda:0"), torch.empty(N, dtype=F16)
        with pytest.raises(ValueError, match=r"^scales must be a CUDA tensor, got one on cpu$"):
            ops.weight_only_linear(x, qweight, scales, bits=8)


@pytest.mark.skipif(
    torch.cuda.is_available() and torch.cuda.device_count() < 2,
    reason="FakeTensorMode initializes each real GPU it fakes, and this machine has one",
)
def test_two_fake_gpus() -> None:
    with FakeTensorMode():
        x, w = torch.empty(4, K, dtype=F16, device="cuda:0"), torch.empty(K, dtype=F16, device="cuda:1")
        with pytest.raises(ValueError, match=r"^weight must be on x's device cuda:0, got cuda:1$"):
            ops.rms_norm(x, w, 1e-6)


def test_a_dtype_the_build_lacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ops, "_features", lambda: {"NCCLKIT_ENABLE_BF16": 0, "NCCLKIT_ENABLE_FP8": 0})
    x = torch.randn(2, K, dtype=torch.bfloat16)
    with pytest.raises(TypeError, match=r"^x is bfloat16, which this build's kernels lack \(NCCLKIT_ENABLE_BF16=0"):
        ops.rms_norm(x, torch.ones(K, dtype=torch.bfloat16), 1e-6)


@pytest.mark.parametrize("rows", [(1,), (16,), (3, 11), (0,)], ids=str)
@pytest.mark.parametrize(("bits", "group_size"), [(8, None), (4, 64), (4, 128)])
def test_fake_shapes(rows: tuple[int, ...], bits: int, group_size: int | None) -> None:
    with FakeTensorMode():
        x = torch.empty(*rows, K, dtype=torch.bfloat16, device="cuda")
        qweight = torch.empty(N, K * bits // 8, dtype=torch.int8 if bits == 8 else torch.uint8, device="cuda")
        scales = torch.empty((N,) if bits == 8 else (N, K // group_size), dtype=torch.bfloat16, device="cuda")
        out = ops.weight_only_linear(x, qweight, scales, bits=bits, group_size=group_size, bias=scales.new_empty(N))
        assert (out.shape, out.dtype, out.device.type) == ((*rows, N), torch.bfloat16, "cuda")
        static = ops.weight_only_linear(x, qweight, scales, bits=bits, group_size=group_size, static_weights=True)
        assert static.shape == out.shape
        w = ops.dequantize_weight(qweight, scales, bits=bits, group_size=group_size)
        assert (w.shape, w.dtype) == ((N, K), torch.bfloat16)
        norm_weight = torch.empty(K, dtype=torch.bfloat16, device="cuda")
        assert ops.rms_norm(x, norm_weight, 1e-5).shape == x.shape
        assert ops.fused_add_rms_norm(x, torch.empty_like(x), norm_weight, 1e-5).shape == x.shape


@pytest.mark.parametrize(("bits", "group_size"), [(8, None), (4, 64), (4, 128)])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_quantize_round_trip(bits: int, group_size: int | None, dtype: torch.dtype) -> None:
    w = torch.randn(N, 4 * K, dtype=dtype)
    w[3] = 0  # an all-zero channel (and, for int4, group) gets scale 1
    qweight, scales = ops.quantize_weight(w, bits, group_size)
    q = integers(qweight, bits)
    assert q.min() >= -(2 ** (bits - 1)) and q.max() <= 2 ** (bits - 1) - 1
    assert (q.abs().amax(dim=1)[torch.arange(N) != 3] >= 2 ** (bits - 1) - 1).all()  # the range is used
    assert (scales[3] == 1).all()
    scale = scales.to(torch.float64)
    step = scale[:, None] if bits == 8 else scale.repeat_interleave(group_size, dim=1)
    error = (dequantized(qweight, scales, bits, group_size) - w.to(torch.float64)).abs()
    assert (error <= step / 2 * (1 + 1e-3)).all()


def test_int4_nibble_order() -> None:
    w = torch.zeros(1, 64, dtype=F16)
    w[0, :8] = torch.tensor([1, 2, 3, 4, 5, 6, 7, -7])  # max |w| = 7: scale 1, q = w
    qweight, scales = ops.quantize_weight(w, 4, 64)
    assert scales.tolist() == [[1.0]]
    # Nibbles 0..7 of word 0 hold k 0, 2, 4, 6, 1, 3, 5, 7: 1, 3, 5, 7, 2, 4, 6, -7 (0x9); low nibble first.
    assert qweight[0, :4].tolist() == [0x31, 0x75, 0x42, 0x96]
    assert not qweight[0, 4:].any()


def test_build_records_kernel_features() -> None:
    features = read_record("ncclkit._kernels")["features"]
    assert {features["NCCLKIT_ENABLE_BF16"], features["NCCLKIT_ENABLE_FP8"], features["NCCLKIT_ENABLE_PDL"]} <= {0, 1}
    from ncclkit import _kernels

    assert _kernels.features == {k: v for k, v in features.items() if k.startswith("NCCLKIT_ENABLE_")}
    assert ("bfloat16" in _kernels.DTYPES) == bool(features["NCCLKIT_ENABLE_BF16"])
    assert _kernels.GEMV_MAX_ROWS == ops.GEMV_MAX_ROWS


def test_sizes_past_a_c_int() -> None:
    """Sizes the kernels take as C ints are refused by name, not by pybind11's signature (meta
    tensors: shapes without memory)."""
    big = 2**31 + 64
    with pytest.raises(
        ValueError, match=r"^x's last dimension \(hidden\) must be below 2\*\*31, got shape \(1, 2147483712\)$"
    ):
        ops.rms_norm(torch.empty(1, big, dtype=F16, device="meta"), torch.empty(big, dtype=F16, device="meta"), 1e-6)
    qweight = torch.empty(1, big // 2, dtype=torch.uint8, device="meta")
    scales = torch.empty(1, big // 64, dtype=F16, device="meta")
    with pytest.raises(ValueError, match=r"^qweight's K must be below 2\*\*31, got K=2147483712"):
        ops.weight_only_linear(torch.empty(1, big, dtype=F16, device="meta"), qweight, scales, bits=4, group_size=64)
    qweight, scales = torch.empty(16, K, dtype=torch.int8, device="meta"), torch.empty(16, dtype=F16, device="meta")
    x = torch.empty(2**31, K, dtype=F16, device="meta")
    with pytest.raises(
        ValueError, match=r"^x must have fewer than 2\*\*31 rows of K=256, got shape \(2147483648, 256\)$"
    ):
        ops.weight_only_linear(x, qweight, scales, bits=8)
