// Quantized weights back to the activation dtype, for the GEMM path of many activation rows: one
// thread per 16-byte chunk of qweight, with the GEMV's own dequantization, so both paths see the
// same weights.
#include "common/cuda_check.h"
#include "kernels/dtypes.h"
#include "kernels/launch.h"
#include "kernels/weight_layout.h"

namespace ncclkit::kernels {

// Not an anonymous namespace: nvcc names those after the source's path, and the wheel would
// depend on where the checkout is. One per file, so that no two files' helpers meet at link time.
namespace dequantize_kernels {

constexpr int kThreads = 256;

template <typename T, int Bits>
__global__ void __launch_bounds__(kThreads)
    dequantize_kernel(const uint8_t* __restrict__ qweight, const T* __restrict__ scales, T* __restrict__ out, int n,
                      int k, int group_shift) {
  const WeightRow<Bits> layout(k, group_shift);
  const int chunks_per_row = layout.chunks;
  const size_t chunk = static_cast<size_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (chunk >= static_cast<size_t>(n) * chunks_per_row) return;
  const int row = static_cast<int>(chunk / chunks_per_row);
  const int k0 = static_cast<int>(chunk % chunks_per_row) * kWeightsPer16Bytes<Bits>;
  const uint4 q = load_streaming(qweight + chunk * 16);
  uint4* dst = reinterpret_cast<uint4*>(out + static_cast<size_t>(row) * k + k0);
  if constexpr (Bits == 8) {
    const float scale = to_float(scales[row]);
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      float w[8];
      dequantize_int8(word(q, 2 * half), w);
      dequantize_int8(word(q, 2 * half + 1), w + 4);
      pair_t<T> pairs[4];
#pragma unroll
      for (int p = 0; p < 4; ++p) pairs[p] = pair_from_floats<T>(w[2 * p] * scale, w[2 * p + 1] * scale);
      dst[half] = bit_cast<uint4>(pairs);
    }
  } else {
    const pair_t<T> scale = splat(scales[static_cast<size_t>(row) * layout.groups + (k0 >> group_shift)]);
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      pair_t<T> pairs[4];
      dequantize_int4<T>(word(q, j), scale, pairs);
      dst[j] = bit_cast<uint4>(pairs);
    }
  }
}

template <typename T, int Bits>
void launch(const void* qweight, const void* scales, void* out, int n, int k, int group_size, cudaStream_t stream) {
  const int shift = group_shift(Bits, group_size);
  const size_t chunks = static_cast<size_t>(n) * WeightRow<Bits>(k, shift).chunks;
  dequantize_kernel<T, Bits><<<static_cast<unsigned>((chunks + kThreads - 1) / kThreads), kThreads, 0, stream>>>(
      static_cast<const uint8_t*>(qweight), static_cast<const T*>(scales), static_cast<T*>(out), n, k, shift);
  NCCLKIT_CUDA_CHECK(cudaGetLastError());
}

}  // namespace dequantize_kernels

void dequantize_weight(Dtype dtype, const void* qweight, const void* scales, void* out, int n, int k, int bits,
                       int group_size, cudaStream_t stream) {
  dispatch_weights(dtype, bits, [&](auto tag, auto weight_bits) {
    using T = decltype(tag);
    dequantize_kernels::launch<T, decltype(weight_bits)::value>(qweight, scales, out, n, k, group_size, stream);
  });
}

}  // namespace ncclkit::kernels
