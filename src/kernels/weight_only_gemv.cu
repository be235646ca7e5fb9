// Weight-only quantized GEMV for a few activation rows (the decode case): reading the weights is
// the whole cost, so the kernel keeps many loads in flight and spends few instructions per weight.
// A block takes a tile of kRows output channels and its threads split K: thread t reads the 16-byte
// chunks t, t + kThreads, ... of each row of the tile (a warp reads 512 contiguous bytes of a row
// per load), issues a round's loads, weights and int4 scales together, before it computes, and the
// partial sums meet at the end (shuffles, then shared memory). The grid is one block per tile;
// an SM runs several blocks at once, and their loads overlap one another's arithmetic.
//
// int8 works in float (products of up to 128 * |x| would overflow float16). int4 turns each nibble
// into q / 16 in the activation dtype (exact, and at most 1/2, so that a sum of 8 products stays
// within 4 max|x|), sums 8 products there, and adds that sum times the group's scale in float: one
// scale per row and 16-byte chunk, since a chunk (32 weights) never straddles a group.
#include <cstdint>
#include <type_traits>

#include "kernels/dtypes.h"
#include "kernels/gemv.h"

namespace ncclkit::kernels {

// Not an anonymous namespace: nvcc names those after the source's path, and the wheel would
// depend on where the checkout is. One per file, so that no two files' helpers meet at link time.
namespace gemv_kernels {

// (a & Mask) ^ Magic, in one instruction where the compiler would spend two.
template <uint32_t Mask, uint32_t Magic>
__device__ __forceinline__ uint32_t and_xor(uint32_t a) {
  uint32_t r;
  asm("lop3.b32 %0, %1, %2, %3, 0x6a;" : "=r"(r) : "r"(a), "n"(Mask), "n"(Magic));
  return r;
}

// A pair of 16-bit floats, both with these bits: a constant the compiler need not convert.
template <typename T>
__device__ __forceinline__ pair_t<T> splat_bits(uint32_t bits) {
  return bit_cast<pair_t<T>>(bits * 0x10001u);
}

// q / 32 for the 8 weights of an int4 word (weight_layout.h), as 4 pairs in k order, exactly:
// the nibble, its sign bit flipped, sits in the low mantissa bits of Int4Magic's float, and one
// multiply-add takes magic + n to (n - 8) / 32.
template <typename T>
__device__ __forceinline__ void int4_thirty_seconds(uint32_t w, pair_t<T> (&q)[4]) {
  constexpr uint32_t magic = Int4Magic<T>::bits | 0x00080008u;
  if constexpr (std::is_same_v<T, __half>) {
    // float16 also holds a nibble 4 bits up exactly (1024 + 16 n): pairs 1 and 3 need no shift.
    const __half2 low_scale = splat_bits<T>(0x2800), low_offset = splat_bits<T>(0xd008);     // 1/32, -32.25
    const __half2 high_scale = splat_bits<T>(0x1800), high_offset = splat_bits<T>(0xc080);   // 1/512, -2.25
    const uint32_t upper = w >> 8;
    q[0] = __hfma2(bit_cast<__half2>(and_xor<0x000f000fu, magic>(w)), low_scale, low_offset);
    q[1] = __hfma2(bit_cast<__half2>(and_xor<0x00f000f0u, magic ^ 0x00880088u>(w)), high_scale, high_offset);
    q[2] = __hfma2(bit_cast<__half2>(and_xor<0x000f000fu, magic>(upper)), low_scale, low_offset);
    q[3] = __hfma2(bit_cast<__half2>(and_xor<0x00f000f0u, magic ^ 0x00880088u>(upper)), high_scale, high_offset);
  } else {
    const pair_t<T> scale = splat_bits<T>(0x3d00), offset = splat_bits<T>(0xc088);  // 1/32, -4.25
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      q[i] = fma2(bit_cast<pair_t<T>>(and_xor<0x000f000fu, magic>(w >> (4 * i))), scale, offset);
    }
  }
}

// acc[mi * kRows + r] += the 16 int8 weights of chunk w[r] times x[mi, k0:k0 + 16].
template <typename T, int MT, int kRows>
__device__ __forceinline__ void accumulate_int8(const uint4 (&w)[kRows], const T* x, int m, int k, int k0,
                                                float (&acc)[MT * kRows]) {
  [[maybe_unused]] uint4 x_row[2];  // one activation row: both loads in flight at once
  if constexpr (MT == 1) {
#pragma unroll
    for (int half = 0; half < 2; ++half) x_row[half] = load_cached(x + k0 + 8 * half);
  }
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    float wf[kRows][8];
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      dequantize_int8(word(w[r], 2 * half), wf[r]);
      dequantize_int8(word(w[r], 2 * half + 1), wf[r] + 4);
    }
#pragma unroll
    for (int mi = 0; mi < MT; ++mi) {
      if (mi > 0 && mi >= m) break;  // m >= 1
      const uint4 xv = MT == 1 ? x_row[half] : load_cached(x + static_cast<size_t>(mi) * k + k0 + 8 * half);
      float xf[8];
#pragma unroll
      for (int p = 0; p < 4; ++p) {
        const float2 f = to_float2(bit_cast<pair_t<T>>(word(xv, p)));
        xf[2 * p] = f.x;
        xf[2 * p + 1] = f.y;
      }
#pragma unroll
      for (int r = 0; r < kRows; ++r) {
#pragma unroll
        for (int e = 0; e < 8; ++e) acc[mi * kRows + r] = fmaf(wf[r][e], xf[e], acc[mi * kRows + r]);
      }
    }
  }
}

// acc[mi * kRows + r] += scale[r] * (the 32 int4 weights of chunk w[r], as q / 32) . x[mi, k0:k0 + 32].
template <typename T, int MT, int kRows>
__device__ __forceinline__ void accumulate_int4(const uint4 (&w)[kRows], const float (&scale)[kRows], const T* x,
                                                int m, int k, int k0, float (&acc)[MT * kRows]) {
  [[maybe_unused]] uint4 x_row[4];  // one activation row: all four loads in flight at once
  if constexpr (MT == 1) {
#pragma unroll
    for (int j = 0; j < 4; ++j) x_row[j] = load_cached(x + k0 + 8 * j);
  }
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    pair_t<T> q[kRows][4];
#pragma unroll
    for (int r = 0; r < kRows; ++r) int4_thirty_seconds<T>(word(w[r], j), q[r]);
#pragma unroll
    for (int mi = 0; mi < MT; ++mi) {
      if (mi > 0 && mi >= m) break;  // m >= 1
      const uint4 xv = MT == 1 ? x_row[j] : load_cached(x + static_cast<size_t>(mi) * k + k0 + 8 * j);
#pragma unroll
      for (int r = 0; r < kRows; ++r) {
        // |q / 32| <= 1/4: each half of the pair sums four products of at most a quarter of T's
        // largest value, so stays within T's range whatever the activations; the halves are added
        // in float.
        pair_t<T> d = __hmul2(q[r][0], bit_cast<pair_t<T>>(xv.x));
        d = fma2(q[r][1], bit_cast<pair_t<T>>(xv.y), d);
        d = fma2(q[r][2], bit_cast<pair_t<T>>(xv.z), d);
        d = fma2(q[r][3], bit_cast<pair_t<T>>(xv.w), d);
        const float2 f = to_float2(d);
        acc[mi * kRows + r] = fmaf(f.x + f.y, scale[r], acc[mi * kRows + r]);
      }
    }
  }
}

// Sums each of v[0:V] over the warp, halving the values a lane holds at each exchange (V - 1
// shuffles rather than 5 V): lane l ends with the sum of value l / (32 / V) in v[0].
template <int Width, int V>
__device__ __forceinline__ void warp_reduce_scatter(float (&v)[V], int lane) {
  static_assert(V >= 1 && V <= 32 && (V & (V - 1)) == 0, "a power of two, at most a warp's lanes");
  if constexpr (Width > 1) {
    constexpr int offset = 16 * Width / V;
    const bool upper = lane & offset;  // keeps the upper half of the values, gets the partner's
#pragma unroll
    for (int i = 0; i < Width / 2; ++i) {
      const float send = upper ? v[i] : v[i + Width / 2];
      const float keep = upper ? v[i + Width / 2] : v[i];
      v[i] = keep + __shfl_xor_sync(0xffffffffu, send, offset);
    }
    warp_reduce_scatter<Width / 2>(v, lane);
  } else {
#pragma unroll
    for (int offset = 16 / V; offset > 0; offset /= 2) v[0] += __shfl_xor_sync(0xffffffffu, v[0], offset);
  }
}

// MT: the most rows this instance takes (m <= MT), so that the accumulators stay in registers.
// A block is one tile of kRows output channels, its kWarps warps splitting K; each round a thread
// loads kUnroll chunks of every row of the tile, then computes them.
// kStaticWeights: GemvArgs::static_weights, a template parameter so that the default instance's
// registers, and with them its occupancy, are not those of both paths.
template <typename T, int Bits, int MT, int kRows, int kUnroll, int kWarps, int kMinBlocks, bool kStaticWeights>
__global__ void __launch_bounds__(kWarps * 32, kMinBlocks)
    gemv_kernel(const T* __restrict__ x, const uint8_t* __restrict__ qweight, const T* __restrict__ scales,
                const T* __restrict__ bias, T* __restrict__ out, int m, int n, int k, int group_shift) {
  constexpr int kThreads = kWarps * 32;
  constexpr int kRound = kThreads * kUnroll;  // chunks of a row per round
  constexpr int kValues = MT * kRows;  // partial sums per thread: acc[mi * kRows + r]
  constexpr int kLanesPerValue = 32 / kValues;
  const int lane = threadIdx.x % 32;
  const WeightRow<Bits> layout(k, group_shift);
  const int chunks = layout.chunks;
  const int first_row = blockIdx.x * kRows;

  // Where each row of the tile starts, in qweight and in scales (both under 2^31 elements, as
  // ncclkit.ops checks): a missing last row of the tile reads row n - 1 again and is not stored.
  int weight_offset[kRows], scale_offset[kRows];
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    const int row = min(first_row + r, n - 1);
    weight_offset[r] = row * layout.bytes;
    scale_offset[r] = row * layout.groups;
  }

  // Rows [from, to) of the tile's round of chunks from `first` on (none past the row's end):
  // weights, and int4 scales.
  uint4 w[kUnroll][kRows];
  [[maybe_unused]] uint16_t s[kUnroll][kRows];
  auto load_round = [&](int first, int from, int to) {
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int c = first + u * kThreads;
      if (c >= chunks) break;
#pragma unroll
      for (int r = 0; r < kRows; ++r) {
        if (r < from || r >= to) continue;
        w[u][r] = load_streaming(qweight + (weight_offset[r] + c * 16));
        if constexpr (Bits == 4) s[u][r] = load_scale(scales + (scale_offset[r] + (c >> layout.chunk_group_shift)));
      }
    }
  };

  // Launched programmatically (dependent_launch.h), the block may be running before the kernel
  // ahead of it on the stream ends: it waits before it reads anything that kernel may write, and
  // static weights (GemvArgs) are not such a thing. Three quarters of the first round's rows, not
  // all: every block's loads at once fill the memory system as that kernel ends, and delay its
  // end, which the wait waits for (bench/EXPERIMENTS.md: 6 of 8 rows were faster than 2, 4 or 8 over
  // the benchmark's shapes, int8 and int4, float16 and bfloat16).
  constexpr int kEarlyRows = kRows * 3 / 4;
  if constexpr (kStaticWeights) load_round(threadIdx.x, 0, kEarlyRows);
  wait_for_prior_kernels();
  let_next_kernel_start();

  // The thread that stores a value reads its epilogue operands now, while the weights stream.
  const int value = kWarps > 1 ? static_cast<int>(threadIdx.x) : lane / kLanesPerValue;
  const bool stores = kWarps > 1 ? value < kValues : lane % kLanesPerValue == 0;
  const int out_row = first_row + value % kRows;
  const bool stored = stores && value / kRows < m && out_row < n;
  float out_scale = Bits == 8 ? 1.f : 32.f, out_bias = 0.f;  // int4: the weights were q / 32
  if (stored) {
    if constexpr (Bits == 8) out_scale = to_float(scales[out_row]);
    if (bias != nullptr) out_bias = to_float(bias[out_row]);
  }

  float acc[kValues] = {};
  for (int first = threadIdx.x; first < chunks; first += kRound) {
    if (kStaticWeights && first == static_cast<int>(threadIdx.x)) {
      load_round(first, kEarlyRows, kRows);  // the rest of the first round
    } else {
      load_round(first, 0, kRows);
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int c = first + u * kThreads;
      if (c >= chunks) break;
      const int k0 = c * kWeightsPer16Bytes<Bits>;
      if constexpr (Bits == 8) {
        accumulate_int8<T, MT, kRows>(w[u], x, m, k, k0, acc);
      } else {
        float scale[kRows];
#pragma unroll
        for (int r = 0; r < kRows; ++r) scale[r] = to_float(bit_cast<T>(s[u][r]));
        accumulate_int4<T, MT, kRows>(w[u], scale, x, m, k, k0, acc);
      }
    }
  }

  warp_reduce_scatter<kValues>(acc, lane);
  float total = acc[0];
  if constexpr (kWarps > 1) {
    __shared__ float partial[kWarps][kValues];
    if (lane % kLanesPerValue == 0) partial[threadIdx.x / 32][lane / kLanesPerValue] = total;
    __syncthreads();
    if (stored) {
      total = 0.f;
#pragma unroll
      for (int i = 0; i < kWarps; ++i) total += partial[i][value];
    }
  }
  if (stored) out[static_cast<size_t>(value / kRows) * n + out_row] = from_float<T>(fmaf(total, out_scale, out_bias));
}

// A block's shape: output channels, chunks per row and round, warps, and the blocks per SM that
// the registers must allow (__launch_bounds__; 1: no cap).
template <int Rows, int Unroll, int Warps, int MinBlocks = 1>
struct Tile {
  static constexpr int rows = Rows, unroll = Unroll, warps = Warps, min_blocks = MinBlocks;
};

template <typename T, int Bits, int MT, typename Shape>
void launch(const GemvArgs& a, const LaunchTarget& target) {
  auto* kernel = a.static_weights
                     ? gemv_kernel<T, Bits, MT, Shape::rows, Shape::unroll, Shape::warps, Shape::min_blocks, true>
                     : gemv_kernel<T, Bits, MT, Shape::rows, Shape::unroll, Shape::warps, Shape::min_blocks, false>;
  launch_gemv<T>(kernel, (a.n + Shape::rows - 1) / Shape::rows, Shape::warps * 32, a, target);
}

// The instance with the fewest rows that holds m, and its tile. For one row, 4 warps split K over
// 8 channels, a chunk a round, at 4 blocks an SM. On an H100 (bench/EXPERIMENTS.md) that was the best,
// or within 3% of it, at the four shapes of the benchmark, of the tiles tried: 2 to 16 channels,
// 2 to 8 warps, 1 to 4 chunks a round, 2 to 16 blocks an SM (for int8, with static weights too).
template <typename T, int Bits>
void launch_rows(const GemvArgs& a, const LaunchTarget& target) {
  static_assert(kGemvMaxRows == 16);
  if (a.m <= 1) return launch<T, Bits, 1, Tile<8, 1, 4, 4>>(a, target);
  if (a.m <= 2) return launch<T, Bits, 2, Tile<4, 1, 4, 6>>(a, target);
  if (a.m <= 4) return launch<T, Bits, 4, Tile<4, 1, 4>>(a, target);
  if (a.m <= 8) return launch<T, Bits, 8, Tile<4, 1, 4>>(a, target);
  launch<T, Bits, 16, Tile<2, 1, 4>>(a, target);  // 32 partial sums per thread, as for 8 rows
}

}  // namespace gemv_kernels

// From this many rows on, where the device runs code of sm_80 or newer, the tensor-core kernel
// (weight_only_mma.cu) takes the call. On an H100 (bench/EXPERIMENTS.md) this kernel was the faster at
// 2 rows (int8 and int4, most shapes), the tensor-core one at 3 (int4; int8 alike) and from 4 on.
constexpr int kMmaMinRows = 3;

void weight_only_gemv(Dtype dtype, const GemvArgs& args, const LaunchTarget& target) {
  if (args.m >= kMmaMinRows && target.arch >= 80) return weight_only_mma(dtype, args, target);
  dispatch_weights(dtype, args.bits, [&](auto tag, auto weight_bits) {
    gemv_kernels::launch_rows<decltype(tag), decltype(weight_bits)::value>(args, target);
  });
}

}  // namespace ncclkit::kernels
