"""examples/torch_extension on a GPU, against the CUDA torch installed: both builds of its op
(TORCH and STABLE_ABI) run the kernel and NCCL's all_reduce on an ncclkit communicator, compared
exactly with torch, eagerly and under torch.compile."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import ncclkit
import pytest
import torch
from example_projects import installed
from ncclkit.compat import check_extension
from wheel_rules import imported_symbols

pytestmark = pytest.mark.gpu

SIZES = [1, 1000, 65535 * 256 + 1001]  # the last runs the grid-stride loop more than once
STABLE = [False, True]


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    with installed("torch_extension", "ncclkit_torch_example", tmp_path_factory.mktemp("torch_example")) as module:
        yield module


def test_full_checks_pass_on_this_machine(example: ModuleType) -> None:
    check_extension("ncclkit_torch_example._ops", full=True)
    check_extension("ncclkit_torch_example._stable_ops", full=True)


@pytest.mark.parametrize("stable", STABLE)
@pytest.mark.parametrize("count", SIZES)
def test_the_op_matches_torch(example: ModuleType, comm: ncclkit.Communicator, count: int, stable: bool) -> None:
    x = torch.randn(count, device="cuda")
    residual = torch.randn(count, device="cuda")
    out = example.fused_add_all_reduce(x, residual, -1.75, comm, stable=stable)
    torch.cuda.synchronize()
    assert torch.equal(out, x * -1.75 + residual)  # one rank: the sum is the value


@pytest.mark.parametrize("stable", STABLE)
def test_a_strided_input_is_made_contiguous(example: ModuleType, comm: ncclkit.Communicator, stable: bool) -> None:
    x = torch.randn(64, 32, device="cuda").t()
    residual = torch.randn(32, 64, device="cuda")
    out = example.fused_add_all_reduce(x, residual, 0.5, comm, stable=stable)
    assert torch.equal(out, x * 0.5 + residual)


@pytest.mark.parametrize("stable", STABLE)
def test_torch_compile_keeps_the_op_in_one_graph(example: ModuleType, comm: ncclkit.Communicator, stable: bool) -> None:
    ops = torch.ops.ncclkit_torch_example_stable if stable else torch.ops.ncclkit_torch_example
    handle = comm.ptr

    def step(x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return ops.fused_add_all_reduce(x * 2, residual, 0.25, handle) + 1

    compiled = torch.compile(step, fullgraph=True)
    x = torch.randn(4096, device="cuda")
    residual = torch.randn(4096, device="cuda")
    assert torch.equal(compiled(x, residual), step(x, residual))


@pytest.mark.parametrize("stable", STABLE)
def test_bad_operands_are_errors_naming_them(example: ModuleType, comm: ncclkit.Communicator, stable: bool) -> None:
    x = torch.randn(8, device="cuda")
    with pytest.raises(TypeError, match="residual: expected a float32 tensor, got torch.float64"):
        example.fused_add_all_reduce(x, x.double(), 1.0, comm, stable=stable)
    with pytest.raises(ValueError, match=r"residual: expected the shape of x, \(8,\), got \(4,\)"):
        example.fused_add_all_reduce(x, x[:4], 1.0, comm, stable=stable)
    with pytest.raises(ValueError, match="x and residual must be on one CUDA device, got cuda:0 and cpu"):
        example.fused_add_all_reduce(x, x.cpu(), 1.0, comm, stable=stable)


def test_the_torch_op_checks_its_operands_itself(example: ModuleType, comm: ncclkit.Communicator) -> None:
    """Past the wrapper (the stable op's checks are tested on CPU: see the wrapper's docstring)."""
    x = torch.randn(8, device="cuda")
    with pytest.raises(RuntimeError, match="x and residual must be on one CUDA device, got cuda:0 and cpu"):
        torch.ops.ncclkit_torch_example.fused_add_all_reduce(x, x.cpu(), 1.0, comm.ptr)
    with pytest.raises(RuntimeError, match="x and residual must be float32, got Float and Double"):
        torch.ops.ncclkit_torch_example.fused_add_all_reduce(x, x.double(), 1.0, comm.ptr)


def test_a_destroyed_communicator_is_refused(example: ModuleType) -> None:
    comm = ncclkit.Communicator.init_rank(1, ncclkit.UniqueId.generate(), 0, device=0)
    comm.destroy()
    x = torch.randn(8, device="cuda")
    with pytest.raises(ValueError, match="destroyed"):
        example.fused_add_all_reduce(x, x, 1.0, comm)


def test_the_stable_build_calls_torchs_c_shim_only(example: ModuleType) -> None:
    (stable,) = Path(example.__file__).parent.glob("_stable_ops.*.so")
    needed = imported_symbols(stable)
    unstable = ("_ZN3c10", "_ZNK3c10", "_ZN2at", "_ZNK2at", "_ZN5torch", "_ZNK5torch")
    assert not sorted(name for name in needed if name.startswith(unstable))
    assert "aoti_torch_get_current_cuda_stream" in needed
