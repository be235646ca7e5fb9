// The kernels' host side: each launches on `stream` and checks the launch. Low level on purpose:
// ncclkit.ops checks shapes, dtypes, devices, contiguity and alignment before calling these.
#pragma once

#include <cuda_runtime.h>

namespace ncclkit::kernels {

// The activation dtypes, as Python passes them (ncclkit._kernels.DTYPES): bfloat16 only where the
// build enabled it (NCCLKIT_ENABLE_BF16).
enum class Dtype : int { float16 = 0, bfloat16 = 1 };

// Where a kernel goes: the stream; whether the kernel may launch programmatically, starting while
// the kernel before it ends (dependent_launch.h); and the arch of this build's code that the
// device runs (the compute_XX it was compiled for: 80 for sm_80 or its PTX), which decides the
// instructions a kernel may use.
struct LaunchTarget {
  cudaStream_t stream;
  bool programmatic;
  int arch;
};
// For `device`, which must be current (dependent_launch.cpp): the arch is image_arch(device);
// programmatic where the build has NCCLKIT_ENABLE_PDL, that arch is 90 or newer, and the
// environment has not turned it off (NCCLKIT_PDL=0).
LaunchTarget launch_target(int device, cudaStream_t stream);

// The arch this build's code has on `device`, which must be current (image_arch.cu): the
// compute_XX its kernels were compiled for, which a GPU may run from an older arch's PTX.
int image_arch(int device);

// The most activation rows the GEMV takes; more go through dequantize + a GEMM (ncclkit.ops).
constexpr int kGemvMaxRows = 16;

// out[m, n] = sum_k x[m, k] * w[n, k] (+ bias[n]), w dequantized inside (weight_layout.h).
struct GemvArgs {
  const void* x;        // [m, k]
  const void* qweight;  // int8 [n, k] or uint8 [n, k / 2]
  const void* scales;   // [n] or [n, k / group_size]
  const void* bias;     // [n], or null
  void* out;            // [m, n]
  int m, n, k, bits, group_size;
  // The caller's promise that the kernel just before on the stream does not write qweight or
  // scales (model weights, loaded once): launched programmatically, the GEMV of one or two rows
  // then reads some of its weights before that kernel ends (dependent_launch.h). The tensor-core
  // GEMV of more rows does not: there it was no faster, or slower (bench/EXPERIMENTS.md).
  bool static_weights;
};
void weight_only_gemv(Dtype dtype, const GemvArgs& args, const LaunchTarget& target);

// out[n, k] = w[n, k] in the activation dtype.
void dequantize_weight(Dtype dtype, const void* qweight, const void* scales, void* out, int n, int k, int bits,
                       int group_size, cudaStream_t stream);

// out = x / sqrt(mean(x^2) + eps) * weight over the last dimension (hidden) of [rows, hidden].
// With a residual: residual += x first (in place), and the norm is of that sum.
void rms_norm(Dtype dtype, const void* x, void* residual, const void* weight, void* out, int rows, int hidden,
              float eps, const LaunchTarget& target);

}  // namespace ncclkit::kernels
