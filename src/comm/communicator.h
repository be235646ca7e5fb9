// One NCCL communicator on one device. Buffers and streams are raw addresses: the Python layer
// (ncclkit.comm) checks arrays and picks streams; this class checks only what would crash NCCL.
//
// Safe to share between threads: one call at a time reaches NCCL (a lock per communicator, as
// NCCL's thread-safety rules ask), and abort() from another thread ends a call that waits on a
// non-blocking communicator (how a watchdog ends a hang). A call that waits inside NCCL itself,
// on a blocking communicator, cannot be interrupted: abort() waits for it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
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

  // Returns at once for a non-blocking config: NCCL goes on initializing, which poll() tells.
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

  // A non-blocking communicator: false while NCCL is still at its last operation (its init, say),
  // true once that is done; NcclError for what it failed with. A blocking one: true.
  bool poll();
  // Waits until poll() would say true, for at most timeout() (NcclTimeout).
  void wait();
  // How long a call waits for a non-blocking communicator's operation in progress; none: forever.
  std::optional<double> timeout() const;
  void set_timeout(std::optional<double> seconds);
  bool blocking() const noexcept { return blocking_; }

  bool valid() const noexcept { return state_.load() != State::kGone; }
  // The ncclComm_t, for an extension's own NCCL calls (<ncclkit/communicator.h>); refused once the
  // communicator is destroyed or aborted.
  Ptr native_handle() const;
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
  // kFinalized and kRevoked allow only what NCCL allows after ncclCommFinalize / ncclCommRevoke.
  enum class State { kLive = 1, kFinalized = 2, kRevoked = 4, kGone = 8 };
  class Call;

  Communicator(ncclComm_t comm, int device, bool blocking, int rank, int world_size);
  // A communicator NCCL made from this one (split, shrink): its rank and size once it is ready.
  std::unique_ptr<Communicator> adopt(ncclComm_t child);
  // Waits until the communicator has left the ncclInProgress state, for at most the timeout, as
  // long as no abort() is asked for; an error it then holds is `call`'s. Under the lock.
  void wait_while_in_progress(const char* call) const;
  void check(ncclResult_t code, const char* call) const;
  void check_peer(int peer, const char* what) const;
  std::optional<DeviceGuard> one_rank_guard(ncclRedOp_t op, Ptr send, Ptr recv, Ptr stream) const;

  ncclComm_t comm_ = nullptr;
  int device_ = 0;
  bool blocking_ = true;
  int rank_ = 0;
  int world_size_ = 0;
  std::atomic<State> state_{State::kLive};
  std::atomic<bool> abort_requested_{false};
  std::optional<std::chrono::duration<double>> timeout_;
  unsigned process_generation_;  // fork_generation() when made: a forked child's differs
  mutable std::mutex mutex_;
};

// A group of NCCL calls that closes on every path: ncclGroupEnd in end(), or, leaving by an
// exception, in the destructor (whose own error then gives way to the first one).
class GroupScope {
 public:
  GroupScope();
  ~GroupScope();
  void end();
  GroupScope(const GroupScope&) = delete;
  GroupScope& operator=(const GroupScope&) = delete;

 private:
  bool open_ = true;
};

void group_start();
void group_end();
std::string get_unique_id();

}  // namespace ncclkit
