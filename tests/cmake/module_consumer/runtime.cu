#include <cuda_runtime.h>

__global__ void raw_fill(int* out, int value) { *out = value; }

// The CUDA runtime linked into the module (statically, by ncclkit_target_cuda); no GPU needed.
int raw_cuda_runtime_version() {
  int version = 0;
  return cudaRuntimeGetVersion(&version) == cudaSuccess ? version : -1;
}
