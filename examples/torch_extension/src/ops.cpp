// The schema of ncclkit_torch_example's op and its fake (Meta) implementation, which
// torch.compile and FakeTensorMode run to learn the output's shape without a GPU.
#include <ATen/ATen.h>
#include <torch/library.h>

namespace {

at::Tensor fused_add_all_reduce_meta(const at::Tensor& x, const at::Tensor& residual, double alpha,
                                     int64_t comm) {
  TORCH_CHECK(x.sizes() == residual.sizes(), "fused_add_all_reduce: x has shape ", x.sizes(),
              ", residual has ", residual.sizes());
  TORCH_CHECK(x.scalar_type() == at::kFloat && residual.scalar_type() == at::kFloat,
              "fused_add_all_reduce: x and residual must be float32, got ", x.scalar_type(), " and ",
              residual.scalar_type());
  return at::empty_like(x);
}

}  // namespace

TORCH_LIBRARY(ncclkit_torch_example, m) {
  // sum over the communicator's ranks of alpha * x + residual; comm is Communicator.ptr.
  m.def("fused_add_all_reduce(Tensor x, Tensor residual, float alpha, int comm) -> Tensor");
}

TORCH_LIBRARY_IMPL(ncclkit_torch_example, Meta, m) {
  m.impl("fused_add_all_reduce", &fused_add_all_reduce_meta);
}
