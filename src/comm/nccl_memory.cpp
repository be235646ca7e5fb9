#include "comm/nccl_memory.h"

#include <cstdio>
#include <exception>

#include "comm/nccl_error.h"
#include "common/cuda_check.h"

namespace ncclkit {

#if NCCLKIT_HAS_MEM_ALLOC
std::uintptr_t mem_alloc(std::size_t nbytes, int device) {
  NCCLKIT_REQUIRE_NCCL(ncclMemAlloc);
  DeviceGuard guard(device);
  void* ptr = nullptr;
  nccl_check(ncclMemAlloc(&ptr, nbytes), "ncclMemAlloc");
  return reinterpret_cast<std::uintptr_t>(ptr);
}

void mem_free(std::uintptr_t ptr, int device) {
  NCCLKIT_REQUIRE_NCCL(ncclMemFree);
  DeviceGuard guard(device);
  nccl_check(ncclMemFree(reinterpret_cast<void*>(ptr)), "ncclMemFree");
}
#endif

}  // namespace ncclkit

#if NCCLKIT_HAS_MEM_ALLOC
void* ncclkit_torch_alloc(ssize_t size, int device, cudaStream_t) {
  try {
    return reinterpret_cast<void*>(ncclkit::mem_alloc(static_cast<std::size_t>(size), device));
  } catch (const std::exception& error) {  // torch's allocator calls from C: nothing may escape
    std::fprintf(stderr, "ncclkit: the NCCL memory pool could not allocate %zd bytes on cuda:%d: %s\n", size, device,
                 error.what());
    return nullptr;
  }
}

void ncclkit_torch_free(void* ptr, ssize_t, int device, cudaStream_t) {
  try {
    ncclkit::mem_free(reinterpret_cast<std::uintptr_t>(ptr), device);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ncclkit: the NCCL memory pool could not free %p on cuda:%d: %s\n", ptr, device, error.what());
  }
}
#endif
