#pragma once
// The op's work, apart from torch: both builds of the op (TORCH and STABLE_ABI) call it.
#include <cuda_runtime.h>
#include <nccl.h>  // ncclkit_add_extension's: NCCL's, with what its floor may lack bound weakly

#include <cstdint>
#include <string>

// out = the sum over comm's ranks of alpha * x + residual (n floats on `device`), on `stream`:
// the kernel, then ncclAllReduce in place. Returns "" or what went wrong.
std::string fused_add_all_reduce(const float* x, const float* residual, float* out, std::int64_t n, float alpha,
                                 ncclComm_t comm, int device, cudaStream_t stream);
