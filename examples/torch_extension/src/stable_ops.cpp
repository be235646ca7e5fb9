// The same op built against torch's stable C ABI only (STABLE_ABI): its schema and fake (Meta)
// implementation, registered under its own namespace so that both builds can be loaded at once.
// The binary runs with every torch from its TORCH_TARGET on.
#include <torch/csrc/stable/library.h>
#include <torch/csrc/stable/ops.h>

#include "stable_checks.h"

namespace {

torch::stable::Tensor fused_add_all_reduce_meta(torch::stable::Tensor x, torch::stable::Tensor residual, double alpha,
                                                int64_t comm) {
  check_operands(x, residual);
  return torch::stable::empty_like(x);
}

}  // namespace

STABLE_TORCH_LIBRARY(ncclkit_torch_example_stable, m) {
  // sum over the communicator's ranks of alpha * x + residual; comm is Communicator.ptr.
  m.def("fused_add_all_reduce(Tensor x, Tensor residual, float alpha, int comm) -> Tensor");
}

STABLE_TORCH_LIBRARY_IMPL(ncclkit_torch_example_stable, Meta, m) {
  m.impl("fused_add_all_reduce", TORCH_BOX(&fused_add_all_reduce_meta));
}
