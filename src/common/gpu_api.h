// The GPU runtime and the collective library under one spelling, CUDA's and NCCL's. A ROCm build
// (NCCLKIT_WITH_RCCL) gets HIP and RCCL: RCCL declares NCCL's API itself, so only the runtime's
// names are mapped here, and only the ones the bindings use.
#pragma once

#include "ncclkit/config.h"

#if NCCLKIT_WITH_RCCL

#include <hip/hip_runtime.h>
#include <rccl.h>  // FindRCCL's include directories hold rccl.h in the nested and the flat layout

using cudaError_t = hipError_t;
using cudaStream_t = hipStream_t;
inline constexpr hipError_t cudaSuccess = hipSuccess;

inline hipError_t cudaGetDevice(int* device) { return hipGetDevice(device); }
inline hipError_t cudaSetDevice(int device) { return hipSetDevice(device); }
inline hipError_t cudaGetLastError() { return hipGetLastError(); }
inline const char* cudaGetErrorString(hipError_t error) { return hipGetErrorString(error); }
inline const char* cudaGetErrorName(hipError_t error) { return hipGetErrorName(error); }

#else

#include <cuda_runtime.h>
#if NCCLKIT_WITH_NCCL  // not for an extension without NCCL (ncclkit._cuda)
#include <nccl.h>     // ncclkit_add_extension's, around NCCL's: it binds what the floor may lack
#endif

#endif
