// The global-memory loads the kernels share, in PTX where the cache behaviour matters. Nothing
// here depends on the build's configuration, so that bench/read_bound.cu reads as the GEMV reads.
// For .cu files only.
#pragma once

#include <cstdint>

namespace ncclkit::kernels {

// 16 bytes the kernel reads once: through the non-coherent path, not kept in L1, so that L1
// holds what is read again (the activations).
__device__ __forceinline__ uint4 load_streaming(const void* ptr) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(ptr));
  return v;
}

__device__ __forceinline__ uint4 load_cached(const void* ptr) { return __ldg(static_cast<const uint4*>(ptr)); }

// One 16-bit value (an int4 group's scale), loaded in program order with the weights so that both
// are in flight together.
__device__ __forceinline__ uint16_t load_scale(const void* ptr) {
  uint16_t v;
  asm volatile("ld.global.nc.b16 %0, [%1];" : "=h"(v) : "l"(ptr));
  return v;
}

// The i-th 32-bit word of 16 loaded bytes.
__device__ __forceinline__ uint32_t word(const uint4& v, int i) { return reinterpret_cast<const uint32_t*>(&v)[i]; }

}  // namespace ncclkit::kernels
