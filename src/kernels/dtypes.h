// Device code's side of the activation dtypes: the dispatch from Dtype to the C++ type, and the
// few conversions the kernels share (and, through loads.h, their loads). For .cu files only.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "kernels/launch.h"
#include "kernels/loads.h"
#include "ncclkit/kernel_config.h"

namespace ncclkit::kernels {

// f(T{}) with T the C++ type of `dtype`.
template <typename F>
void dispatch(Dtype dtype, F&& f) {
  switch (dtype) {
    case Dtype::float16:
      f(__half{});
      return;
#if NCCLKIT_ENABLE_BF16
    case Dtype::bfloat16:
      f(__nv_bfloat16{});
      return;
#endif
    default:
      throw std::invalid_argument("dtype code " + std::to_string(static_cast<int>(dtype)) +
                                  " is not one this build of ncclkit._kernels has");
  }
}

// f(T{}, std::integral_constant<int, Bits>{}): T as for dispatch, Bits the weights' 8 or 4.
template <typename F>
void dispatch_weights(Dtype dtype, int bits, F&& f) {
  dispatch(dtype, [&](auto tag) {
    if (bits == 8) {
      f(tag, std::integral_constant<int, 8>{});
    } else {
      f(tag, std::integral_constant<int, 4>{});
    }
  });
}

template <typename T>
struct Pair;
template <>
struct Pair<__half> {
  using type = __half2;
};
template <>
struct Pair<__nv_bfloat16> {
  using type = __nv_bfloat162;
};
template <typename T>
using pair_t = typename Pair<T>::type;

template <typename To, typename From>
__device__ __forceinline__ To bit_cast(const From& from) {
  static_assert(sizeof(To) == sizeof(From));
  To to;
  memcpy(&to, &from, sizeof(To));
  return to;
}

__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float2 to_float2(__half2 v) { return __half22float2(v); }
__device__ __forceinline__ float2 to_float2(__nv_bfloat162 v) { return __bfloat1622float2(v); }

template <typename T>
__device__ __forceinline__ T from_float(float v);
template <>
__device__ __forceinline__ __half from_float<__half>(float v) {
  return __float2half_rn(v);
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

__device__ __forceinline__ __half2 splat(__half v) { return __half2half2(v); }
__device__ __forceinline__ __nv_bfloat162 splat(__nv_bfloat16 v) { return __bfloat162bfloat162(v); }

template <typename T>
__device__ __forceinline__ pair_t<T> pair_from_floats(float a, float b);
template <>
__device__ __forceinline__ __half2 pair_from_floats<__half>(float a, float b) {
  return __floats2half2_rn(a, b);
}
template <>
__device__ __forceinline__ __nv_bfloat162 pair_from_floats<__nv_bfloat16>(float a, float b) {
  return __floats2bfloat162_rn(a, b);
}

__device__ __forceinline__ __half2 fma2(__half2 a, __half2 b, __half2 c) { return __hfma2(a, b, c); }
__device__ __forceinline__ __nv_bfloat162 fma2(__nv_bfloat162 a, __nv_bfloat162 b, __nv_bfloat162 c) {
#if __CUDA_ARCH__ >= 800
  return __hfma2(a, b, c);
#else
  return __hadd2(__hmul2(a, b), c);  // bf16 has no FMA before sm_80
#endif
}

}  // namespace ncclkit::kernels
