// The one-shot and two-shot all-reduce kernels (the design vLLM's and TensorRT-LLM's custom
// all-reduce share) and the buffers they run on. See custom_all_reduce.h for the buffer layout.
//
// Each call is one kernel, so that a CUDA graph captures it whole: it first copies this rank's
// input into this rank's registered buffer, then meets the other ranks at a barrier, then reads
// their buffers; or, for the smallest one-shot messages, writes its input into every rank's
// buffer with flags beside the data, and waits for the others' (low_latency_one_shot_kernel).
// The input itself is never shared, so any tensor works, and a captured call reads whatever its
// input holds at replay.
//
// Barriers are per block: block b of every rank touches the same elements of every buffer (the
// grid and the element-to-thread mapping depend only on the size, which every rank shares), so
// block b only waits for the other ranks' block b. A barrier is a count: thread r of the block
// writes this block's new count into rank r's flags (a system-scope release, which publishes
// what the whole block wrote before it), then waits for rank r's count in this rank's flags (an
// acquire). Counts only grow, so waiting for "at least" lets a rank that is ahead pass.
#include "comm/custom_all_reduce.h"

#if NCCLKIT_WITH_NCCL

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "comm/types.h"
#include "common/cuda_check.h"

namespace ncclkit {

// A named namespace, not an anonymous one: nvcc names those after the source's path, which would
// make the build depend on where the checkout is.
namespace custom_ar {

using Layout = CustomAllReduceLayout;
constexpr int kMaxRanks = Layout::kMaxRanks;
constexpr int kMaxBlocks = Layout::kMaxBlocks;
constexpr int kThreads = Layout::kThreads;

struct Signals {
  uint32_t flags[kMaxBlocks][kMaxRanks];  // [block][rank]: written by that rank
  uint32_t counters[kMaxBlocks];          // this rank's own count per block
  uint32_t low_latency_calls;             // low-latency one-shot calls so far
  uint32_t low_latency_blocks_done;       // blocks of the running one that have finished
};
static_assert(sizeof(Signals) <= Layout::kSignalBytes, "the signals outgrew their area");
static_assert(Layout::kThreads >= kMaxRanks && Layout::kThreads >= 16, "a block waits for each rank with one thread");

// Every rank's buffer as this device addresses it. A kernel argument, so a captured graph keeps
// its own copy and nothing has to be registered for it; __grid_constant__, so that indexing it by
// a rank known only at run time reads the argument in place instead of a copy in local memory.
struct Peers {
  char* base[kMaxRanks];
};

// The element types, as raw bits: loads and stores move bits, sums are taken in float.
struct Float32 {
  using Bits = uint32_t;
  static __device__ __forceinline__ float to_float(Bits b) { return __uint_as_float(b); }
  static __device__ __forceinline__ Bits from_float(float f) { return __float_as_uint(f); }
};
struct Float16 {
  using Bits = uint16_t;
  static __device__ __forceinline__ float to_float(Bits b) { return __half2float(__ushort_as_half(b)); }
  static __device__ __forceinline__ Bits from_float(float f) { return __half_as_ushort(__float2half_rn(f)); }
};
struct BFloat16 {
  using Bits = uint16_t;
  static __device__ __forceinline__ float to_float(Bits b) { return __bfloat162float(__ushort_as_bfloat16(b)); }
  static __device__ __forceinline__ Bits from_float(float f) { return __bfloat16_as_ushort(__float2bfloat16_rn(f)); }
};

template <typename E>
using BitsOf = typename E::Bits;

// 16 bytes of elements: one 128-bit load or store.
template <typename E>
struct alignas(Layout::kVectorBytes) Pack {
  static constexpr int kCount = Layout::kVectorBytes / sizeof(typename E::Bits);
  typename E::Bits v[kCount];
};

__device__ __forceinline__ void store_release(uint32_t* address, uint32_t value) {
#if __CUDA_ARCH__ >= 700
  asm volatile("st.release.sys.global.u32 [%0], %1;" ::"l"(address), "r"(value) : "memory");
#else
  __threadfence_system();
  asm volatile("st.volatile.global.u32 [%0], %1;" ::"l"(address), "r"(value) : "memory");
#endif
}

__device__ __forceinline__ uint32_t load_acquire(const uint32_t* address) {
  uint32_t value;
#if __CUDA_ARCH__ >= 700
  asm volatile("ld.acquire.sys.global.u32 %0, [%1];" : "=r"(value) : "l"(address) : "memory");
#else
  asm volatile("ld.volatile.global.u32 %0, [%1];" : "=r"(value) : "l"(address) : "memory");
  __threadfence_system();
#endif
  return value;
}

// This thread's first element index and the grid's stride, for the grid-stride loops.
struct GridStride {
  size_t first, stride;
};

__device__ __forceinline__ GridStride grid_stride() {
  return {static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x, static_cast<size_t>(gridDim.x) * blockDim.x};
}

__device__ __forceinline__ bool aligned(const void* address, size_t bytes) {
  return reinterpret_cast<uintptr_t>(address) % bytes == 0;
}

template <int N>
__device__ __forceinline__ void barrier(const Peers& peers, Signals* self, int rank, uint32_t count) {
  __syncthreads();  // the block's writes come before thread r's release
  if (threadIdx.x < N) {
    auto* peer = reinterpret_cast<Signals*>(peers.base[threadIdx.x]);
    store_release(&peer->flags[blockIdx.x][rank], count);
    while (static_cast<int32_t>(load_acquire(&self->flags[blockIdx.x][threadIdx.x]) - count) < 0) {
    }
  }
  __syncthreads();  // and the other threads' reads come after the acquires
}

template <typename E>
__device__ __forceinline__ Pack<E>* data_of(char* base) {
  return reinterpret_cast<Pack<E>*>(base + Layout::kSignalBytes);
}

template <typename E>
__device__ __forceinline__ Pack<E>* scratch_of(char* base, size_t max_bytes) {
  return reinterpret_cast<Pack<E>*>(base + Layout::kSignalBytes + max_bytes);
}

// The caller's arrays need only be element-aligned: the registered buffers are 16-byte aligned,
// and so a rank's decision never depends on where its tensor happens to start.
template <typename E>
__device__ __forceinline__ Pack<E> load_pack(const typename E::Bits* at, bool aligned) {
  if (aligned) return *reinterpret_cast<const Pack<E>*>(at);
  Pack<E> pack;
#pragma unroll
  for (int i = 0; i < Pack<E>::kCount; ++i) pack.v[i] = at[i];
  return pack;
}

template <typename E>
__device__ __forceinline__ void store_pack(typename E::Bits* at, const Pack<E>& pack, bool aligned) {
  if (aligned) {
    *reinterpret_cast<Pack<E>*>(at) = pack;
    return;
  }
#pragma unroll
  for (int i = 0; i < Pack<E>::kCount; ++i) at[i] = pack.v[i];
}

// Rank 0's pack plus rank 1's ... in that order on every rank: every rank gets the same bits.
template <typename E, int N>
__device__ __forceinline__ Pack<E> sum_packs(const Pack<E>* const (&from)[N], size_t index) {
  Pack<E> loaded[N];
#pragma unroll
  for (int r = 0; r < N; ++r) loaded[r] = from[r][index];  // all loads in flight before the adds
  float total[Pack<E>::kCount];
#pragma unroll
  for (int i = 0; i < Pack<E>::kCount; ++i) total[i] = E::to_float(loaded[0].v[i]);
#pragma unroll
  for (int r = 1; r < N; ++r) {
#pragma unroll
    for (int i = 0; i < Pack<E>::kCount; ++i) total[i] += E::to_float(loaded[r].v[i]);
  }
  Pack<E> out;
#pragma unroll
  for (int i = 0; i < Pack<E>::kCount; ++i) out.v[i] = E::from_float(total[i]);
  return out;
}

template <typename E, int N>
__device__ __forceinline__ typename E::Bits sum_elements(const Pack<E>* const (&from)[N], size_t element) {
  float total = E::to_float(reinterpret_cast<const typename E::Bits*>(from[0])[element]);
#pragma unroll
  for (int r = 1; r < N; ++r) total += E::to_float(reinterpret_cast<const typename E::Bits*>(from[r])[element]);
  return E::from_float(total);
}

// The last count % kCount elements: block 0's first threads copy and sum them one by one.
__device__ __forceinline__ bool tail_thread(int tail) {
  return blockIdx.x == 0 && static_cast<int>(threadIdx.x) < tail;
}

// A block of a barrier kernel: this rank's buffer and signals, and the block's barrier count,
// read at the start and left at the end (finish) for the same block of the next call.
template <int N>
struct BarrierBlock {
  const Peers& peers;
  int rank;
  char* own;
  Signals* self;
  uint32_t count;

  __device__ BarrierBlock(const Peers& peers, int rank)
      : peers(peers),
        rank(rank),
        own(peers.base[rank]),
        self(reinterpret_cast<Signals*>(own)),
        count(self->counters[blockIdx.x]) {}

  // Returns once this block of every rank has got here.
  __device__ void wait_for_all_ranks() { barrier<N>(peers, self, rank, ++count); }
  __device__ void finish() const {
    if (threadIdx.x == 0) self->counters[blockIdx.x] = count;
  }
};

// Every rank reads every rank's whole input: the fewest steps, the most traffic; for the
// smallest messages, where the latency is the barriers'.
template <typename E, int N>
__global__ void __launch_bounds__(kThreads, 1) one_shot_kernel(const __grid_constant__ Peers peers, int rank,
                                                                const BitsOf<E>* in, BitsOf<E>* out, size_t packs,
                                                                int tail) {
  using P = Pack<E>;
  BarrierBlock<N> block(peers, rank);
  const bool in_aligned = aligned(in, Layout::kVectorBytes), out_aligned = aligned(out, Layout::kVectorBytes);
  const auto [first, stride] = grid_stride();
  const size_t tail_at = packs * P::kCount;

  P* mine = data_of<E>(block.own);
  for (size_t v = first; v < packs; v += stride) mine[v] = load_pack<E>(in + v * P::kCount, in_aligned);
  if (tail_thread(tail)) reinterpret_cast<BitsOf<E>*>(mine)[tail_at + threadIdx.x] = in[tail_at + threadIdx.x];
  block.wait_for_all_ranks();  // every rank's input is in its buffer

  const P* from[N];
#pragma unroll
  for (int r = 0; r < N; ++r) from[r] = data_of<E>(peers.base[r]);
  // The same thread read in[v] above, so out may be in.
  for (size_t v = first; v < packs; v += stride) {
    store_pack<E>(out + v * P::kCount, sum_packs<E, N>(from, v), out_aligned);
  }
  if (tail_thread(tail)) out[tail_at + threadIdx.x] = sum_elements<E, N>(from, tail_at + threadIdx.x);
  // Past this one, no rank reads this rank's data: the next call may copy over it before its first.
  block.wait_for_all_ranks();
  block.finish();
}

// The low-latency one-shot, for the smallest messages, where the barriers are the cost: each
// rank writes its input straight into its slot of every rank's buffer as NCCL's LL protocol
// does, 8 data bytes per 16-byte line beside two copies of the call's flag. A 16-byte store's
// 8-byte halves each arrive whole, so a reader that sees the flag twice has the data too: no
// barrier, one trip over the link. A reader zeroes each line it has read, so a flag seen is
// always this call's (flags are never zero), whatever the count has wrapped to. Even and odd
// calls use separate slots: a rank one call ahead writes the next call's lines while a slower
// rank may still be reading this call's.
struct Line {
  uint32_t data0, flag0, data1, flag1;
};

__device__ __forceinline__ void store_line(Line* at, uint2 data, uint32_t flag) {
  asm volatile("st.volatile.global.v4.u32 [%0], {%1, %2, %3, %4};" ::"l"(at), "r"(data.x), "r"(flag), "r"(data.y),
               "r"(flag)
               : "memory");
}

// Line j of rank `slot`'s slot, in the set of lines at `set` of the buffer at `base`.
__device__ __forceinline__ Line* line_at(char* base, size_t set, size_t slot_bytes, int slot, size_t j) {
  return reinterpret_cast<Line*>(base + set + slot * slot_bytes) + j;
}

__device__ __forceinline__ uint2 wait_line(Line* at, uint32_t flag) {
  uint32_t data0, flag0, data1, flag1;
  do {
    asm volatile("ld.volatile.global.v4.u32 {%0, %1, %2, %3}, [%4];"
                 : "=r"(data0), "=r"(flag0), "=r"(data1), "=r"(flag1)
                 : "l"(at)
                 : "memory");
  } while (flag0 != flag || flag1 != flag);
  store_line(at, make_uint2(0, 0), 0);  // read: the next call on this parity cannot mistake it
  return make_uint2(data0, data1);
}

// 8 bytes of elements (a line's data); the last chunk of a message may be partly past its end.
template <typename E>
union Chunk {
  static constexpr int kCount = 8 / sizeof(typename E::Bits);
  uint2 word;
  typename E::Bits v[kCount];
};

template <typename E>
__device__ __forceinline__ uint2 load_chunk(const BitsOf<E>* in, size_t chunk, size_t count, bool aligned) {
  Chunk<E> c{};
  const size_t first = chunk * Chunk<E>::kCount;
  if (aligned && first + Chunk<E>::kCount <= count) return *reinterpret_cast<const uint2*>(in + first);
#pragma unroll
  for (int i = 0; i < Chunk<E>::kCount; ++i) {
    if (first + i < count) c.v[i] = in[first + i];
  }
  return c.word;
}

template <typename E>
__device__ __forceinline__ void store_chunk(BitsOf<E>* out, size_t chunk, size_t count, uint2 word, bool aligned) {
  Chunk<E> c;
  c.word = word;
  const size_t first = chunk * Chunk<E>::kCount;
  if (aligned && first + Chunk<E>::kCount <= count) {
    *reinterpret_cast<uint2*>(out + first) = word;
    return;
  }
#pragma unroll
  for (int i = 0; i < Chunk<E>::kCount; ++i) {
    if (first + i < count) out[first + i] = c.v[i];
  }
}

// Rank 0's chunk plus rank 1's ... in that order on every rank, as sum_packs.
template <typename E, int N>
__device__ __forceinline__ uint2 sum_chunks(const uint2 (&from)[N]) {
  Chunk<E> in[N];
#pragma unroll
  for (int r = 0; r < N; ++r) in[r].word = from[r];
  Chunk<E> out;
#pragma unroll
  for (int i = 0; i < Chunk<E>::kCount; ++i) {
    float total = E::to_float(in[0].v[i]);
#pragma unroll
    for (int r = 1; r < N; ++r) total += E::to_float(in[r].v[i]);
    out.v[i] = E::from_float(total);
  }
  return out.word;
}

template <typename E, int N>
__global__ void __launch_bounds__(kThreads, 1)
    low_latency_one_shot_kernel(const __grid_constant__ Peers peers, int rank, const BitsOf<E>* in, BitsOf<E>* out,
                                size_t count, size_t lines_offset, size_t slot_bytes) {
  auto* self = reinterpret_cast<Signals*>(peers.base[rank]);
  // Read once: the last block of this call moves it on for the next one.
  const uint32_t calls = *reinterpret_cast<volatile uint32_t*>(&self->low_latency_calls);
  const uint32_t flag = calls % 0xFFFFFFFFu + 1;  // 1 .. 2^32 - 1: never a zeroed line's
  const size_t set_offset = lines_offset + (calls & 1) * N * slot_bytes;
  const size_t chunks = (count + Chunk<E>::kCount - 1) / Chunk<E>::kCount;
  const bool in_aligned = aligned(in, sizeof(uint2)), out_aligned = aligned(out, sizeof(uint2));
  const auto [first, stride] = grid_stride();

  // Every line out first, then the waits: the links carry them all while the rank waits.
  for (size_t j = first; j < chunks; j += stride) {
    const uint2 mine = load_chunk<E>(in, j, count, in_aligned);
#pragma unroll
    for (int r = 0; r < N; ++r) {
      store_line(line_at(peers.base[r], set_offset, slot_bytes, rank, j), mine, flag);
    }
  }
  // The same thread read in[j] above, so out may be in.
  for (size_t j = first; j < chunks; j += stride) {
    uint2 from[N];
#pragma unroll
    for (int r = 0; r < N; ++r) from[r] = wait_line(line_at(peers.base[rank], set_offset, slot_bytes, r, j), flag);
    store_chunk<E>(out, j, count, sum_chunks<E, N>(from), out_aligned);
  }
  __syncthreads();
  if (threadIdx.x == 0 && atomicAdd(&self->low_latency_blocks_done, 1) == gridDim.x - 1) {
    self->low_latency_blocks_done = 0;
    self->low_latency_calls = calls + 1;
  }
}

// Reduce-scatter then all-gather: rank r sums segment r of everyone's input into its scratch,
// and everyone copies every segment from its owner's scratch. Each rank reads 2/N of each
// peer's data instead of all of it, for the same two barriers.
template <typename E, int N>
__global__ void __launch_bounds__(kThreads, 1) two_shot_kernel(const __grid_constant__ Peers peers, int rank,
                                                                const BitsOf<E>* in, BitsOf<E>* out, size_t packs,
                                                                int tail, size_t max_bytes) {
  using P = Pack<E>;
  BarrierBlock<N> block(peers, rank);
  const bool in_aligned = aligned(in, Layout::kVectorBytes), out_aligned = aligned(out, Layout::kVectorBytes);
  const auto [first, stride] = grid_stride();
  const size_t tail_at = packs * P::kCount;
  const size_t part = (packs + N - 1) / N;  // segment s is packs [s * part, (s + 1) * part)

  // The copy walks the segments with the index the reduction below uses, so that block b copies
  // exactly what the other ranks' block b will read.
  P* mine = data_of<E>(block.own);
  for (size_t i = first; i < part; i += stride) {
#pragma unroll
    for (int s = 0; s < N; ++s) {
      const size_t v = s * part + i;
      if (v < packs) mine[v] = load_pack<E>(in + v * P::kCount, in_aligned);
    }
  }
  if (tail_thread(tail)) reinterpret_cast<BitsOf<E>*>(mine)[tail_at + threadIdx.x] = in[tail_at + threadIdx.x];
  block.wait_for_all_ranks();  // every rank's input is in its buffer

  const P* from[N];
#pragma unroll
  for (int r = 0; r < N; ++r) from[r] = data_of<E>(peers.base[r]);
  P* reduced = scratch_of<E>(block.own, max_bytes);
  const size_t segment = rank * part;
  for (size_t i = first; i < part && segment + i < packs; i += stride) {
    reduced[i] = sum_packs<E, N>(from, segment + i);
  }
  if (tail_thread(tail)) out[tail_at + threadIdx.x] = sum_elements<E, N>(from, tail_at + threadIdx.x);
  // Every segment is reduced. It also ends the reads of the data: a rank leaves this kernel only
  // after its last barrier, so the next call's copy cannot overtake them. The scratch is written
  // again only after the next call's first barrier, which waits for every rank to get there.
  block.wait_for_all_ranks();

  const P* owners[N];
#pragma unroll
  for (int s = 0; s < N; ++s) owners[s] = scratch_of<E>(peers.base[s], max_bytes);
  for (size_t i = first; i < part; i += stride) {
#pragma unroll
    for (int s = 0; s < N; ++s) {
      const size_t v = s * part + i;
      if (v < packs) store_pack<E>(out + v * P::kCount, owners[s][i], out_aligned);
    }
  }
  block.finish();
}

struct Launch {
  Peers peers;
  int rank;
  const void* in;
  void* out;
  size_t count;
  size_t max_bytes;
  size_t low_latency_max_bytes;
  int blocks;  // the most this call may use
  cudaStream_t stream;
};

// Where the low-latency lines start, and one rank's slot: 16-byte lines for 8 bytes of data each.
inline size_t lines_offset(size_t max_bytes) { return Layout::kSignalBytes + 2 * max_bytes; }
inline size_t slot_bytes(size_t low_latency_max_bytes) { return 2 * low_latency_max_bytes; }

template <typename E, int N>
void launch(CustomAllReduceAlgorithm algorithm, const Launch& a) {
  using Bits = typename E::Bits;
  constexpr int kCount = Pack<E>::kCount;
  const size_t packs = a.count / kCount;
  const int tail = static_cast<int>(a.count % kCount);
  // One pack per thread where the message is that small; a grid-stride loop beyond.
  const size_t spread = algorithm == CustomAllReduceAlgorithm::kOneShot ? packs : (packs + N - 1) / N;
  const size_t wanted = (spread + kThreads - 1) / kThreads;
  const unsigned grid = static_cast<unsigned>(std::max<size_t>(1, std::min<size_t>(wanted, a.blocks)));
  const auto* in = static_cast<const Bits*>(a.in);
  auto* out = static_cast<Bits*>(a.out);
  if (algorithm == CustomAllReduceAlgorithm::kOneShot && a.count * sizeof(Bits) <= a.low_latency_max_bytes) {
    const size_t chunks = (a.count * sizeof(Bits) + 7) / 8;
    const unsigned lines_grid =
        static_cast<unsigned>(std::max<size_t>(1, std::min<size_t>((chunks + kThreads - 1) / kThreads, a.blocks)));
    low_latency_one_shot_kernel<E, N><<<lines_grid, kThreads, 0, a.stream>>>(
        a.peers, a.rank, in, out, a.count, lines_offset(a.max_bytes), slot_bytes(a.low_latency_max_bytes));
  } else if (algorithm == CustomAllReduceAlgorithm::kOneShot) {
    one_shot_kernel<E, N><<<grid, kThreads, 0, a.stream>>>(a.peers, a.rank, in, out, packs, tail);
  } else {
    two_shot_kernel<E, N><<<grid, kThreads, 0, a.stream>>>(a.peers, a.rank, in, out, packs, tail, a.max_bytes);
  }
  NCCLKIT_CUDA_CHECK(cudaGetLastError());
}

// World sizes are template arguments, so the per-rank loops unroll.
template <typename E>
void launch_for_world(int world_size, CustomAllReduceAlgorithm algorithm, const Launch& a) {
  switch (world_size) {
    case 1: return launch<E, 1>(algorithm, a);
    case 2: return launch<E, 2>(algorithm, a);
    case 3: return launch<E, 3>(algorithm, a);
    case 4: return launch<E, 4>(algorithm, a);
    case 5: return launch<E, 5>(algorithm, a);
    case 6: return launch<E, 6>(algorithm, a);
    case 7: return launch<E, 7>(algorithm, a);
    case 8: return launch<E, 8>(algorithm, a);
    default:
      throw std::invalid_argument("custom all-reduce supports 1 to 8 ranks, not " + std::to_string(world_size));
  }
}

}  // namespace custom_ar

using custom_ar::Layout;

CustomAllReduce::CustomAllReduce(int device, int rank, int world_size, std::size_t max_bytes)
    : device_(device),
      rank_(rank),
      world_size_(world_size),
      max_bytes_(max_bytes),
      low_latency_max_bytes_(std::min(max_bytes, Layout::kLowLatencyMaxBytes)) {
  if (world_size < 1 || world_size > Layout::kMaxRanks) {
    throw std::invalid_argument("custom all-reduce supports 1 to " + std::to_string(Layout::kMaxRanks) +
                                " ranks, not " + std::to_string(world_size));
  }
  if (rank < 0 || rank >= world_size) {
    throw std::invalid_argument("rank " + std::to_string(rank) + " is out of range for " +
                                std::to_string(world_size) + " ranks");
  }
  if (max_bytes == 0 || max_bytes % Layout::kVectorBytes != 0 || max_bytes > Layout::kMaxBytes) {
    throw std::invalid_argument("max_bytes must be a positive multiple of " + std::to_string(Layout::kVectorBytes) +
                                " of at most " + std::to_string(Layout::kMaxBytes) + ", got " +
                                std::to_string(max_bytes));
  }
  DeviceGuard guard(device);
  NCCLKIT_CUDA_CHECK(cudaDeviceGetAttribute(&multiprocessors_, cudaDevAttrMultiProcessorCount, device));
  const std::size_t lines_at = custom_ar::lines_offset(max_bytes);
  const std::size_t lines_bytes = 2 * world_size * custom_ar::slot_bytes(low_latency_max_bytes_);
  NCCLKIT_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&buffer_), lines_at + lines_bytes));
  try {
    // Zero counts and lines before any other rank can see the buffer: they get its handle only after this.
    NCCLKIT_CUDA_CHECK(cudaMemset(buffer_, 0, Layout::kSignalBytes));
    NCCLKIT_CUDA_CHECK(cudaMemset(buffer_ + lines_at, 0, lines_bytes));
    NCCLKIT_CUDA_CHECK(cudaDeviceSynchronize());
  } catch (...) {
    cudaFree(buffer_);
    throw;
  }
  peers_.assign(world_size, nullptr);
  peers_[rank] = buffer_;
}

CustomAllReduce::~CustomAllReduce() {
  // Best effort, as the communicator's: the process may be shutting down with its context gone.
  int previous = 0;
  if (cudaGetDevice(&previous) != cudaSuccess || cudaSetDevice(device_) != cudaSuccess) {
    cudaGetLastError();
    return;
  }
  for (char* mapped : opened_) cudaIpcCloseMemHandle(mapped);
  cudaFree(buffer_);
  cudaGetLastError();
  cudaSetDevice(previous);
}

std::string CustomAllReduce::ipc_handle() const {
  DeviceGuard guard(device_);
  cudaIpcMemHandle_t handle;
  NCCLKIT_CUDA_CHECK(cudaIpcGetMemHandle(&handle, buffer_));
  return std::string(reinterpret_cast<const char*>(&handle), sizeof(handle));
}

void CustomAllReduce::check_blocks(int blocks) const {
  if (connected()) throw std::logic_error("this custom all-reduce is connected already");
  if (blocks < 1 || blocks > Layout::kMaxBlocks) {
    throw std::invalid_argument("blocks must be 1 to " + std::to_string(Layout::kMaxBlocks) + ", got " +
                                std::to_string(blocks));
  }
}

void CustomAllReduce::open_ipc_handles(const std::vector<std::string>& handles, int blocks) {
  check_blocks(blocks);
  if (static_cast<int>(handles.size()) != world_size_) {
    throw std::invalid_argument("expected " + std::to_string(world_size_) + " IPC handles, one per rank, got " +
                                std::to_string(handles.size()));
  }
  DeviceGuard guard(device_);
  try {
    for (int r = 0; r < world_size_; ++r) {
      if (r == rank_) continue;
      if (handles[r].size() != sizeof(cudaIpcMemHandle_t)) {
        throw std::invalid_argument("rank " + std::to_string(r) + "'s IPC handle has " +
                                    std::to_string(handles[r].size()) + " bytes, not " +
                                    std::to_string(sizeof(cudaIpcMemHandle_t)));
      }
      cudaIpcMemHandle_t handle;
      std::copy(handles[r].begin(), handles[r].end(), reinterpret_cast<char*>(&handle));
      void* mapped = nullptr;
      NCCLKIT_CUDA_CHECK(cudaIpcOpenMemHandle(&mapped, handle, cudaIpcMemLazyEnablePeerAccess));
      opened_.push_back(static_cast<char*>(mapped));
      peers_[r] = static_cast<char*>(mapped);
    }
  } catch (...) {
    for (char* mapped : opened_) cudaIpcCloseMemHandle(mapped);
    opened_.clear();
    peers_.assign(world_size_, nullptr);
    peers_[rank_] = buffer_;
    throw;
  }
  blocks_ = blocks;
}

void CustomAllReduce::connect_in_process(const std::vector<Ptr>& buffers, const std::vector<int>& devices,
                                         int blocks) {
  check_blocks(blocks);
  if (static_cast<int>(buffers.size()) != world_size_ || static_cast<int>(devices.size()) != world_size_) {
    throw std::invalid_argument("expected one buffer and one device per rank (" + std::to_string(world_size_) +
                                "), got " + std::to_string(buffers.size()) + " and " +
                                std::to_string(devices.size()));
  }
  if (buffers[rank_] != buffer() || devices[rank_] != device_) {
    throw std::invalid_argument("entry " + std::to_string(rank_) + " must be this rank's own buffer and device");
  }
  DeviceGuard guard(device_);
  for (int r = 0; r < world_size_; ++r) {
    if (r == rank_ || devices[r] == device_) continue;
    if (!can_access_peer(device_, devices[r])) {
      throw std::runtime_error("cuda:" + std::to_string(device_) + " cannot access cuda:" +
                               std::to_string(devices[r]) + " (cudaDeviceCanAccessPeer)");
    }
    cudaError_t status = cudaDeviceEnablePeerAccess(devices[r], 0);
    if (status == cudaErrorPeerAccessAlreadyEnabled) {
      cudaGetLastError();  // someone (torch, NCCL) enabled it before: fine
    } else {
      NCCLKIT_CUDA_CHECK(status);
    }
  }
  for (int r = 0; r < world_size_; ++r) peers_[r] = reinterpret_cast<char*>(buffers[r]);
  blocks_ = blocks;
}

void CustomAllReduce::all_reduce(Ptr send, Ptr recv, std::size_t count, int dtype, CustomAllReduceAlgorithm algorithm,
                                 Ptr stream) {
  if (!connected()) throw std::logic_error("custom all-reduce is not connected to the other ranks yet");
  if (algorithm != CustomAllReduceAlgorithm::kOneShot && algorithm != CustomAllReduceAlgorithm::kTwoShot) {
    throw std::invalid_argument("unknown custom all-reduce algorithm " + std::to_string(static_cast<int>(algorithm)));
  }
  const auto type = static_cast<ncclDataType_t>(dtype);
  if (type != ncclFloat32 && type != ncclFloat16 && type != ncclBfloat16) {
    throw std::invalid_argument("custom all-reduce sums float16, bfloat16 and float32, not NCCL type " +
                                std::to_string(dtype));
  }
  // Compared as counts: count * element size may overflow.
  const std::size_t element = element_size(type);
  if (count > max_bytes_ / element) {
    throw std::invalid_argument("custom all-reduce of " + std::to_string(count) + " elements of " +
                                std::to_string(element) + " bytes: its buffer holds " + std::to_string(max_bytes_) +
                                " bytes");
  }
  if (send % element != 0 || recv % element != 0) {
    throw std::invalid_argument("custom all-reduce needs send and recv aligned to their " + std::to_string(element) +
                                "-byte elements");
  }
  if (count == 0) return;
  custom_ar::Launch launch{};
  std::copy(peers_.begin(), peers_.end(), launch.peers.base);
  launch.rank = rank_;
  launch.in = reinterpret_cast<const void*>(send);
  launch.out = reinterpret_cast<void*>(recv);
  launch.count = count;
  launch.max_bytes = max_bytes_;
  launch.low_latency_max_bytes = low_latency_max_bytes_;
  launch.blocks = blocks_;
  launch.stream = reinterpret_cast<cudaStream_t>(stream);
  DeviceGuard guard(device_);
  if (type == ncclFloat32) {
    custom_ar::launch_for_world<custom_ar::Float32>(world_size_, algorithm, launch);
  } else if (type == ncclFloat16) {
    custom_ar::launch_for_world<custom_ar::Float16>(world_size_, algorithm, launch);
  } else {
    custom_ar::launch_for_world<custom_ar::BFloat16>(world_size_, algorithm, launch);
  }
}

bool can_access_peer(int device, int peer) {
  if (device == peer) return true;
  int can = 0;
  NCCLKIT_CUDA_CHECK(cudaDeviceCanAccessPeer(&can, device, peer));
  return can != 0;
}

std::string pci_bus_id(int device) {
  char id[32] = {};
  NCCLKIT_CUDA_CHECK(cudaDeviceGetPCIBusId(id, sizeof(id), device));
  return id;
}

int device_by_pci_bus_id(const std::string& bus_id) {
  int device = -1;
  if (cudaDeviceGetByPCIBusId(&device, bus_id.c_str()) != cudaSuccess) {
    cudaGetLastError();
    return -1;
  }
  return device;
}

}  // namespace ncclkit

#endif  // NCCLKIT_WITH_NCCL
