"""examples/extension on a GPU: built against the installed ncclkit, its kernel and its NCCL call
compared with torch."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pytest
import torch
from example_projects import installed
from ncclkit.compat import check_extension

pytestmark = pytest.mark.gpu

# Past one grid of 65535 blocks of 256 threads, so the grid-stride loop runs more than once.
SIZES = [0, 1, 1000, 65535 * 256 + 1001]


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    with installed("extension", "ncclkit_example", tmp_path_factory.mktemp("example")) as module:
        yield module


def test_full_check_passes_on_this_machine(example: ModuleType) -> None:
    check_extension("ncclkit_example._ext", full=True)
    assert example.nccl_version() >= example._ext.NCCL_FLOOR_CODE  # not the header's: older runs too


@pytest.mark.parametrize("count", SIZES)
def test_kernel_matches_torch(example: ModuleType, count: int) -> None:
    x = torch.randn(count, device="cuda", dtype=torch.float32)
    y = torch.full_like(x, float("nan"))
    example.scale(x, y, -1.75)
    torch.cuda.synchronize()
    # One float32 multiply each: exactly what torch computes.
    assert torch.equal(y, x * -1.75)


@pytest.mark.parametrize("count", SIZES[1:])
def test_nccl_all_reduce_of_one_rank_is_exact(example: ModuleType, count: int) -> None:
    x = torch.randn(count, device="cuda", dtype=torch.float32)
    y = torch.full_like(x, float("nan"))
    torch.cuda.synchronize()
    example.all_reduce_sum(x, y, device=0)
    assert torch.equal(y, x)


def test_bad_input_is_a_clear_error(example: ModuleType) -> None:
    x = torch.zeros(4, device="cuda", dtype=torch.float64)
    with pytest.raises(TypeError, match="expected float32, got typestr '<f8'"):
        example.scale(x, x, 2.0)
    with pytest.raises(ValueError, match="x has 4 elements, y has 3"):
        example.scale(x.float(), torch.empty(3, device="cuda"), 2.0)
