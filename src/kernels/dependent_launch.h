// Programmatic dependent launch (sm_90 and newer; NCCLKIT_ENABLE_PDL): a kernel launched with it
// may start while the kernel before it on the stream is still finishing, so that its launch and
// its blocks' start overlap that kernel's last blocks. Decode runs many short kernels back to
// back, and each would otherwise pay its launch in the open.
//
// The rule that keeps it correct: such a kernel calls wait_for_prior_kernels() before it reads
// anything an earlier kernel may have written, or writes anything one may still read; before
// that it may only compute indices, and read what its caller vouches no such kernel writes (the
// GEMV's static weights, GemvArgs). let_next_kernel_start() lets the next such kernel launch
// early. (Prefetching the weights into L2 before the wait was tried and timed: it slowed the GEMV,
// by up to 20% at 16 rows; reading them into registers there is what gains. bench/EXPERIMENTS.md.)
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <utility>

#include "common/cuda_check.h"
#include "kernels/launch.h"
#include "ncclkit/kernel_config.h"

namespace ncclkit::kernels {

#if NCCLKIT_ENABLE_PDL && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define NCCLKIT_DEPENDENT_LAUNCH 1
#else
#define NCCLKIT_DEPENDENT_LAUNCH 0
#endif

__device__ __forceinline__ void wait_for_prior_kernels() {
#if NCCLKIT_DEPENDENT_LAUNCH
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

__device__ __forceinline__ void let_next_kernel_start() {
#if NCCLKIT_DEPENDENT_LAUNCH
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// kernel<<<grid, block, 0, target.stream>>>(args...), programmatically where the target allows.
template <typename... Params, typename... Args>
void launch_kernel(void (*kernel)(Params...), dim3 grid, dim3 block, const LaunchTarget& target, Args&&... args) {
  cudaLaunchAttribute programmatic{};
  programmatic.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  programmatic.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.stream = target.stream;
  config.attrs = &programmatic;
  config.numAttrs = target.programmatic ? 1 : 0;
  NCCLKIT_CUDA_CHECK(cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...));
}

}  // namespace ncclkit::kernels
