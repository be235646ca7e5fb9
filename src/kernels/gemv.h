// What the two GEMV kernels share (weight_only_gemv.cu on CUDA cores, weight_only_mma.cu on
// tensor cores): their parameters, filled from GemvArgs, and the tensor-core kernel's entry.
#pragma once

#include <cstdint>

#include "kernels/dependent_launch.h"
#include "kernels/launch.h"
#include "kernels/weight_layout.h"

namespace ncclkit::kernels {

// A weight row as both kernels walk it, for K = k: its bytes, its 16-byte chunks, its int4 scales,
// and the shift from a chunk's index to its scale's (a chunk, 32 int4 weights, never straddles a
// group).
template <int Bits>
struct WeightRow {
  int bytes, chunks, groups, chunk_group_shift;

  __device__ WeightRow(int k, int group_shift)
      : bytes(Bits == 8 ? k : k / 2),
        chunks(bytes / 16),
        groups(Bits == 4 ? k >> group_shift : 0),
        chunk_group_shift(Bits == 4 ? group_shift - 5 : 0) {}
};

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
