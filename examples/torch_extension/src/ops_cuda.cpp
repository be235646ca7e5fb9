// The CUDA implementation of fused_add_all_reduce: the kernel, then NCCL's all_reduce on the
// ncclkit communicator whose ncclComm_t Python passed (Communicator.ptr), both on torch's current
// stream, so that the op orders with torch's own work like any other.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "fused_add.h"

namespace {

at::Tensor fused_add_all_reduce_cuda(const at::Tensor& x, const at::Tensor& residual, double alpha, int64_t comm) {
  TORCH_CHECK(x.is_cuda() && residual.device() == x.device(), "fused_add_all_reduce: x and residual must be on one "
              "CUDA device, got ", x.device(), " and ", residual.device());
  TORCH_CHECK(x.sizes() == residual.sizes(), "fused_add_all_reduce: x has shape ", x.sizes(),
              ", residual has ", residual.sizes());
  TORCH_CHECK(x.scalar_type() == at::kFloat && residual.scalar_type() == at::kFloat,
              "fused_add_all_reduce: x and residual must be float32, got ", x.scalar_type(), " and ",
              residual.scalar_type());
  const c10::cuda::CUDAGuard guard(x.device());
  const at::Tensor x_ = x.contiguous();
  const at::Tensor residual_ = residual.contiguous();
  at::Tensor out = at::empty_like(x_);
  const std::string error = fused_add_all_reduce(
      x_.data_ptr<float>(), residual_.data_ptr<float>(), out.data_ptr<float>(), out.numel(), static_cast<float>(alpha),
      reinterpret_cast<ncclComm_t>(static_cast<intptr_t>(comm)), x.get_device(), at::cuda::getCurrentCUDAStream());
  TORCH_CHECK(error.empty(), "fused_add_all_reduce: ", error);
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(ncclkit_torch_example, CUDA, m) {
  m.impl("fused_add_all_reduce", &fused_add_all_reduce_cuda);
}
