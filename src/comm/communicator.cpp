#include "comm/communicator.h"

#include <pybind11/pybind11.h>

#include <pthread.h>

#include <stdexcept>
#include <thread>

#include "common/cuda_check.h"
#include "comm/nccl_error.h"
#include "comm/types.h"

namespace py = pybind11;

namespace ncclkit {

namespace {

ncclDataType_t as_dtype(int dtype) {
  auto t = static_cast<ncclDataType_t>(dtype);
  element_size(t);  // throws for a type this build does not know
#if NCCLKIT_HAS_FP8
  // The header has the fp8 types; an NCCL older than 2.24 does not (10 is its ncclNumTypes).
  static const bool fp8_loaded = NCCLKIT_NCCL_FEATURE_AVAILABLE(FP8);
  if ((t == ncclFloat8e4m3 || t == ncclFloat8e5m2) && !fp8_loaded) {
    throw NcclUnavailable(t == ncclFloat8e4m3 ? "ncclFloat8e4m3" : "ncclFloat8e5m2", NCCLKIT_NCCL_SINCE_FP8);
  }
#endif
  return t;
}

ncclRedOp_t as_op(int op) {
  // One bit per op this build knows, worked out once: all_reduce is called often enough that a
  // walk over nccl_ops() would show.
  static const unsigned known = [] {
    unsigned bits = 0;
    for (const auto& entry : nccl_ops()) bits |= 1u << entry.second;
    return bits;
  }();
  if (op < 0 || op >= 32 || !(known >> op & 1u)) {
    throw std::invalid_argument("unknown NCCL reduction op " + std::to_string(op));
  }
  return static_cast<ncclRedOp_t>(op);
}

void* as_ptr(Communicator::Ptr p) { return reinterpret_cast<void*>(p); }
cudaStream_t as_stream(Communicator::Ptr s) { return reinterpret_cast<cudaStream_t>(s); }

// Bumped in the child by fork(): a communicator made before it is the parent's, whose NCCL
// threads and CUDA context the child does not have.
std::atomic<unsigned> fork_generation{0};
const bool fork_counted = [] {
  pthread_atfork(nullptr, nullptr, [] { fork_generation.fetch_add(1); });
  return true;
}();

unsigned process_generation() {
  static_cast<void>(fork_counted);
  return fork_generation.load();
}

void check_process(unsigned made_in, const char* call) {
  if (made_in != process_generation()) {
    throw std::runtime_error(std::string(call) +
                             ": this communicator was made before fork(), in the parent process; a child has "
                             "none of its NCCL or CUDA state. Make communicators in the child (or start "
                             "children with multiprocessing's 'spawn' method)");
  }
}

// The states in which a call may run (Communicator::State's bits).
constexpr int kOnlyLive = 1;
constexpr int kLiveOrRevoked = 1 | 4;
constexpr int kAnyButGone = 1 | 2 | 4;

constexpr auto kSignalCheckInterval = std::chrono::milliseconds(100);

}  // namespace

// One call's hold on the communicator: the GIL released first, then the lock taken, so that a
// thread holding the lock never waits for a GIL that a thread waiting for the lock holds (a
// forked child checks first: its copy of the lock may be held by a thread it does not have).
// Then whether the call may run in the communicator's state, and, on a non-blocking
// communicator, the wait for NCCL to finish the operation before (NCCL takes no call while one
// is in progress).
class Communicator::Call {
 public:
  Call(Communicator& comm, const char* call, int allowed_states) : comm_(comm), lock_(comm.mutex_, std::defer_lock) {
    check_process(comm.process_generation_, call);
    lock_.lock();
    const State state = comm.state_.load();
    if (!(static_cast<int>(state) & allowed_states)) {
      switch (state) {
        case State::kGone: throw std::invalid_argument("communicator has been destroyed");
        case State::kFinalized:
          throw std::invalid_argument(std::string(call) +
                                      ": the communicator has been finalized; only destroy() or abort() may follow");
        default:
          throw std::invalid_argument(std::string(call) +
                                      ": the communicator has been revoked; only destroy(), abort(), split() or "
                                      "shrink() may follow");
      }
    }
    if (comm.abort_requested_.load()) throw CommunicatorAborted(call);
    if (!comm.blocking_) comm.wait_while_in_progress(call);
  }

  ncclComm_t comm() const { return comm_.comm_; }

 private:
  py::gil_scoped_release release_;
  Communicator& comm_;
  std::unique_lock<std::mutex> lock_;
};

Communicator::Communicator(ncclComm_t comm, int device, bool blocking, int rank, int world_size)
    : comm_(comm),
      device_(device),
      blocking_(blocking),
      rank_(rank),
      world_size_(world_size),
      process_generation_(process_generation()) {}

// Never throws (a destructor that did would end the process): CUDA calls' errors are ignored,
// and a forked child leaves the parent's communicator alone.
Communicator::~Communicator() {
  if (state_.load() == State::kGone || process_generation_ != process_generation()) return;
  int previous = -1;
  const bool switched = cudaGetDevice(&previous) == cudaSuccess && previous != device_ &&
                        cudaSetDevice(device_) == cudaSuccess;
  // A communicator still initializing, or one that failed, cannot be finalized: abort it.
  ncclResult_t async = ncclSuccess;
  if (ncclCommGetAsyncError(comm_, &async) == ncclSuccess && async == ncclSuccess) {
    ncclCommDestroy(comm_);
  } else {
    ncclCommAbort(comm_);
  }
  if (switched) cudaSetDevice(previous);
}

std::unique_ptr<Communicator> Communicator::init_rank(int world_size, const std::string& unique_id, int rank,
                                                      int device, const CommConfig& config) {
  if (unique_id.size() != NCCL_UNIQUE_ID_BYTES) {
    throw std::invalid_argument("unique_id must be " + std::to_string(NCCL_UNIQUE_ID_BYTES) + " bytes, got " +
                                std::to_string(unique_id.size()));
  }
  ncclUniqueId id;
  std::copy(unique_id.begin(), unique_id.end(), id.internal);
  ncclConfig_t nccl_config = NCCL_CONFIG_INITIALIZER;
  if (config.blocking) nccl_config.blocking = *config.blocking ? 1 : 0;
  if (config.cga_cluster_size) nccl_config.cgaClusterSize = *config.cga_cluster_size;
  if (config.min_ctas) nccl_config.minCTAs = *config.min_ctas;
  if (config.max_ctas) nccl_config.maxCTAs = *config.max_ctas;
  if (config.net_name) nccl_config.netName = config.net_name->c_str();

  DeviceGuard guard(device);
  ncclComm_t comm = nullptr;
  {
    py::gil_scoped_release release;
    nccl_check(ncclCommInitRankConfig(&comm, world_size, id, rank, &nccl_config), "ncclCommInitRankConfig",
               comm, /*in_progress_ok=*/true);
  }
  return std::unique_ptr<Communicator>(new Communicator(comm, device, nccl_config.blocking != 0, rank, world_size));
}

std::vector<std::unique_ptr<Communicator>> Communicator::init_all(const std::vector<int>& devices) {
  std::vector<ncclComm_t> comms(devices.size(), nullptr);
  {
    py::gil_scoped_release release;
    nccl_check(ncclCommInitAll(comms.data(), static_cast<int>(devices.size()), devices.data()), "ncclCommInitAll");
  }
  std::vector<std::unique_ptr<Communicator>> out;
  for (std::size_t i = 0; i < devices.size(); ++i) {
    out.emplace_back(new Communicator(comms[i], devices[i], true, static_cast<int>(i), static_cast<int>(devices.size())));
  }
  return out;
}

std::unique_ptr<Communicator> Communicator::adopt(ncclComm_t child) {
  if (child == nullptr) return nullptr;
  std::unique_ptr<Communicator> out(new Communicator(child, device_, blocking_, 0, 0));
  out->timeout_ = timeout_;
  if (!blocking_) out->wait_while_in_progress("the new communicator's init");
  check(ncclCommUserRank(child, &out->rank_), "ncclCommUserRank");
  check(ncclCommCount(child, &out->world_size_), "ncclCommCount");
  return out;
}

void Communicator::wait_while_in_progress(const char* call) const {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  auto next_signal_check = start + kSignalCheckInterval;
  for (unsigned spins = 0;; ++spins) {
    ncclResult_t state = ncclInProgress;
    nccl_check(ncclCommGetAsyncError(comm_, &state), "ncclCommGetAsyncError", comm_);
    if (state != ncclInProgress) return nccl_check(state, call, comm_);
    if (abort_requested_.load()) throw CommunicatorAborted(call);
    const auto now = clock::now();
    if (timeout_ && now - start > *timeout_) throw NcclTimeout(call, timeout_->count());
    if (now >= next_signal_check) {  // Ctrl-C ends the wait, as it would a Python loop
      py::gil_scoped_acquire gil;
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
      next_signal_check = now + kSignalCheckInterval;
    }
    // NCCL's own examples spin; past a short while a sleep leaves the core to NCCL's threads.
    if (spins < 1000) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }
}

bool Communicator::poll() {
  // Not a Call: that would wait for what poll asks about.
  check_process(process_generation_, "poll");
  py::gil_scoped_release release;
  std::lock_guard<std::mutex> lock(mutex_);
  if (state_.load() == State::kGone) throw std::invalid_argument("communicator has been destroyed");
  if (blocking_) return true;
  ncclResult_t state = ncclInProgress;
  nccl_check(ncclCommGetAsyncError(comm_, &state), "ncclCommGetAsyncError", comm_);
  if (state == ncclInProgress) return false;
  nccl_check(state, "the communicator's last operation", comm_);
  return true;
}

void Communicator::wait() { Call call(*this, "wait", kAnyButGone); }

std::optional<double> Communicator::timeout() const {
  if (!timeout_) return std::nullopt;
  return timeout_->count();
}

void Communicator::set_timeout(std::optional<double> seconds) {
  if (seconds && !(*seconds > 0)) throw std::invalid_argument("timeout must be a positive number of seconds or None");
  py::gil_scoped_release release;
  std::lock_guard<std::mutex> lock(mutex_);
  if (seconds) {
    timeout_ = std::chrono::duration<double>(*seconds);
  } else {
    timeout_.reset();
  }
}

void Communicator::check(ncclResult_t code, const char* call) const {
  nccl_check(code, call, comm_, /*in_progress_ok=*/!blocking_);
}

void Communicator::check_peer(int peer, const char* what) const {
  if (peer < 0 || peer >= world_size_) {
    throw std::invalid_argument(std::string(what) + " " + std::to_string(peer) + " is out of range for a communicator of " +
                            std::to_string(world_size_) + " ranks");
  }
}

std::unique_ptr<Communicator> Communicator::split(int color, int key) {
  Call call(*this, "split", kLiveOrRevoked);
  DeviceGuard guard(device_);
  ncclComm_t child = nullptr;
  check(ncclCommSplit(call.comm(), color < 0 ? NCCL_SPLIT_NOCOLOR : color, key, &child, nullptr), "ncclCommSplit");
  if (!blocking_) wait_while_in_progress("ncclCommSplit");
  return adopt(child);
}

#if NCCLKIT_HAS_COMM_SHRINK
std::unique_ptr<Communicator> Communicator::shrink(std::vector<int> exclude_ranks, bool abort_first) {
  NCCLKIT_REQUIRE_NCCL(ncclCommShrink);
  for (int rank : exclude_ranks) check_peer(rank, "excluded rank");
  Call call(*this, "shrink", kLiveOrRevoked);
  DeviceGuard guard(device_);
  ncclComm_t child = nullptr;
  check(ncclCommShrink(call.comm(), exclude_ranks.data(), static_cast<int>(exclude_ranks.size()), &child, nullptr,
                       abort_first ? NCCL_SHRINK_ABORT : NCCL_SHRINK_DEFAULT),
        "ncclCommShrink");
  if (!blocking_) wait_while_in_progress("ncclCommShrink");
  return adopt(child);  // none on a rank that was excluded
}
#endif

#if NCCLKIT_HAS_COMM_REVOKE
void Communicator::revoke() {
  NCCLKIT_REQUIRE_NCCL(ncclCommRevoke);
  Call call(*this, "revoke", kLiveOrRevoked);
  DeviceGuard guard(device_);
  nccl_check(ncclCommRevoke(call.comm(), NCCL_REVOKE_DEFAULT), "ncclCommRevoke", call.comm(), /*in_progress_ok=*/true);
  state_ = State::kRevoked;
  // Revoked, the communicator is ncclInProgress until nothing of it is in flight; an error it held
  // before (a peer that failed, say) is what revoke reports then. A blocking one waits here too.
  wait_while_in_progress("ncclCommRevoke");
}
#endif

#if NCCLKIT_HAS_BUFFER_REGISTRATION
Communicator::Ptr Communicator::register_buffer(Ptr buf, std::size_t nbytes) {
  NCCLKIT_REQUIRE_NCCL(ncclCommRegister);
  Call call(*this, "register_buffer", kOnlyLive);
  DeviceGuard guard(device_);
  void* handle = nullptr;
  check(ncclCommRegister(call.comm(), as_ptr(buf), nbytes, &handle), "ncclCommRegister");
  return reinterpret_cast<Ptr>(handle);
}

void Communicator::deregister_buffer(Ptr handle) {
  NCCLKIT_REQUIRE_NCCL(ncclCommDeregister);
  Call call(*this, "deregister_buffer", kOnlyLive);
  DeviceGuard guard(device_);
  check(ncclCommDeregister(call.comm(), as_ptr(handle)), "ncclCommDeregister");
}
#endif

void Communicator::finalize() {
  Call call(*this, "finalize", kOnlyLive);
  DeviceGuard guard(device_);
  check(ncclCommFinalize(call.comm()), "ncclCommFinalize");
  state_ = State::kFinalized;
  if (!blocking_) wait_while_in_progress("ncclCommFinalize");
}

void Communicator::destroy() {
  Call call(*this, "destroy", kAnyButGone);
  DeviceGuard guard(device_);
  ncclComm_t comm = comm_;
  state_ = State::kGone;
  comm_ = nullptr;
  nccl_check(ncclCommDestroy(comm), "ncclCommDestroy", nullptr, /*in_progress_ok=*/true);
}

Communicator::Ptr Communicator::native_handle() const {
  check_process(process_generation_, "ptr");
  if (state_.load() == State::kGone) {
    throw std::invalid_argument("communicator has been destroyed or aborted: it has no ncclComm_t");
  }
  return reinterpret_cast<Ptr>(comm_);
}

void Communicator::abort() {
  // Seen by a call waiting in another thread, which then gives up the lock this one waits for.
  check_process(process_generation_, "abort");
  abort_requested_ = true;
  py::gil_scoped_release release;
  std::lock_guard<std::mutex> lock(mutex_);
  if (state_.load() == State::kGone) throw std::invalid_argument("communicator has been destroyed");
  DeviceGuard guard(device_);
  ncclComm_t comm = comm_;
  state_ = State::kGone;
  comm_ = nullptr;
  nccl_check(ncclCommAbort(comm), "ncclCommAbort", nullptr, /*in_progress_ok=*/true);
}

// NCCL makes a communicator's device current for its launches (its group.cc), so a collective
// needs no device guard, nor the cudaGetDevice each guard costs. Except with one rank, where NCCL
// calls CUDA at once on whatever device is current: a kernel for avg, and out of place a copy on
// `stream`, which 0, cudaStreamLegacy (1) and cudaStreamPerThread (2) make the current device's.
std::optional<DeviceGuard> Communicator::one_rank_guard(ncclRedOp_t op, Ptr send, Ptr recv, Ptr stream) const {
  const bool copy_only = op == ncclSum || op == ncclProd || op == ncclMax || op == ncclMin;
  const bool current_devices_stream = stream <= 2;
  if (world_size_ == 1 && (!copy_only || (send != recv && current_devices_stream))) {
    return std::optional<DeviceGuard>(std::in_place, device_);
  }
  return std::nullopt;
}

void Communicator::all_reduce(Ptr send, Ptr recv, std::size_t count, int dtype, int op, Ptr stream) {
  ncclDataType_t t = as_dtype(dtype);
  ncclRedOp_t o = as_op(op);
  Call call(*this, "all_reduce", kOnlyLive);
  const auto guard = one_rank_guard(o, send, recv, stream);
  ncclComm_t comm = call.comm();
  check(ncclAllReduce(as_ptr(send), as_ptr(recv), count, t, o, comm, as_stream(stream)), "ncclAllReduce");
}

void Communicator::broadcast(Ptr send, Ptr recv, std::size_t count, int dtype, int root, Ptr stream) {
  check_peer(root, "root");
  ncclDataType_t t = as_dtype(dtype);
  Call call(*this, "broadcast", kOnlyLive);
  const auto guard = one_rank_guard(ncclSum, send, recv, stream);
  ncclComm_t comm = call.comm();
  check(ncclBroadcast(as_ptr(send), as_ptr(recv), count, t, root, comm, as_stream(stream)), "ncclBroadcast");
}

void Communicator::reduce(Ptr send, Ptr recv, std::size_t count, int dtype, int op, int root, Ptr stream) {
  check_peer(root, "root");
  ncclDataType_t t = as_dtype(dtype);
  ncclRedOp_t o = as_op(op);
  Call call(*this, "reduce", kOnlyLive);
  const auto guard = one_rank_guard(o, send, recv, stream);
  ncclComm_t comm = call.comm();
  check(ncclReduce(as_ptr(send), as_ptr(recv), count, t, o, root, comm, as_stream(stream)), "ncclReduce");
}

void Communicator::all_gather(Ptr send, Ptr recv, std::size_t send_count, int dtype, Ptr stream) {
  ncclDataType_t t = as_dtype(dtype);
  Call call(*this, "all_gather", kOnlyLive);
  const auto guard = one_rank_guard(ncclSum, send, recv, stream);
  ncclComm_t comm = call.comm();
  check(ncclAllGather(as_ptr(send), as_ptr(recv), send_count, t, comm, as_stream(stream)), "ncclAllGather");
}

void Communicator::reduce_scatter(Ptr send, Ptr recv, std::size_t recv_count, int dtype, int op, Ptr stream) {
  ncclDataType_t t = as_dtype(dtype);
  ncclRedOp_t o = as_op(op);
  Call call(*this, "reduce_scatter", kOnlyLive);
  const auto guard = one_rank_guard(o, send, recv, stream);
  ncclComm_t comm = call.comm();
  check(ncclReduceScatter(as_ptr(send), as_ptr(recv), recv_count, t, o, comm, as_stream(stream)),
        "ncclReduceScatter");
}

void Communicator::send(Ptr buf, std::size_t count, int dtype, int peer, Ptr stream) {
  check_peer(peer, "peer");
  ncclDataType_t t = as_dtype(dtype);
  Call call(*this, "send", kOnlyLive);
  ncclComm_t comm = call.comm();
  check(ncclSend(as_ptr(buf), count, t, peer, comm, as_stream(stream)), "ncclSend");
}

void Communicator::recv(Ptr buf, std::size_t count, int dtype, int peer, Ptr stream) {
  check_peer(peer, "peer");
  ncclDataType_t t = as_dtype(dtype);
  Call call(*this, "recv", kOnlyLive);
  ncclComm_t comm = call.comm();
  check(ncclRecv(as_ptr(buf), count, t, peer, comm, as_stream(stream)), "ncclRecv");
}

void Communicator::all_to_all(Ptr send, Ptr recv, std::size_t count_per_peer, int dtype, Ptr stream) {
  ncclDataType_t t = as_dtype(dtype);
  Call call(*this, "all_to_all", kOnlyLive);
  ncclComm_t comm = call.comm();
#if NCCLKIT_HAS_ALL_TO_ALL
  if (NCCLKIT_NCCL_HAS_ENTRY_POINT(ncclAlltoAll)) {
    check(ncclAlltoAll(as_ptr(send), as_ptr(recv), count_per_peer, t, comm, as_stream(stream)), "ncclAlltoAll");
    return;
  }
#endif
  // Below NCCL 2.28: a send and a receive per peer, in one group.
  const std::size_t block = count_per_peer * element_size(t);
  GroupScope group;
  for (int peer = 0; peer < world_size_; ++peer) {
    check(ncclSend(as_ptr(send + peer * block), count_per_peer, t, peer, comm, as_stream(stream)), "ncclSend");
    check(ncclRecv(as_ptr(recv + peer * block), count_per_peer, t, peer, comm, as_stream(stream)), "ncclRecv");
  }
  group.end();
}

GroupScope::GroupScope() { nccl_check(ncclGroupStart(), "ncclGroupStart"); }

GroupScope::~GroupScope() {
  if (open_) ncclGroupEnd();
}

void GroupScope::end() {
  open_ = false;
  nccl_check(ncclGroupEnd(), "ncclGroupEnd", nullptr, /*in_progress_ok=*/true);
}

void group_start() { nccl_check(ncclGroupStart(), "ncclGroupStart"); }

// ncclInProgress: the group holds calls of a non-blocking communicator, whose next call waits.
void group_end() {
  py::gil_scoped_release release;
  nccl_check(ncclGroupEnd(), "ncclGroupEnd", nullptr, /*in_progress_ok=*/true);
}

std::string get_unique_id() {
  ncclUniqueId id;
  nccl_check(ncclGetUniqueId(&id), "ncclGetUniqueId");
  return std::string(id.internal, NCCL_UNIQUE_ID_BYTES);
}

}  // namespace ncclkit
