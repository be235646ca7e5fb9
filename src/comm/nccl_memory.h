// NCCL's allocator (ncclMemAlloc/ncclMemFree): memory that NCCL's registration paths and
// symmetric kernels take, for ncclkit.mem_alloc and, through the two C functions below, for a
// torch.cuda.MemPool (CUDAPluggableAllocator's signature: no libtorch needed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <sys/types.h>

#include "common/gpu_api.h"
#include "ncclkit/config.h"

namespace ncclkit {

#if NCCLKIT_HAS_MEM_ALLOC
std::uintptr_t mem_alloc(std::size_t nbytes, int device);
void mem_free(std::uintptr_t ptr, int device);
#endif

}  // namespace ncclkit

#if NCCLKIT_HAS_MEM_ALLOC
// torch.cuda.memory.CUDAPluggableAllocator's alloc and free, by name in this module's file. A
// failure returns null (torch's out-of-memory error follows) and prints what NCCL said.
extern "C" __attribute__((visibility("default"))) void* ncclkit_torch_alloc(ssize_t size, int device,
                                                                            cudaStream_t stream);
extern "C" __attribute__((visibility("default"))) void ncclkit_torch_free(void* ptr, ssize_t size, int device,
                                                                          cudaStream_t stream);
#endif
