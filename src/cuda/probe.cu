#include "cuda/probe.h"

#include "common/cuda_check.h"

namespace ncclkit {

namespace {
__global__ void probe_kernel() {}
}  // namespace

cudaError_t launch_probe_kernel(int device) {
  DeviceGuard guard(device);
  probe_kernel<<<1, 1>>>();
  cudaError_t status = cudaGetLastError();
  if (status == cudaSuccess) status = cudaDeviceSynchronize();
  return status;
}

}  // namespace ncclkit
