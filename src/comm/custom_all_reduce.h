// Custom all-reduce for small messages between the GPUs of one node: every rank's buffer is
// mapped into every other rank (CUDA IPC between processes, peer access within one), and one
// kernel per call copies, synchronises through flags in those buffers, and reduces, where NCCL
// would run its own protocol. Sum of float16, bfloat16 and float32, 1 to kMaxRanks ranks.
//
// CUDA only: a ROCm build (NCCLKIT_WITH_RCCL) leaves this out, and ncclkit.custom_all_reduce
// says so. The AMD memory model and RCCL's own IPC path would need their own kernel.
#pragma once

#include "ncclkit/config.h"

#if NCCLKIT_WITH_NCCL

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/gpu_api.h"

namespace ncclkit {

// What each rank's buffer holds, in order:
//   signals   flags[block][rank]: rank's count of barriers its block `block` has reached, written
//             by that rank; counters[block]: this rank's own count, read and written only here;
//             the low-latency one-shot's count of calls.
//   data      this rank's input, copied in by the kernel (max_bytes).
//   scratch   two-shot: this rank's reduced segment, which the others gather (max_bytes).
//   lines     low-latency one-shot: two sets (even and odd calls) of one slot per rank, into which
//             that rank writes its input as 16-byte lines of 8 data bytes and two flags
//             (2 x world_size x 2 x ll_max_bytes).
struct CustomAllReduceLayout {
  static constexpr int kMaxRanks = 8;
  // Blocks per kernel: enough to saturate NVLink at these sizes (vLLM's and TensorRT-LLM's
  // measurements settled near 36) and few enough to be resident together on any GPU that has them.
  static constexpr int kMaxBlocks = 36;
  static constexpr int kThreads = 512;
  // 16-byte loads and stores: the packed width every region is aligned to.
  static constexpr std::size_t kVectorBytes = 16;
  // The signal area, padded so that data starts page-aligned.
  static constexpr std::size_t kSignalBytes = 4096;
  // One-shot messages up to this size take the low-latency kernel: its lines carry their own
  // flags, so a call needs no barrier, for twice the bytes on the wire.
  static constexpr std::size_t kLowLatencyMaxBytes = 512 * 1024;
  // The largest buffer: the kernels count elements and offsets within it in 32-bit ints' range,
  // and a message this large is NCCL's to move anyway.
  static constexpr std::size_t kMaxBytes = std::size_t{1} << 31;
};

enum class CustomAllReduceAlgorithm : int { kOneShot = 1, kTwoShot = 2 };

class CustomAllReduce {
 public:
  using Ptr = std::uintptr_t;

  // Allocates and zeroes this rank's buffer on `device` (max_bytes of data, as much scratch).
  CustomAllReduce(int device, int rank, int world_size, std::size_t max_bytes);
  ~CustomAllReduce();
  CustomAllReduce(const CustomAllReduce&) = delete;
  CustomAllReduce& operator=(const CustomAllReduce&) = delete;

  // cudaIpcGetMemHandle of the buffer, for ranks in other processes (CUDA_IPC_HANDLE_SIZE bytes).
  std::string ipc_handle() const;
  // The buffer's address, for ranks of this process.
  Ptr buffer() const noexcept { return reinterpret_cast<Ptr>(buffer_); }

  // Maps every other rank's buffer from its IPC handle (`handles[rank]`, this rank's, is not
  // opened); `blocks` is the grid size every rank agreed on (the fewest SMs, at most kMaxBlocks).
  void open_ipc_handles(const std::vector<std::string>& handles, int blocks);
  // For ranks of this process: their buffers' addresses and devices; enables peer access.
  void connect_in_process(const std::vector<Ptr>& buffers, const std::vector<int>& devices, int blocks);

  // recv = sum over ranks of send (send == recv is fine), `count` elements of NCCL type `dtype`,
  // on `stream`; capturable in a CUDA graph. Every rank must make the same calls, in one order.
  void all_reduce(Ptr send, Ptr recv, std::size_t count, int dtype, CustomAllReduceAlgorithm algorithm, Ptr stream);

  bool connected() const noexcept { return blocks_ > 0; }
  int device() const noexcept { return device_; }
  int rank() const noexcept { return rank_; }
  int world_size() const noexcept { return world_size_; }
  std::size_t max_bytes() const noexcept { return max_bytes_; }
  // The largest one-shot message the low-latency kernel takes: min(max_bytes, kLowLatencyMaxBytes).
  std::size_t low_latency_max_bytes() const noexcept { return low_latency_max_bytes_; }
  int multiprocessors() const noexcept { return multiprocessors_; }

 private:
  void check_blocks(int blocks) const;

  int device_;
  int rank_;
  int world_size_;
  std::size_t max_bytes_;
  std::size_t low_latency_max_bytes_;
  int multiprocessors_ = 0;
  int blocks_ = 0;  // 0 until connected
  char* buffer_ = nullptr;
  std::vector<char*> peers_;   // every rank's buffer as this device addresses it
  std::vector<char*> opened_;  // the IPC mappings to close
};

// Whether `device` can read and write `peer`'s memory (cudaDeviceCanAccessPeer; true for itself).
bool can_access_peer(int device, int peer);
// The device's PCI bus id ("0000:1b:00.0"), which names it the same way in every process.
std::string pci_bus_id(int device);
// The device of this process with that bus id, or -1 when this process does not see it.
int device_by_pci_bus_id(const std::string& bus_id);

}  // namespace ncclkit

#endif  // NCCLKIT_WITH_NCCL
