// The CUDA implementation of the stable-ABI op: torch's C shim gives the device guard and the
// current stream (aoti_torch_get_current_cuda_stream, declared under USE_CUDA), the rest is the
// torch-free fused_add_all_reduce.
#include <torch/csrc/inductor/aoti_torch/c/shim.h>
#include <torch/csrc/stable/accelerator.h>
#include <torch/csrc/stable/library.h>
#include <torch/csrc/stable/ops.h>

#include "fused_add.h"
#include "stable_checks.h"

namespace {

torch::stable::Tensor fused_add_all_reduce_cuda(torch::stable::Tensor x, torch::stable::Tensor residual, double alpha,
                                                int64_t comm) {
  STD_TORCH_CHECK(x.is_cuda() && residual.is_cuda() && x.get_device_index() == residual.get_device_index(),
                  "fused_add_all_reduce: x and residual must be on one CUDA device");
  check_operands(x, residual);
  const torch::stable::accelerator::DeviceGuard guard(x.get_device_index());
  const torch::stable::Tensor x_ = torch::stable::contiguous(x);
  const torch::stable::Tensor residual_ = torch::stable::contiguous(residual);
  torch::stable::Tensor out = torch::stable::empty_like(x_);
  void* stream = nullptr;
  STD_TORCH_CHECK(aoti_torch_get_current_cuda_stream(x.get_device_index(), &stream) == AOTI_TORCH_SUCCESS,
                  "fused_add_all_reduce: torch has no current CUDA stream for cuda:", x.get_device_index());
  const std::string error = fused_add_all_reduce(
      x_.const_data_ptr<float>(), residual_.const_data_ptr<float>(), out.mutable_data_ptr<float>(), out.numel(),
      static_cast<float>(alpha), reinterpret_cast<ncclComm_t>(static_cast<intptr_t>(comm)), x.get_device_index(),
      static_cast<cudaStream_t>(stream));
  STD_TORCH_CHECK(error.empty(), "fused_add_all_reduce: ", error);
  return out;
}

}  // namespace

STABLE_TORCH_LIBRARY_IMPL(ncclkit_torch_example_stable, CUDA, m) {
  m.impl("fused_add_all_reduce", TORCH_BOX(&fused_add_all_reduce_cuda));
}
