// Kernels that only read: what a kernel launched as the one-row GEMV is launched can reach at the
// GEMV's byte counts, with no arithmetic in the way (bench/read_bound.py builds and times them).
//
// Each reads `total` bytes in rounds of 16 KiB, the one-row GEMV's pattern: each of 128 threads
// loads 8 vectors of 16 bytes, 2 KiB apart. Each block XORs what it read into out[blockIdx.x], so
// that the script can check that every byte was read. Launched programmatically, as the GEMV is
// on sm_90: each waits for the kernel ahead of it before it reads, and lets the next one start.
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/loads.h"

namespace {

constexpr int kThreads = 128, kLoads = 8, kStride = 2048, kRound = kThreads * kLoads * 16;

using ncclkit::kernels::load_streaming;  // the GEMV's load of its weights

// Always programmatic, where dependent_launch.h's follow the build's NCCLKIT_ENABLE_PDL (a header
// the build generates).
__device__ __forceinline__ void wait_for_prior_kernels() { asm volatile("griddepcontrol.wait;" ::: "memory"); }
__device__ __forceinline__ void let_next_kernel_start() {
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
}

// Loads [from, to) of round `round` of the `size` bytes at `base` (zeros past the end).
__device__ __forceinline__ void load_round(uint4 (&v)[kLoads], const uint8_t* base, long long size, long long round,
                                           int from, int to) {
#pragma unroll
  for (int i = 0; i < kLoads; ++i) {
    if (i < from || i >= to) continue;
    const long long offset = round * kRound + i * kStride + threadIdx.x * 16;
    v[i] = offset < size ? load_streaming(base + offset) : make_uint4(0, 0, 0, 0);
  }
}

__device__ __forceinline__ uint32_t fold(const uint4 (&v)[kLoads]) {
  uint32_t x = 0;
#pragma unroll
  for (int i = 0; i < kLoads; ++i) x ^= v[i].x ^ v[i].y ^ v[i].z ^ v[i].w;
  return x;
}

__device__ __forceinline__ void store_block_xor(uint32_t x, uint32_t* out) {
  for (int offset = 16; offset > 0; offset /= 2) x ^= __shfl_xor_sync(0xffffffffu, x, offset);
  __shared__ uint32_t warps[kThreads / 32];
  if (threadIdx.x % 32 == 0) warps[threadIdx.x / 32] = x;
  __syncthreads();
  if (threadIdx.x == 0) out[blockIdx.x] = warps[0] ^ warps[1] ^ warps[2] ^ warps[3];
}

// One block per `per_block` bytes, as the GEMV has one per tile of 8 channels; kEarly of the
// first round's 8 loads before the wait, as the GEMV's static weights.
template <int kEarly>
__global__ void __launch_bounds__(kThreads) read_tiles(const uint8_t* buf, long long per_block, long long total,
                                                      uint32_t* out) {
  const long long start = blockIdx.x * per_block;
  const long long size = min(per_block, total - start);
  uint4 v[kLoads];
  load_round(v, buf + start, size, 0, 0, kEarly);
  wait_for_prior_kernels();
  let_next_kernel_start();
  load_round(v, buf + start, size, 0, kEarly, kLoads);
  uint32_t x = fold(v);
  for (long long round = 1; round * kRound < size; ++round) {
    load_round(v, buf + start, size, round, 0, kLoads);
    x ^= fold(v);
  }
  store_block_xor(x, out);
}

// As many blocks as the SMs hold, taking rounds blockIdx.x, + gridDim.x, ... of the whole
// buffer, each round's loads issued before the round ahead of it is folded: a block never stops
// loading.
__global__ void __launch_bounds__(kThreads) read_persistent(const uint8_t* buf, long long, long long total,
                                                           uint32_t* out) {
  uint4 a[kLoads], b[kLoads];
  const long long stride = gridDim.x;
  long long round = blockIdx.x;
  wait_for_prior_kernels();
  let_next_kernel_start();
  load_round(a, buf, total, round, 0, kLoads);
  uint32_t x = 0;
  for (; round * kRound < total; round += 2 * stride) {
    load_round(b, buf, total, round + stride, 0, kLoads);
    x ^= fold(a);
    load_round(a, buf, total, round + 2 * stride, 0, kLoads);
    x ^= fold(b);
  }
  store_block_xor(x, out);
}

template <typename Kernel>
int launch(Kernel* kernel, int blocks, int blocks_per_sm, const void* buf, long long per_block, long long total,
           uint32_t* out, cudaStream_t stream) {
  // Shared memory that leaves room for `blocks_per_sm` blocks an SM and no more: the GEMV's
  // registers hold it to 4, and these kernels need far fewer.
  int device = 0, smem_per_sm = 0;
  cudaGetDevice(&device);
  cudaDeviceGetAttribute(&smem_per_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor, device);
  const int smem = smem_per_sm / blocks_per_sm - 2048;
  cudaError_t error = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
  if (error != cudaSuccess) return error;
  cudaLaunchAttribute programmatic{};
  programmatic.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  programmatic.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config{};
  config.gridDim = blocks;
  config.blockDim = kThreads;
  config.dynamicSmemBytes = smem;
  config.stream = stream;
  config.attrs = &programmatic;
  config.numAttrs = 1;
  return cudaLaunchKernelEx(&config, kernel, static_cast<const uint8_t*>(buf), per_block, total, out);
}

}  // namespace

// kind 0: read_tiles, loads after the wait; 1: read_tiles, 6 of 8 loads before it;
// 2: read_persistent. Returns a cudaError_t.
extern "C" int read_bound(int kind, const void* buf, long long per_block, long long total, int blocks_per_sm,
                          uint32_t* out, void* stream) {
  const auto s = static_cast<cudaStream_t>(stream);
  const int tiles = static_cast<int>((total + per_block - 1) / per_block);
  int device = 0, sms = 0;
  cudaGetDevice(&device);
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
  switch (kind) {
    case 0: return launch(read_tiles<0>, tiles, blocks_per_sm, buf, per_block, total, out, s);
    case 1: return launch(read_tiles<6>, tiles, blocks_per_sm, buf, per_block, total, out, s);
    case 2: return launch(read_persistent, sms * blocks_per_sm, blocks_per_sm, buf, per_block, total, out, s);
    default: return cudaErrorInvalidValue;
  }
}
