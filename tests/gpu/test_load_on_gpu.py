"""ncclkit.load_inline() of a CUDA kernel and an NCCL call on an ncclkit communicator, against the
CUDA torch installed, compared exactly with torch."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import ncclkit
import pytest
import torch

pytestmark = pytest.mark.gpu

CUDA = """#include <cuda_runtime.h>
#include <cstdint>

__global__ void axpy_kernel(const float* x, float* y, std::int64_t n, float a) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    y[i] = __fadd_rn(__fmul_rn(a, x[i]), y[i]);
  }
}

void launch_axpy(const float* x, float* y, std::int64_t n, float a, cudaStream_t stream) {
  axpy_kernel<<<1024, 256, 0, stream>>>(x, y, n, a);
}
"""

CPP = """#include <ATen/cuda/CUDAContext.h>
#include <nccl.h>

void launch_axpy(const float* x, float* y, std::int64_t n, float a, cudaStream_t stream);

// y += a * x, then y summed over the communicator's ranks (comm: Communicator.ptr).
void axpy_all_reduce(const at::Tensor& x, at::Tensor y, double a, std::int64_t comm) {
  TORCH_CHECK(x.is_cuda() && x.scalar_type() == at::kFloat && x.is_contiguous(), "x: a contiguous float32 CUDA tensor");
  TORCH_CHECK(y.sizes() == x.sizes() && y.is_contiguous() && y.scalar_type() == at::kFloat, "y: like x");
  cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  launch_axpy(x.data_ptr<float>(), y.data_ptr<float>(), x.numel(), static_cast<float>(a), stream);
  auto nccl = reinterpret_cast<ncclComm_t>(static_cast<intptr_t>(comm));
  float* data = y.data_ptr<float>();
  ncclResult_t code = ncclAllReduce(data, data, y.numel(), ncclFloat32, ncclSum, nccl, stream);
  TORCH_CHECK(code == ncclSuccess, "ncclAllReduce: ", ncclGetErrorString(code));
}
"""


@pytest.fixture(scope="module")
def module(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    cache = tmp_path_factory.mktemp("extensions")
    return ncclkit.load_inline(
        "jit_axpy", CPP, CUDA, functions=["axpy_all_reduce"], torch=True, nccl=True, cache_dir=cache, archs="90"
    )


@pytest.mark.parametrize("count", [1, 1000, 1024 * 256 * 3 + 7])
def test_the_kernel_and_the_all_reduce_match_torch(module: ModuleType, comm: ncclkit.Communicator, count: int) -> None:
    x = torch.randn(count, device="cuda")
    y = torch.randn(count, device="cuda")
    expected = 0.375 * x + y
    module.axpy_all_reduce(x, y, 0.375, comm.ptr)
    torch.cuda.synchronize()
    assert torch.equal(y, expected)


def test_the_record_is_of_a_torch_build_for_sm_90(module: ModuleType) -> None:
    record = json.loads(Path(module.__file__).with_name("jit_axpy.build.json").read_text())
    assert record["torch"]["mode"] == "torch"
    assert record["torch"]["version"] == torch.__version__
    assert record["cuda"]["archs_sass"] == ["90"]
    assert record["cuda"]["cudart"] == "shared"


def test_a_bad_operand_is_an_error_naming_it(module: ModuleType, comm: ncclkit.Communicator) -> None:
    x = torch.randn(8, device="cuda", dtype=torch.float64)
    with pytest.raises(RuntimeError, match="x: a contiguous float32 CUDA tensor"):
        module.axpy_all_reduce(x, x, 1.0, comm.ptr)
