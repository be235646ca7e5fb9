// RMSNorm, and residual-add + RMSNorm: one block per row, 16-byte vectors, statistics in float.
// The row is read from device memory once; the second pass, after the block's sum, finds it in
// L1 or L2.
#include <algorithm>

#include "common/cuda_check.h"
#include "kernels/dependent_launch.h"
#include "kernels/dtypes.h"
#include "kernels/launch.h"

namespace ncclkit::kernels {

// Not an anonymous namespace: nvcc names those after the source's path, and the wheel would
// depend on where the checkout is. One per file, so that no two files' helpers meet at link time.
namespace rms_norm_kernels {

constexpr int kMaxThreads = 1024;
constexpr int kVector = 8;  // elements of a 16-byte vector

// The sum of every thread's `v`, on every thread of the block.
__device__ __forceinline__ float block_sum(float v) {
  __shared__ float warp_sums[32];
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  v = lane < warps ? warp_sums[lane] : 0.f;
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// With a residual, residual = x + residual (rounded to T) first, and the norm is of that sum.
template <typename T, bool kAdd>
__global__ void __launch_bounds__(kMaxThreads)
    rms_norm_kernel(const T* __restrict__ x, T* __restrict__ residual, const T* __restrict__ weight,
                    T* __restrict__ out, int hidden, float eps) {
  const size_t row = static_cast<size_t>(blockIdx.x) * hidden;
  const int vectors = hidden / kVector;
  const T* source = kAdd ? residual : x;  // what pass 2 normalizes
  wait_for_prior_kernels();  // x may come from the kernel before (dependent_launch.h)
  let_next_kernel_start();

  float squares = 0.f;
  for (int v = threadIdx.x; v < vectors; v += blockDim.x) {
    const size_t at = row + static_cast<size_t>(v) * kVector;
    uint4 data = load_cached(x + at);
    if constexpr (kAdd) {
      const uint4 r = *reinterpret_cast<const uint4*>(residual + at);
      const auto* xs = reinterpret_cast<const pair_t<T>*>(&data);
      const auto* rs = reinterpret_cast<const pair_t<T>*>(&r);
      pair_t<T> sums[4];
#pragma unroll
      for (int p = 0; p < 4; ++p) {
        const float2 a = to_float2(xs[p]), b = to_float2(rs[p]);
        sums[p] = pair_from_floats<T>(a.x + b.x, a.y + b.y);
      }
      data = bit_cast<uint4>(sums);
      *reinterpret_cast<uint4*>(residual + at) = data;
    }
    const auto* pairs = reinterpret_cast<const pair_t<T>*>(&data);
#pragma unroll
    for (int p = 0; p < 4; ++p) {
      const float2 f = to_float2(pairs[p]);
      squares = fmaf(f.x, f.x, fmaf(f.y, f.y, squares));
    }
  }
  const float scale = rsqrtf(block_sum(squares) / hidden + eps);

  for (int v = threadIdx.x; v < vectors; v += blockDim.x) {
    const size_t at = row + static_cast<size_t>(v) * kVector;
    // This thread wrote its residual vectors above: a plain load, not the read-only path.
    const uint4 data = kAdd ? *reinterpret_cast<const uint4*>(source + at) : load_cached(source + at);
    const uint4 w = load_cached(weight + static_cast<size_t>(v) * kVector);
    const auto* xs = reinterpret_cast<const pair_t<T>*>(&data);
    const auto* ws = reinterpret_cast<const pair_t<T>*>(&w);
    pair_t<T> result[4];
#pragma unroll
    for (int p = 0; p < 4; ++p) {
      const float2 a = to_float2(xs[p]), b = to_float2(ws[p]);
      result[p] = pair_from_floats<T>(a.x * scale * b.x, a.y * scale * b.y);
    }
    *reinterpret_cast<uint4*>(out + at) = bit_cast<uint4>(result);
  }
}

}  // namespace rms_norm_kernels

void rms_norm(Dtype dtype, const void* x, void* residual, const void* weight, void* out, int rows, int hidden,
              float eps, const LaunchTarget& target) {
  const int vectors = hidden / rms_norm_kernels::kVector;
  const int threads = std::min(rms_norm_kernels::kMaxThreads, (vectors + 31) / 32 * 32);
  dispatch(dtype, [&](auto tag) {
    using T = decltype(tag);
    const auto* xt = static_cast<const T*>(x);
    const auto* wt = static_cast<const T*>(weight);
    auto* outt = static_cast<T*>(out);
    if (residual != nullptr) {
      launch_kernel(rms_norm_kernels::rms_norm_kernel<T, true>, rows, threads, target, xt, static_cast<T*>(residual),
                    wt, outt, hidden, eps);
    } else {
      launch_kernel(rms_norm_kernels::rms_norm_kernel<T, false>, rows, threads, target, xt, nullptr, wt, outt, hidden,
                    eps);
    }
  });
}

}  // namespace ncclkit::kernels
