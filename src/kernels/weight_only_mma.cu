// Weight-only quantized GEMV on tensor cores, for up to 16 activation rows (weight_only_gemv hands
// it those of 3 rows and more). The CUDA-core kernel (weight_only_gemv.cu) spends a multiply-add
// per weight and row, which from a few rows on costs more than reading the weight; here one
// mma.sync m16n8k16 multiplies 16 rows (zeros past m) by 8 output channels over 16 k, the weights
// dequantized into its B operand in registers, so the arithmetic no longer grows with the rows.
// sm_80 and newer (bfloat16 mma, and m16n8k16 for float16).
//
// The mma sums over its 16 k in any order, so the order is chosen to follow the loads: lane
// (g, t) = (lane / 4, lane % 4) holds B's 4 k of channel g, and those are 4 consecutive k of the
// 16-byte chunk it loaded; it holds A's same 4 k (by its position t) for rows g and g + 8.
//
// A block takes kTiles tiles of 8 channels; its warps split K into groups of 4 chunks per row,
// one a lane, so a tile's 4 lanes of a channel read 64 contiguous bytes, and each round loads
// kGroups groups. The activations of a chunk are loaded once for all the tiles. int8 becomes
// exact integers in the activation dtype and its per-channel scale multiplies the sum; int4
// becomes q * its group's scale, rounded once to the activation dtype (as ncclkit.ops'
// dequantizer does). The warps' sums meet in shared memory.
#include <cstdint>
#include <type_traits>

#include "kernels/dtypes.h"
#include "kernels/gemv.h"

namespace ncclkit::kernels {

// Not an anonymous namespace: nvcc names those after the source's path, and the wheel would
// depend on where the checkout is. One per file, so that no two files' helpers meet at link time.
namespace mma_kernels {

// d += a (16 x 16, rows) * b (16 x 8, columns), in float.
template <typename T>
__device__ __forceinline__ void mma_16x8x16(float (&d)[4], const uint32_t (&a)[4], pair_t<T> b0, pair_t<T> b1) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  const uint32_t b[2] = {bit_cast<uint32_t>(b0), bit_cast<uint32_t>(b1)};
  if constexpr (std::is_same_v<T, __half>) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  } else {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  }
#endif
}

// A's registers for the mma that takes k 4j..4j+3 of a chunk whose activations are `low` (row g)
// and `high` (row g + 8): pairs (4j, 4j+1) then (4j+2, 4j+3), row g before row g + 8.
template <int V>
__device__ __forceinline__ void activations(const uint4 (&low)[V], const uint4 (&high)[V], int j, uint32_t (&a)[4]) {
  const uint4& l = low[j / 2];
  const uint4& h = high[j / 2];
  const int w = 2 * (j % 2);
  a[0] = word(l, w);
  a[1] = word(h, w);
  a[2] = word(l, w + 1);
  a[3] = word(h, w + 1);
}

template <typename T, int Bits, int kTiles, int kGroups, int kWarps>
__global__ void __launch_bounds__(kWarps * 32)
    mma_kernel(const T* __restrict__ x, const uint8_t* __restrict__ qweight, const T* __restrict__ scales,
               const T* __restrict__ bias, T* __restrict__ out, int m, int n, int k, int group_shift) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  constexpr int kThreads = kWarps * 32;
  constexpr int kXVectors = kWeightsPer16Bytes<Bits> / 8;  // 16 bytes of activations per 8 k
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int g = lane / 4, t = lane % 4;
  const WeightRow<Bits> layout(k, group_shift);
  const int chunks = layout.chunks;
  const int first_channel = blockIdx.x * 8 * kTiles;

  // Where channel g of each tile starts, in qweight and in scales (under 2^31 elements, as
  // ncclkit.ops checks): a channel past n reads channel n - 1 again and is not stored.
  int weight_offset[kTiles], scale_offset[kTiles];
#pragma unroll
  for (int tile = 0; tile < kTiles; ++tile) {
    const int channel = min(first_channel + 8 * tile + g, n - 1);
    weight_offset[tile] = channel * layout.bytes;
    scale_offset[tile] = channel * layout.groups;
  }
  const bool has_low = g < m, has_high = g + 8 < m;
  const T* x_low = x + static_cast<size_t>(has_low ? g : 0) * k;
  const T* x_high = x + static_cast<size_t>(has_high ? g + 8 : 0) * k;

  // Launched programmatically (dependent_launch.h), the block may be running before the kernel
  // ahead of it on the stream ends: it waits before any load.
  wait_for_prior_kernels();
  let_next_kernel_start();

  float acc[kTiles][4] = {};
  for (int first = 4 * warp; first < chunks; first += 4 * kWarps * kGroups) {  // the same for the whole warp
    // The weights of every group in flight first; each group's activations (which L1 holds: every
    // block reads them) when it is computed.
    uint4 w[kGroups][kTiles];
    [[maybe_unused]] uint16_t s[kGroups][kTiles];
#pragma unroll
    for (int u = 0; u < kGroups; ++u) {
      const int c = first + 4 * kWarps * u + t;
#pragma unroll
      for (int tile = 0; tile < kTiles; ++tile) {
        w[u][tile] = c < chunks ? load_streaming(qweight + (weight_offset[tile] + c * 16)) : uint4{};
        if constexpr (Bits == 4) {
          s[u][tile] =
              c < chunks ? load_scale(scales + (scale_offset[tile] + (c >> layout.chunk_group_shift))) : uint16_t{0};
        }
      }
    }
#pragma unroll
    for (int u = 0; u < kGroups; ++u) {
      const int c = first + 4 * kWarps * u + t;
      const int k0 = c * kWeightsPer16Bytes<Bits>;
      uint4 low[kXVectors], high[kXVectors];  // zeros past m and past K: every lane takes part in every mma
#pragma unroll
      for (int v = 0; v < kXVectors; ++v) {
        low[v] = c < chunks && has_low ? load_cached(x_low + k0 + 8 * v) : uint4{};
        high[v] = c < chunks && has_high ? load_cached(x_high + k0 + 8 * v) : uint4{};
      }
#pragma unroll
      for (int tile = 0; tile < kTiles; ++tile) {
        if constexpr (Bits == 8) {
#pragma unroll
          for (int j = 0; j < 4; ++j) {
            float q[4];
            dequantize_int8(word(w[u][tile], j), q);
            uint32_t a[4];
            activations(low, high, j, a);
            mma_16x8x16<T>(acc[tile], a, pair_from_floats<T>(q[0], q[1]), pair_from_floats<T>(q[2], q[3]));
          }
        } else {
          const pair_t<T> scale = splat(bit_cast<T>(s[u][tile]));
#pragma unroll
          for (int i = 0; i < 4; ++i) {
            pair_t<T> q[4];
            dequantize_int4<T>(word(w[u][tile], i), scale, q);
            uint32_t a[4];
            activations(low, high, 2 * i, a);
            mma_16x8x16<T>(acc[tile], a, q[0], q[1]);
            activations(low, high, 2 * i + 1, a);
            mma_16x8x16<T>(acc[tile], a, q[2], q[3]);
          }
        }
      }
    }
  }

  // Lane (g, t) holds rows g (acc 0, 1) and g + 8 (acc 2, 3) of channels 2t and 2t + 1 of each tile.
  __shared__ float partial[kWarps][kTiles * 128];
#pragma unroll
  for (int tile = 0; tile < kTiles; ++tile) {
#pragma unroll
    for (int e = 0; e < 4; ++e) partial[warp][tile * 128 + lane * 4 + e] = acc[tile][e];
  }
  __syncthreads();
  for (int value = threadIdx.x; value < kTiles * 128; value += kThreads) {
    const int tile = value / 128, holder = value / 4 % 32, e = value % 4;
    const int row = holder / 4 + 8 * (e / 2);
    const int channel = first_channel + 8 * tile + 2 * (holder % 4) + e % 2;
    if (row >= m || channel >= n) continue;
    float total = 0.f;
#pragma unroll
    for (int i = 0; i < kWarps; ++i) total += partial[i][value];
    if constexpr (Bits == 8) total *= to_float(scales[channel]);
    if (bias != nullptr) total += to_float(bias[channel]);
    out[static_cast<size_t>(row) * n + channel] = from_float<T>(total);
  }
#else
  __trap();  // code of an arch without m16n8k16: weight_only_gemv never launches it (target.arch)
#endif
}

// A block's shape: tiles of 8 channels, groups of chunks in flight per round, and warps.
template <int Tiles, int Groups, int Warps>
struct Shape {
  static constexpr int tiles = Tiles, groups = Groups, warps = Warps;
};

template <typename T, int Bits, typename S>
void launch(const GemvArgs& a, const LaunchTarget& target) {
  launch_gemv<T>(mma_kernel<T, Bits, S::tiles, S::groups, S::warps>, (a.n + 8 * S::tiles - 1) / (8 * S::tiles),
                 S::warps * 32, a, target);
}

// The shapes that were the fastest on an H100 (bench/EXPERIMENTS.md), of the six tried (1 to 4 tiles,
// 2 to 8 groups, 4 or 8 warps), in total over the benchmark's four shapes: int8 one tile, 4 groups
// a round, 8 warps; int4 2 tiles, 2 groups, 8 warps, but from 8192 channels (11008 and 14336
// there) 4 tiles of 2 groups and 4 warps: 17-24% faster there at 16 rows (at 4, 5% slower and 10%
// faster), and 18-25% slower at 4096 channels.
constexpr int kManyChannels = 8192;

template <typename T, int Bits>
void launch_shape(const GemvArgs& a, const LaunchTarget& target) {
  if constexpr (Bits == 8) {
    launch<T, 8, Shape<1, 4, 8>>(a, target);
  } else if (a.n >= kManyChannels) {
    launch<T, 4, Shape<4, 2, 4>>(a, target);
  } else {
    launch<T, 4, Shape<2, 2, 8>>(a, target);
  }
}

}  // namespace mma_kernels

void weight_only_mma(Dtype dtype, const GemvArgs& args, const LaunchTarget& target) {
  dispatch_weights(dtype, args.bits, [&](auto tag, auto weight_bits) {
    mma_kernels::launch_shape<decltype(tag), decltype(weight_bits)::value>(args, target);
  });
}

}  // namespace ncclkit::kernels
