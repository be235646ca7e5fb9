// One NCCL communicator on one device. Buffers and streams are raw addresses: the Python layer
// (ncclkit.comm) checks arrays and picks streams; this class checks only what would crash NCCL.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/cuda_check.h"
#include "common/gpu_api.h"
#include "ncclkit/config.h"

namespace ncclkit {

// ncclConfig_t fields a caller may set; unset ones keep NCCL's defaults.
struct CommConfig {
  std::optional<bool> blocking;
  std::optional<int> cga_cluster_size;
  std::optional<int> min_ctas;
  std::optional<int> max_ctas;
  std::optional<std::string> net_name;
};

class Communicator {
 public:
  using Ptr = std::uintptr_t;

  static std::unique_ptr<Communicator> init_rank(int world_size, const std::string& unique_id, int rank,
                                                 int device, const CommConfig& config);
  static std::vector<std::unique_ptr<Communicator>> init_all(const std::vector<int>& devices);
  ~Communicator();

  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  // A communicator of the ranks that pass the same color, ordered by key; null for a negative color.
  std::unique_ptr<Communicator> split(int color, int key);
#if NCCLKIT_HAS_COMM_SHRINK
  // A communicator of every rank but `exclude_ranks` (e.g. ranks that failed); abort_first is for
  // a communicator with operations that will never finish.
  std::unique_ptr<Communicator> shrink(std::vector<int> exclude_ranks, bool abort_first);
#endif
#if NCCLKIT_HAS_COMM_REVOKE
  // Stops every operation in flight and waits until none is left; destroy, split and shrink may
  // follow, collectives may not (ncclCommRevoke).
  void revoke();
#endif
#if NCCLKIT_HAS_BUFFER_REGISTRATION
  // Registers [buf, buf + nbytes) with the communicator for zero-copy paths; returns the handle.
  Ptr register_buffer(Ptr buf, std::size_t nbytes);
  void deregister_buffer(Ptr handle);
#endif
  void finalize();
  void destroy();
  void abort();

  bool valid() const noexcept { return comm_ != nullptr; }
  int rank() const noexcept { return rank_; }
  int world_size() const noexcept { return world_size_; }
  int device() const noexcept { return device_; }

  void all_reduce(Ptr send, Ptr recv, std::size_t count, int dtype, int op, Ptr stream);
  void broadcast(Ptr send, Ptr recv, std::size_t count, int dtype, int root, Ptr stream);
  void reduce(Ptr send, Ptr recv, std::size_t count, int dtype, int op, int root, Ptr stream);
  void all_gather(Ptr send, Ptr recv, std::size_t send_count, int dtype, Ptr stream);
  void reduce_scatter(Ptr send, Ptr recv, std::size_t recv_count, int dtype, int op, Ptr stream);
  void send(Ptr buf, std::size_t count, int dtype, int peer, Ptr stream);
  void recv(Ptr buf, std::size_t count, int dtype, int peer, Ptr stream);
  // Rank r's i-th block of `count_per_peer` elements goes to rank i's r-th block.
  void all_to_all(Ptr send, Ptr recv, std::size_t count_per_peer, int dtype, Ptr stream);

 private:
  Communicator(ncclComm_t comm, int device, bool blocking);
  ncclComm_t checked() const;
  // Waits until a non-blocking communicator's last operation has left the ncclInProgress state.
  void wait_ready() const;
  // Waits until the communicator has left the ncclInProgress state (takes the GIL off this thread);
  // an error it then holds is `call`'s.
  void wait_quiescent(const char* call) const;
  void check(ncclResult_t code, const char* call) const;
  void check_peer(int peer, const char* what) const;
  std::optional<DeviceGuard> one_rank_guard(ncclRedOp_t op, Ptr send, Ptr recv, Ptr stream) const;

  ncclComm_t comm_ = nullptr;
  int rank_ = 0;
  int world_size_ = 0;
  int device_ = 0;
  bool blocking_ = true;
};

void group_start();
void group_end();
std::string get_unique_id();

}  // namespace ncclkit
