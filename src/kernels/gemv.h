// What the two GEMV kernels share (weight_only_gemv.cu on CUDA cores, weight_only_mma.cu on
// tensor cores): their parameters, filled from GemvArgs, and the tensor-core kernel's entry. The
// rows they walk are weight_layout.h's WeightRow.
#pragma once

#include <cstdint>

#include "kernels/dependent_launch.h"
#include "kernels/launch.h"
#include "kernels/weight_layout.h"

namespace ncclkit::kernels {

// kernel(x, qweight, scales, bias, out, m, n, k, group_shift) on `blocks` blocks, from `a`.
template <typename T>
void launch_gemv(void (*kernel)(const T*, const uint8_t*, const T*, const T*, T*, int, int, int, int), int blocks,
                 int threads, const GemvArgs& a, const LaunchTarget& target) {
  launch_kernel(kernel, blocks, threads, target, static_cast<const T*>(a.x), static_cast<const uint8_t*>(a.qweight),
                static_cast<const T*>(a.scales), static_cast<const T*>(a.bias), static_cast<T*>(a.out), a.m, a.n, a.k,
                group_shift(a.bits, a.group_size));
}

// weight_only_gemv on tensor cores, for code of sm_80 or newer (target.arch): weight_only_gemv
// hands it the calls of several rows.
void weight_only_mma(Dtype dtype, const GemvArgs& args, const LaunchTarget& target);

}  // namespace ncclkit::kernels
