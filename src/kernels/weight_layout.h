// The weight-only quantized layouts: ncclkit.ops.quantize_weight writes them, the GEMV and the
// dequantize kernels read them, and this is the one place that defines them. N is the output
// channels (rows), K the input features; scales have the activation dtype (float16 or bfloat16).
//
// int8, per output channel:
//   qweight  int8 [N, K], row-major;  scales [N]
//   w[n, k] = qweight[n, k] * scales[n]
//
// int4, per group of G = 64 or 128 consecutive k (symmetric, no zero point):
//   qweight  uint8 [N, K / 2], row-major;  scales [N, K / G], row-major
//   w[n, k] = q(n, k) * scales[n, k / G], q a two's-complement 4-bit integer in [-8, 7]
//   Each 32-bit little-endian word of a row holds 8 consecutive k, from k0 = 8 * (its index in
//   the row): nibble i (bits 4i to 4i+3) holds k0 + 2 * (i % 4) + i / 4, so nibbles 0..7 hold
//   k0 + 0, 2, 4, 6, 1, 3, 5, 7. One mask then takes nibbles i and i + 4, which are k0 + 2i and
//   k0 + 2i + 1, into the two halves of a 32-bit pair (the order TensorRT-LLM's kernels use).
//
// Both: rows are 16-byte vectors, so K is a multiple of 16 (int8) or of G (int4), and every
// tensor starts 16-byte aligned.
#pragma once

#include <cstdint>
#include <type_traits>

#include "kernels/dtypes.h"

namespace ncclkit::kernels {

// Weights in 16 bytes of qweight.
template <int Bits>
constexpr int kWeightsPer16Bytes = Bits == 8 ? 16 : 32;

// log2 of the int4 group size (64 or 128): the kernels find a weight's scale by shifting k. 0 for int8.
inline int group_shift(int bits, int group_size) {
  return bits == 4 ? __builtin_ctz(static_cast<unsigned>(group_size)) : 0;
}

// A weight row as the kernels walk it, for K = k: its bytes, its 16-byte chunks, its int4 scales,
// and the shift from a chunk's index to its scale's (a chunk, 32 int4 weights, never straddles a
// group).
template <int Bits>
struct WeightRow {
  int bytes, chunks, groups, chunk_group_shift;

  __host__ __device__ WeightRow(int k, int group_shift)
      : bytes(Bits == 8 ? k : k / 2),
        chunks(bytes / 16),
        groups(Bits == 4 ? k >> group_shift : 0),
        chunk_group_shift(Bits == 4 ? group_shift - 5 : 0) {}
};

// A 16-bit float whose low mantissa bits hold a nibble n exactly is magic + n; the nibble's sign
// bit is flipped first, so q = value - (magic + 8).
template <typename T>
struct Int4Magic;
template <>
struct Int4Magic<__half> {
  static constexpr uint32_t bits = 0x64006400;  // 1024.0 in each half
  static constexpr float offset = 1032.f;
};
template <>
struct Int4Magic<__nv_bfloat16> {
  static constexpr uint32_t bits = 0x43004300;  // 128.0 in each half
  static constexpr float offset = 136.f;
};

// The 8 weights of one int4 word, times their group's scale, as 4 pairs in k order. The integers
// are exact; the product with the scale is rounded once to T.
template <typename T>
__device__ __forceinline__ void dequantize_int4(uint32_t word, pair_t<T> scale, pair_t<T> (&w)[4]) {
  const pair_t<T> offset = pair_from_floats<T>(Int4Magic<T>::offset, Int4Magic<T>::offset);
  if constexpr (std::is_same_v<T, __half>) {
    // float16's 10 mantissa bits also hold a nibble 4 bits up, 1024 + 16 n: pairs 1 and 3 need no
    // shift of their own, and a multiply-add by 1/16 takes them to q.
    const __half2 sixteenth = __floats2half2_rn(1.f / 16, 1.f / 16), high_offset = __floats2half2_rn(-72.f, -72.f);
    const uint32_t upper = word >> 8;
    w[0] = __hsub2(bit_cast<__half2>((word & 0x000f000fu) ^ 0x64086408u), offset);
    w[1] = __hfma2(bit_cast<__half2>((word & 0x00f000f0u) ^ 0x64806480u), sixteenth, high_offset);
    w[2] = __hsub2(bit_cast<__half2>((upper & 0x000f000fu) ^ 0x64086408u), offset);
    w[3] = __hfma2(bit_cast<__half2>((upper & 0x00f000f0u) ^ 0x64806480u), sixteenth, high_offset);
  } else {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const uint32_t bits = ((word >> (4 * i)) & 0x000f000fu) ^ (Int4Magic<T>::bits | 0x00080008u);
      w[i] = __hsub2(bit_cast<pair_t<T>>(bits), offset);
    }
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) w[i] = __hmul2(w[i], scale);
}

// The 4 weights of one int8 word, in k order, as exact floats in w[0:4]: each byte, its sign
// bit flipped, becomes the low byte of the float 2^23 + q + 128.
__device__ __forceinline__ void dequantize_int8(uint32_t word, float* w) {
  const uint32_t biased = word ^ 0x80808080u;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    w[i] = __uint_as_float(__byte_perm(biased, 0x4B000000u, 0x7440u | i)) - 8388736.f;
  }
}

}  // namespace ncclkit::kernels
