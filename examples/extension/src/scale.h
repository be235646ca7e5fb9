#pragma once

#include <cuda_runtime.h>

#include <cstdint>

// y[i] = factor * x[i] for n floats, on `stream`.
cudaError_t launch_scale(const float* x, float* y, std::int64_t n, float factor, cudaStream_t stream);
