#include "fused_add.h"

namespace {

__global__ void fused_add_kernel(const float* x, const float* residual, float* out, std::int64_t n, float alpha) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride) {
    // No fused multiply-add: the result is torch's `x * alpha + residual`, bit for bit.
    out[i] = __fadd_rn(__fmul_rn(alpha, x[i]), residual[i]);
  }
}

}  // namespace

std::string fused_add_all_reduce(const float* x, const float* residual, float* out, std::int64_t n, float alpha,
                                 ncclComm_t comm, int device, cudaStream_t stream) {
  if (comm == nullptr) return "comm is 0; pass Communicator.ptr of a live communicator";
  int comm_device = -1;
  if (ncclResult_t code = ncclCommCuDevice(comm, &comm_device); code != ncclSuccess) {
    return std::string("ncclCommCuDevice(comm): ") + ncclGetErrorString(code);
  }
  if (comm_device != device) {
    return "x is on cuda:" + std::to_string(device) + ", and the communicator's rank runs on cuda:" +
           std::to_string(comm_device);
  }
  if (n == 0) return "";
  constexpr int threads = 256;
  const std::int64_t blocks = (n + threads - 1) / threads;
  fused_add_kernel<<<static_cast<unsigned>(blocks < 65535 ? blocks : 65535), threads, 0, stream>>>(
      x, residual, out, n, alpha);
  if (cudaError_t launched = cudaGetLastError(); launched != cudaSuccess) {
    return std::string("kernel launch: ") + cudaGetErrorString(launched);
  }
  if (ncclResult_t code = ncclAllReduce(out, out, n, ncclFloat32, ncclSum, comm, stream); code != ncclSuccess) {
    return std::string("ncclAllReduce: ") + ncclGetErrorString(code) + " (" + ncclGetLastError(comm) + ")";
  }
  return "";
}
