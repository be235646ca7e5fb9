#pragma once
// The operand checks of the stable-ABI op, shared by its Meta and CUDA implementations.
#include <torch/csrc/stable/tensor.h>
#include <torch/headeronly/util/Exception.h>

inline void check_operands(const torch::stable::Tensor& x, const torch::stable::Tensor& residual) {
  STD_TORCH_CHECK(x.sizes().equals(residual.sizes()),
                  "fused_add_all_reduce: x and residual must have one shape");
  STD_TORCH_CHECK(x.scalar_type() == torch::headeronly::ScalarType::Float &&
                      residual.scalar_type() == torch::headeronly::ScalarType::Float,
                  "fused_add_all_reduce: x and residual must be float32");
}
