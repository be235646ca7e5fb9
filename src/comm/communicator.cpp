#include "comm/communicator.h"

#include <pybind11/pybind11.h>

#include <pthread.h>

#include <stdexcept>
#include <thread>

#include "common/cuda_check.h"
#include "comm/call.h"
#include "comm/nccl_error.h"
#include "comm/types.h"

namespace py = pybind11;

namespace ncclkit {

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

namespace {

std::atomic<unsigned> fork_generation{0};
const bool fork_counted = [] {
  pthread_atfork(nullptr, nullptr, [] { fork_generation.fetch_add(1); });
  return true;
}();

constexpr auto kSignalCheckInterval = std::chrono::milliseconds(100);

ncclUniqueId as_unique_id(const std::string& bytes) {
  if (bytes.size() != NCCL_UNIQUE_ID_BYTES) {
    throw std::invalid_argument("unique_id must be " + std::to_string(NCCL_UNIQUE_ID_BYTES) + " bytes, got " +
                                std::to_string(bytes.size()));
  }
  ncclUniqueId id;
  std::copy(bytes.begin(), bytes.end(), id.internal);
  return id;
}

}  // namespace

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

std::unique_ptr<Communicator> Communicator::init_rank(int world_size, const std::vector<std::string>& unique_ids,
                                                      int rank, int device, CommConfig config, bool scalable) {
  if (unique_ids.empty() || (!scalable && unique_ids.size() != 1)) {
    throw std::invalid_argument("init_rank takes one unique id, or, scalable, at least one");
  }
  std::vector<ncclUniqueId> ids;
  for (const std::string& bytes : unique_ids) ids.push_back(as_unique_id(bytes));
  const bool blocking = !config.has_blocking() || config.blocking();

  DeviceGuard guard(device);
  ncclComm_t comm = nullptr;
  if (!scalable) {
    py::gil_scoped_release release;
    nccl_check(ncclCommInitRankConfig(&comm, world_size, ids[0], rank, config.get()), "ncclCommInitRankConfig", comm,
               /*in_progress_ok=*/true);
  } else {
#if NCCLKIT_HAS_COMM_INIT_SCALABLE
    NCCLKIT_REQUIRE_NCCL(ncclCommInitRankScalable);
    py::gil_scoped_release release;
    nccl_check(ncclCommInitRankScalable(&comm, world_size, rank, static_cast<int>(ids.size()), ids.data(), config.get()),
               "ncclCommInitRankScalable", comm, /*in_progress_ok=*/true);
#else
    throw NcclUnavailable("ncclCommInitRankScalable", NCCLKIT_NCCL_SINCE_COMM_INIT_SCALABLE);
#endif
  }
  std::unique_ptr<Communicator> out(new Communicator(comm, device, blocking, rank, world_size));
  out->config_texts_ = config.take_texts();
  return out;
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

std::unique_ptr<Communicator> Communicator::adopt(ncclComm_t child, std::optional<CommConfig> config) {
  if (child == nullptr) return nullptr;
  const bool blocking = config ? config->blocking() : blocking_;
  std::unique_ptr<Communicator> out(new Communicator(child, device_, blocking, 0, 0));
  if (config) out->config_texts_ = config->take_texts();
  if (!blocking) out->timeout_ = timeout_;
  if (!blocking) out->wait_while_in_progress("the new communicator's init");
  check(ncclCommUserRank(child, &out->rank_), "ncclCommUserRank");
  check(ncclCommCount(child, &out->world_size_), "ncclCommCount");
  return out;
}

std::optional<CommConfig> Communicator::child_config(std::optional<CommConfig> config) const {
  if (config && !config->has_blocking()) config->set_blocking(blocking_);
  return config;
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

std::unique_ptr<Communicator> Communicator::split(int color, int key, std::optional<CommConfig> config) {
  config = child_config(std::move(config));
  refuse_in_group("split", "NCCL hands the new communicator out at the group's end");
  Call call(*this, "split", kLiveOrRevoked);
  DeviceGuard guard(device_);
  OutSlot<ncclComm_t> child;
  check(ncclCommSplit(call.comm(), color < 0 ? NCCL_SPLIT_NOCOLOR : color, key, child.get(),
                      config ? config->get() : nullptr),
        "ncclCommSplit");
  if (!blocking_) wait_while_in_progress("ncclCommSplit");
  return adopt(child.settle(), std::move(config));
}

#if NCCLKIT_HAS_COMM_SHRINK
std::unique_ptr<Communicator> Communicator::shrink(std::vector<int> exclude_ranks, bool abort_first,
                                                   std::optional<CommConfig> config) {
  NCCLKIT_REQUIRE_NCCL(ncclCommShrink);
  for (int rank : exclude_ranks) check_peer(rank, "excluded rank");
  config = child_config(std::move(config));
  refuse_in_group("shrink", "NCCL hands the new communicator out at the group's end");
  Call call(*this, "shrink", kLiveOrRevoked);
  DeviceGuard guard(device_);
  OutSlot<ncclComm_t> child;
  check(ncclCommShrink(call.comm(), exclude_ranks.data(), static_cast<int>(exclude_ranks.size()), child.get(),
                       config ? config->get() : nullptr, abort_first ? NCCL_SHRINK_ABORT : NCCL_SHRINK_DEFAULT),
        "ncclCommShrink");
  if (!blocking_) wait_while_in_progress("ncclCommShrink");
  return adopt(child.settle(), std::move(config));
}
#endif

#if NCCLKIT_HAS_COMM_GROW
std::string Communicator::grow_unique_id() {
  NCCLKIT_REQUIRE_NCCL(ncclCommGetUniqueId);
  Call call(*this, "grow_unique_id", kOnlyLive);
  ncclUniqueId id;
  check(ncclCommGetUniqueId(call.comm(), &id), "ncclCommGetUniqueId");
  return std::string(id.internal, NCCL_UNIQUE_ID_BYTES);
}

std::unique_ptr<Communicator> Communicator::grow(int world_size, const std::optional<std::string>& unique_id,
                                                 std::optional<CommConfig> config) {
  NCCLKIT_REQUIRE_NCCL(ncclCommGrow);
  std::optional<ncclUniqueId> id;
  if (unique_id) id = as_unique_id(*unique_id);
  config = child_config(std::move(config));
  refuse_in_group("grow", "NCCL hands the new communicator out at the group's end");
  Call call(*this, "grow", kOnlyLive);
  DeviceGuard guard(device_);
  OutSlot<ncclComm_t> child;
  check(ncclCommGrow(call.comm(), world_size, id ? &*id : nullptr, -1, child.get(), config ? config->get() : nullptr),
        "ncclCommGrow");
  if (!blocking_) wait_while_in_progress("ncclCommGrow");
  return adopt(child.settle(), std::move(config));
}

std::unique_ptr<Communicator> Communicator::join(int world_size, const std::string& unique_id, int rank, int device,
                                                 CommConfig config) {
  NCCLKIT_REQUIRE_NCCL(ncclCommGrow);
  const ncclUniqueId id = as_unique_id(unique_id);
  // A new rank's ncclComm_t is written only when its init has ended: no handle to poll before.
  if (config.has_blocking() && !config.blocking()) {
    throw std::invalid_argument("join takes no blocking=False: NCCL hands a joining rank its communicator only "
                                "once the grow has ended");
  }
  refuse_in_group("join", "NCCL hands the new communicator out at the group's end");
  DeviceGuard guard(device);
  ncclComm_t comm = nullptr;
  {
    py::gil_scoped_release release;
    nccl_check(ncclCommGrow(nullptr, world_size, &id, rank, &comm, config.get()), "ncclCommGrow", comm);
  }
  std::unique_ptr<Communicator> out(new Communicator(comm, device, true, rank, world_size));
  out->config_texts_ = config.take_texts();
  return out;
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

#if NCCLKIT_HAS_COMM_SUSPEND
void Communicator::suspend() {
  NCCLKIT_REQUIRE_NCCL(ncclCommSuspend);
  refuse_in_group("suspend", "NCCL suspends at the group's end");
  Call call(*this, "suspend", kOnlyLive);
  DeviceGuard guard(device_);
  check(ncclCommSuspend(call.comm(), NCCL_SUSPEND_MEM), "ncclCommSuspend");
  if (!blocking_) wait_while_in_progress("ncclCommSuspend");
  state_ = State::kSuspended;
}

void Communicator::resume() {
  NCCLKIT_REQUIRE_NCCL(ncclCommResume);
  refuse_in_group("resume", "NCCL resumes at the group's end");
  Call call(*this, "resume", kOnlySuspended);
  DeviceGuard guard(device_);
  check(ncclCommResume(call.comm()), "ncclCommResume");
  if (!blocking_) wait_while_in_progress("ncclCommResume");
  state_ = State::kLive;
}
#endif

#if NCCLKIT_HAS_COMM_MEM_STATS
std::uint64_t Communicator::memory_stat(int stat) {
  NCCLKIT_REQUIRE_NCCL(ncclCommMemStats);
  Call call(*this, "memory_stats", kAnyButGone);
  std::uint64_t value = 0;
  check(ncclCommMemStats(call.comm(), static_cast<ncclCommMemStat_t>(stat), &value), "ncclCommMemStats");
  return value;
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

GroupScope::GroupScope() { nccl_check(ncclGroupStart(), "ncclGroupStart"); }

GroupScope::~GroupScope() {
  if (open_) ncclGroupEnd();
}

void GroupScope::end() {
  open_ = false;
  nccl_check(ncclGroupEnd(), "ncclGroupEnd", nullptr, /*in_progress_ok=*/true);
}

ThreadGroup& thread_group() {
  thread_local ThreadGroup group;
  return group;
}

void refuse_in_group(const char* call, const char* why) {
  if (thread_group().depth > 0) {
    throw std::invalid_argument(std::string(call) + " cannot run inside ncclkit.group(): " + why);
  }
}

void group_start(bool simulate) {
  ThreadGroup& group = thread_group();
  if (simulate && group.depth > 0) throw std::invalid_argument("group(simulate=True) cannot open inside a group");
#if NCCLKIT_HAS_GROUP_SIMULATE
  if (simulate) NCCLKIT_REQUIRE_NCCL(ncclGroupSimulateEnd);  // before the group opens: it could not end
#else
  if (simulate) throw NcclUnavailable("ncclGroupSimulateEnd", NCCLKIT_NCCL_SINCE_GROUP_SIMULATE);
#endif
  nccl_check(ncclGroupStart(), "ncclGroupStart");
  if (group.depth++ == 0) group.simulating = simulate;
}

// ncclInProgress: the group holds calls of a non-blocking communicator, whose next call waits.
void group_end() {
  ThreadGroup& group = thread_group();
  if (group.depth == 0) throw std::invalid_argument("group_end without a group_start");
  if (group.depth == 1 && group.simulating) throw std::invalid_argument("a simulated group ends with group_simulate_end");
  --group.depth;
  py::gil_scoped_release release;
  nccl_check(ncclGroupEnd(), "ncclGroupEnd", nullptr, /*in_progress_ok=*/true);
}

#if NCCLKIT_HAS_GROUP_SIMULATE
float group_simulate_end() {
  ThreadGroup& group = thread_group();
  if (group.depth != 1 || !group.simulating) {
    throw std::invalid_argument("group_simulate_end ends the outermost group(simulate=True), and none is open");
  }
  group.depth = 0;
  group.simulating = false;
  ncclSimInfo_t info = NCCL_SIM_INFO_INITIALIZER;
  py::gil_scoped_release release;
  nccl_check(ncclGroupSimulateEnd(&info), "ncclGroupSimulateEnd");
  return info.estimatedTime;
}
#endif

std::string get_unique_id() {
  ncclUniqueId id;
  nccl_check(ncclGetUniqueId(&id), "ncclGetUniqueId");
  return std::string(id.internal, NCCL_UNIQUE_ID_BYTES);
}

}  // namespace ncclkit
