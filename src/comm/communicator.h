// One NCCL communicator on one device. Buffers and streams are raw addresses: the Python layer
// (ncclkit.comm) checks arrays and picks streams; this class checks only what would crash NCCL.
//
// Safe to share between threads: one call at a time reaches NCCL (a lock per communicator, as
// NCCL's thread-safety rules ask), and abort() from another thread ends a call that waits on a
// non-blocking communicator (how a watchdog ends a hang). A call that waits inside NCCL itself,
// on a blocking communicator, cannot be interrupted: abort() waits for it.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "comm/collective_config.h"
#include "comm/comm_config.h"
#include "comm/reduction.h"
#include "common/cuda_check.h"
#include "common/gpu_api.h"
#include "ncclkit/config.h"

namespace ncclkit {

class Communicator {
 public:
  using Ptr = std::uintptr_t;

  // Returns at once for a non-blocking config: NCCL goes on initializing, which poll() tells.
  // `scalable`: ncclCommInitRankScalable over `unique_ids` (alike on every rank, in the same
  // order); else ncclCommInitRankConfig over the one id.
  static std::unique_ptr<Communicator> init_rank(int world_size, const std::vector<std::string>& unique_ids, int rank,
                                                 int device, CommConfig config, bool scalable);
  static std::vector<std::unique_ptr<Communicator>> init_all(const std::vector<int>& devices);
  ~Communicator();

  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  // A communicator of the ranks that pass the same color, ordered by key; null for a negative
  // color. No config: the child has this one's; a config: NCCL's defaults for what it leaves
  // unset, but blocking, which stays this one's unless it says otherwise.
  std::unique_ptr<Communicator> split(int color, int key, std::optional<CommConfig> config);
#if NCCLKIT_HAS_COMM_SHRINK
  // A communicator of every rank but `exclude_ranks` (e.g. ranks that failed); abort_first is for
  // a communicator with operations that will never finish.
  std::unique_ptr<Communicator> shrink(std::vector<int> exclude_ranks, bool abort_first,
                                       std::optional<CommConfig> config);
#endif
#if NCCLKIT_HAS_COMM_GROW
  // The id the new ranks of a grow() join with (ncclCommGetUniqueId), made by one existing rank.
  std::string grow_unique_id();
  // This communicator with ranks added up to `world_size` (ncclCommGrow): every existing rank
  // calls it, the one that made the id passes it.
  std::unique_ptr<Communicator> grow(int world_size, const std::optional<std::string>& unique_id,
                                     std::optional<CommConfig> config);
  // A new rank's side of grow(): `rank` of `world_size`, joining with the id grow_unique_id made.
  static std::unique_ptr<Communicator> join(int world_size, const std::string& unique_id, int rank, int device,
                                            CommConfig config);
#endif
#if NCCLKIT_HAS_COMM_REVOKE
  // Stops every operation in flight and waits until none is left; destroy, split and shrink may
  // follow, collectives may not (ncclCommRevoke).
  void revoke();
#endif
#if NCCLKIT_HAS_COMM_SUSPEND
  // Releases NCCL's dynamic GPU memory (NCCL_SUSPEND_MEM, the one thing it suspends) until
  // resume(); no call but resume, destroy and abort runs in between.
  void suspend();
  void resume();
#endif
#if NCCLKIT_HAS_COMM_MEM_STATS
  // ncclCommMemStats of one ncclCommMemStat_t.
  std::uint64_t memory_stat(int stat);
#endif
#if NCCLKIT_HAS_BUFFER_REGISTRATION
  // Registers [buf, buf + nbytes) with the communicator for zero-copy paths; returns the handle.
  Ptr register_buffer(Ptr buf, std::size_t nbytes);
  void deregister_buffer(Ptr handle);
#endif
#if NCCLKIT_HAS_WINDOW_REGISTRATION
  // Registers [buf, buf + nbytes) as a window of every rank (collective: each rank passes its
  // own); returns the ncclWindow_t. `flags`: NCCL_WIN_*.
  Ptr register_window(Ptr buf, std::size_t nbytes, int flags);
  void deregister_window(Ptr window);
#endif
#if NCCLKIT_HAS_WINDOW_USER_PTR
  Ptr window_user_ptr(Ptr window);
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

  // `config`: NCCL 2.31's per-call configuration (the nccl*Config entry point); null: none.
  void all_reduce(Ptr send, Ptr recv, std::size_t count, int dtype, const Reduction& op, Ptr stream,
                  const CollectiveConfig* config = nullptr);
  void broadcast(Ptr send, Ptr recv, std::size_t count, int dtype, int root, Ptr stream,
                 const CollectiveConfig* config = nullptr);
  void reduce(Ptr send, Ptr recv, std::size_t count, int dtype, const Reduction& op, int root, Ptr stream,
              const CollectiveConfig* config = nullptr);
  void all_gather(Ptr send, Ptr recv, std::size_t send_count, int dtype, Ptr stream,
                  const CollectiveConfig* config = nullptr);
  void reduce_scatter(Ptr send, Ptr recv, std::size_t recv_count, int dtype, const Reduction& op, Ptr stream,
                      const CollectiveConfig* config = nullptr);
  // Rank r's i-th block of `count_per_peer` elements goes to rank i's r-th block.
  void all_to_all(Ptr send, Ptr recv, std::size_t count_per_peer, int dtype, Ptr stream,
                  const CollectiveConfig* config = nullptr);
  // Each rank's `count` elements to block r of root's recv (ncclGather; below NCCL 2.28, and on
  // an NCCL that lacks it, grouped sends and receives).
  void gather(Ptr send, Ptr recv, std::size_t count, int dtype, int root, Ptr stream,
              const CollectiveConfig* config = nullptr);
  // Block r of root's send to rank r's `count` elements (ncclScatter; grouped below 2.28).
  void scatter(Ptr send, Ptr recv, std::size_t count, int dtype, int root, Ptr stream,
               const CollectiveConfig* config = nullptr);
  // Uneven collectives: rank r's part is counts[r] elements, at the sum of the counts before it.
  // all_gather_v: a broadcast from each rank; reduce_scatter_v: a reduce to each; one group.
  void all_gather_v(Ptr send, Ptr recv, const std::vector<std::size_t>& counts, int dtype, Ptr stream);
  void reduce_scatter_v(Ptr send, Ptr recv, const std::vector<std::size_t>& counts, int dtype, const Reduction& op,
                        Ptr stream);
  // send_counts[i] elements to rank i, recv_counts[i] from it: a send and a receive per peer.
  void all_to_all_v(Ptr send, const std::vector<std::size_t>& send_counts, Ptr recv,
                    const std::vector<std::size_t>& recv_counts, int dtype, Ptr stream);
  void send(Ptr buf, std::size_t count, int dtype, int peer, Ptr stream);
  void recv(Ptr buf, std::size_t count, int dtype, int peer, Ptr stream);
#if NCCLKIT_HAS_ONE_SIDED
  // One-sided, on windows: `count` elements of buf into `peer`'s part of `window`, `offset` bytes
  // in, then a signal on (`signal`, `context`) there; a signal alone; a wait for signals, each
  // wait (peer, how many, signal, context).
  void put_signal(Ptr buf, std::size_t count, int dtype, int peer, Ptr window, std::size_t offset, int signal,
                  int context, Ptr stream);
  void signal(int peer, int signal, int context, Ptr stream);
  void wait_signal(const std::vector<std::array<int, 4>>& waits, Ptr stream);
#endif

 private:
  // kFinalized, kRevoked and kSuspended allow only what NCCL allows after ncclCommFinalize,
  // ncclCommRevoke and ncclCommSuspend.
  enum class State { kLive = 1, kFinalized = 2, kRevoked = 4, kGone = 8, kSuspended = 16 };
  class Call;

  Communicator(ncclComm_t comm, int device, bool blocking, int rank, int world_size);
  // A communicator NCCL made from this one (split, shrink, grow): its rank and size once it is
  // ready; `config` the one it was made with, if any.
  std::unique_ptr<Communicator> adopt(ncclComm_t child, std::optional<CommConfig> config);
  // The config of a child of this communicator: blocking as this one unless it says otherwise.
  std::optional<CommConfig> child_config(std::optional<CommConfig> config) const;
  // Waits until the communicator has left the ncclInProgress state, for at most the timeout, as
  // long as no abort() is asked for; an error it then holds is `call`'s. Under the lock.
  void wait_while_in_progress(const char* call) const;
  void check(ncclResult_t code, const char* call) const;
  void check_peer(int peer, const char* what) const;
  std::optional<DeviceGuard> one_rank_guard(const ReductionScope& op, Ptr send, Ptr recv, Ptr stream) const;
  std::optional<DeviceGuard> one_rank_guard(Ptr send, Ptr recv, Ptr stream) const;

  ncclComm_t comm_ = nullptr;
  int device_ = 0;
  bool blocking_ = true;
  int rank_ = 0;
  int world_size_ = 0;
  std::atomic<State> state_{State::kLive};
  std::atomic<bool> abort_requested_{false};
  std::optional<std::chrono::duration<double>> timeout_;
  std::deque<std::string> config_texts_;  // what its ncclConfig_t pointed to: NCCL keeps the pointers
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

// ncclGroupStart, counted per thread; `simulate`: the group ends with group_simulate_end.
void group_start(bool simulate = false);
void group_end();
#if NCCLKIT_HAS_GROUP_SIMULATE
// ncclGroupSimulateEnd in place of ncclGroupEnd: the group's calls are not run; NCCL's estimate of
// how long they would take (its ncclSimInfo_t.estimatedTime, in microseconds).
float group_simulate_end();
#endif
std::string get_unique_id();

}  // namespace ncclkit
