// RMSNorm, and residual-add + RMSNorm: one block per row, 16-byte vectors, statistics in float.
// The row is read from device memory once: a thread keeps its vectors (1, or 4 when there are
// many rows) in registers for the second pass, after the block's sum.
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
constexpr int kManyRows = 1024;
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

// f(a, b) of two vectors, element by element in float, each result rounded once to T.
template <typename T, typename F>
__device__ __forceinline__ uint4 combine(const uint4& a, const uint4& b, F f) {
  const auto* as = reinterpret_cast<const pair_t<T>*>(&a);
  const auto* bs = reinterpret_cast<const pair_t<T>*>(&b);
  pair_t<T> result[4];
#pragma unroll
  for (int p = 0; p < 4; ++p) {
    const float2 x = to_float2(as[p]), y = to_float2(bs[p]);
    result[p] = pair_from_floats<T>(f(x.x, y.x), f(x.y, y.y));
  }
  return bit_cast<uint4>(result);
}

// data + r, written to the residual at `at` too.
template <typename T>
__device__ __forceinline__ uint4 add_residual(const uint4& data, const uint4& r, T* residual, size_t at) {
  const uint4 sum = combine<T>(data, r, [](float a, float b) { return a + b; });
  *reinterpret_cast<uint4*>(residual + at) = sum;
  return sum;
}

template <typename T>
__device__ __forceinline__ float sum_of_squares(const uint4& data) {
  const auto* pairs = reinterpret_cast<const pair_t<T>*>(&data);
  float squares = 0.f;
#pragma unroll
  for (int p = 0; p < 4; ++p) {
    const float2 f = to_float2(pairs[p]);
    squares = fmaf(f.x, f.x, fmaf(f.y, f.y, squares));
  }
  return squares;
}

template <typename T>
__device__ __forceinline__ void store_normalized(T* out, const T* weight, size_t at, int v, const uint4& data,
                                                 float scale) {
  const uint4 w = load_cached(weight + static_cast<size_t>(v) * kVector);
  *reinterpret_cast<uint4*>(out + at) = combine<T>(data, w, [scale](float a, float b) { return a * scale * b; });
}

// With a residual, residual = x + residual (rounded to T) first, and the norm is of that sum.
// Thread t holds vectors t, t + blockDim.x, ... (kHeld of them) in registers between the passes,
// their loads all issued before the first is used; the vectors of a row wider than the block
// holds, pass 2 reads again (from L1 or L2).
template <typename T, bool kAdd, int kHeld>
__global__ void __launch_bounds__(kMaxThreads)
    rms_norm_kernel(const T* __restrict__ x, T* __restrict__ residual, const T* __restrict__ weight,
                    T* __restrict__ out, int hidden, float eps) {
  const size_t row = static_cast<size_t>(blockIdx.x) * hidden;
  const int vectors = hidden / kVector;
  const int stride = blockDim.x;
  const auto at = [&](int v) { return row + static_cast<size_t>(v) * kVector; };
  wait_for_prior_kernels();  // x may come from the kernel before (dependent_launch.h)
  let_next_kernel_start();

  uint4 held[kHeld];
  [[maybe_unused]] uint4 residuals[kHeld];
#pragma unroll
  for (int i = 0; i < kHeld; ++i) {
    const int v = threadIdx.x + i * stride;
    if (v < vectors) {
      held[i] = load_cached(x + at(v));
      if constexpr (kAdd) residuals[i] = *reinterpret_cast<const uint4*>(residual + at(v));
    }
  }
  float squares = 0.f;
#pragma unroll
  for (int i = 0; i < kHeld; ++i) {
    const int v = threadIdx.x + i * stride;
    if (v < vectors) {
      if constexpr (kAdd) held[i] = add_residual(held[i], residuals[i], residual, at(v));
      squares += sum_of_squares<T>(held[i]);
    }
  }
  const int beyond = threadIdx.x + kHeld * stride;  // the first vector this thread does not hold
  for (int v = beyond; v < vectors; v += stride) {
    uint4 data = load_cached(x + at(v));
    if constexpr (kAdd) data = add_residual(data, *reinterpret_cast<const uint4*>(residual + at(v)), residual, at(v));
    squares += sum_of_squares<T>(data);
  }
  const float scale = rsqrtf(block_sum(squares) / hidden + eps);

#pragma unroll
  for (int i = 0; i < kHeld; ++i) {
    const int v = threadIdx.x + i * stride;
    if (v < vectors) store_normalized(out, weight, at(v), v, held[i], scale);
  }
  for (int v = beyond; v < vectors; v += stride) {
    // This thread wrote its residual vectors above: a plain load, not the read-only path.
    const uint4 data = kAdd ? *reinterpret_cast<const uint4*>(residual + at(v)) : load_cached(x + at(v));
    store_normalized(out, weight, at(v), v, data, scale);
  }
}

template <typename T, int kHeld>
void launch(const T* x, T* residual, const T* weight, T* out, int rows, int hidden, float eps,
            const LaunchTarget& target) {
  const int per_thread = (hidden / kVector + kHeld - 1) / kHeld;
  const int threads = std::min(kMaxThreads, (per_thread + 31) / 32 * 32);
  if (residual != nullptr) {
    launch_kernel(rms_norm_kernel<T, true, kHeld>, rows, threads, target, x, residual, weight, out, hidden, eps);
  } else {
    launch_kernel(rms_norm_kernel<T, false, kHeld>, rows, threads, target, x, nullptr, weight, out, hidden, eps);
  }
}

}  // namespace rms_norm_kernels

void rms_norm(Dtype dtype, const void* x, void* residual, const void* weight, void* out, int rows, int hidden,
              float eps, const LaunchTarget& target) {
  dispatch(dtype, [&](auto tag) {
    using T = decltype(tag);
    const auto* xt = static_cast<const T*>(x);
    auto* rt = static_cast<T*>(residual);
    const auto* wt = static_cast<const T*>(weight);
    auto* outt = static_cast<T*>(out);
    // Many rows fill the GPU with blocks either way, and 4 vectors a thread put more bytes in
    // flight on each SM; a few rows, as in decode, want every thread they can get instead
    // (bench/RESULTS.md: measured at 16 and at 4096 rows and more, not in between).
    if (rows >= rms_norm_kernels::kManyRows) {
      rms_norm_kernels::launch<T, 4>(xt, rt, wt, outt, rows, hidden, eps, target);
    } else {
      rms_norm_kernels::launch<T, 1>(xt, rt, wt, outt, rows, hidden, eps, target);
    }
  });
}

}  // namespace ncclkit::kernels
