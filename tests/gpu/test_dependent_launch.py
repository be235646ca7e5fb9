"""Programmatic dependent launch: on sm_90 and newer the GEMV and the norms may start while the
kernel before them ends. Whether they do follows the build, the GPU and NCCLKIT_PDL; and a chain of
them, enqueued back to back, gives bit for bit what the same chain gives with the GPU idle
between every two kernels (a kernel that read its input before the one writing it had finished
would not), with the GEMV's static weights read before the wait too."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

_kernels = pytest.importorskip("ncclkit._kernels", reason="this ncclkit has no ncclkit._kernels (a ROCm build)")

from ncclkit import ops  # noqa: E402
from ncclkit.build_info import read_record  # noqa: E402

pytestmark = pytest.mark.gpu

HIDDEN = 4096
LAYERS = 16


def programmatic_launch_with(value: str) -> subprocess.CompletedProcess[str]:
    code = "import ncclkit._kernels as k; print(k.programmatic_launch(0))"
    env = {**os.environ, "NCCLKIT_PDL": value}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def test_follows_the_build_and_the_gpu() -> None:
    major, minor = torch.cuda.get_device_capability(0)
    if f"{major}{minor}" not in [arch.rstrip("af") for arch in read_record("ncclkit._kernels")["cuda"]["archs_sass"]]:
        pytest.skip("the build has no SASS for this GPU: which code it runs is the driver's choice")
    built = bool(_kernels.features["NCCLKIT_ENABLE_PDL"])
    assert _kernels.programmatic_launch(0) == (built and major >= 9 and os.environ.get("NCCLKIT_PDL", "1") != "0")


def test_environment_turns_it_off() -> None:
    run = programmatic_launch_with("0")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False"


def test_environment_value_other_than_0_or_1_is_refused() -> None:
    if not _kernels.features["NCCLKIT_ENABLE_PDL"]:
        pytest.skip("this build has no programmatic launch (NCCLKIT_ENABLE_PDL=0): NCCLKIT_PDL is not read")
    run = programmatic_launch_with("yes")
    assert run.returncode != 0
    assert "NCCLKIT_PDL must be 0 (off) or 1 (on, the default), got 'yes'" in run.stderr


def poison_free_memory(nbytes: int) -> None:
    """Leaves NaN in memory torch's caching allocator keeps for the tensors made next."""
    torch.cuda.synchronize()
    poison = torch.empty(nbytes, dtype=torch.uint8, device="cuda")
    poison.fill_(0xFF)
    del poison


def chain(
    x: torch.Tensor,
    residual: torch.Tensor,
    weights: list[tuple[torch.Tensor, ...]],
    bits: int,
    *,
    static_weights: bool,
    idle_between: bool,
) -> torch.Tensor:
    """LAYERS decoder-like layers (residual-add + norm, quantized projection), then a norm."""
    settle = torch.cuda.synchronize if idle_between else (lambda: None)
    group_size = 64 if bits == 4 else None
    for norm, qweight, scales in weights:
        h = ops.fused_add_rms_norm(x, residual, norm, 1e-6)
        settle()
        x = ops.weight_only_linear(h, qweight, scales, bits=bits, group_size=group_size, static_weights=static_weights)
        settle()
    return ops.rms_norm(x, weights[0][0], 1e-6)


@pytest.mark.parametrize("static_weights", [False, True], ids=["", "static"])
@pytest.mark.parametrize("m", [1, 2, 3, 16])  # CUDA cores at 1 and 2 rows (two instances), tensor cores above
@pytest.mark.parametrize("bits", [8, 4])
def test_back_to_back_chain_equals_one_kernel_at_a_time(bits: int, m: int, static_weights: bool) -> None:
    if not _kernels.programmatic_launch(0):
        pytest.skip("the kernels do not launch programmatically here (build, GPU or NCCLKIT_PDL)")
    dtype = torch.float16
    weights = []
    for _ in range(LAYERS):
        w = torch.randn(HIDDEN, HIDDEN, dtype=dtype, device="cuda") / HIDDEN**0.5
        qweight, scales = ops.quantize_weight(w, bits, 64 if bits == 4 else None)
        weights.append((torch.rand(HIDDEN, dtype=dtype, device="cuda") + 0.5, qweight, scales))
    x = torch.randn(m, HIDDEN, dtype=dtype, device="cuda")
    residual = torch.randn_like(x)

    results = []
    for idle_between in (True, False):
        poison_free_memory(64 * m * HIDDEN * 2)
        r = residual.clone()
        out = chain(x, r, weights, bits, static_weights=static_weights, idle_between=idle_between)
        torch.cuda.synchronize()
        assert torch.isfinite(out).all()
        results.append((out, r))
    (expected, expected_residual), (out, r) = results
    assert torch.equal(r, expected_residual)
    assert torch.equal(out, expected)
