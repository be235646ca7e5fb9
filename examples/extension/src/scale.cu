#include "scale.h"

namespace {

__global__ void scale_kernel(const float* x, float* y, std::int64_t n, float factor) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    y[i] = factor * x[i];
  }
}

}  // namespace

cudaError_t launch_scale(const float* x, float* y, std::int64_t n, float factor, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  constexpr int threads = 256;
  const std::int64_t blocks = (n + threads - 1) / threads;
  scale_kernel<<<static_cast<unsigned>(blocks < 65535 ? blocks : 65535), threads, 0, stream>>>(x, y, n, factor);
  return cudaGetLastError();
}
