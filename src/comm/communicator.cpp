#include "comm/communicator.h"

#include <pybind11/pybind11.h>

#include <stdexcept>

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

}  // namespace

Communicator::Communicator(ncclComm_t comm, int device, bool blocking)
    : comm_(comm), device_(device), blocking_(blocking) {
  wait_ready();
  check(ncclCommUserRank(comm_, &rank_), "ncclCommUserRank");
  check(ncclCommCount(comm_, &world_size_), "ncclCommCount");
}

Communicator::~Communicator() {
  if (comm_ == nullptr) return;
  // Best effort: the process may be shutting down with its CUDA context already gone.
  DeviceGuard guard(device_);
  ncclCommDestroy(comm_);
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
  return std::unique_ptr<Communicator>(new Communicator(comm, device, nccl_config.blocking != 0));
}

std::vector<std::unique_ptr<Communicator>> Communicator::init_all(const std::vector<int>& devices) {
  std::vector<ncclComm_t> comms(devices.size(), nullptr);
  {
    py::gil_scoped_release release;
    nccl_check(ncclCommInitAll(comms.data(), static_cast<int>(devices.size()), devices.data()), "ncclCommInitAll");
  }
  std::vector<std::unique_ptr<Communicator>> out;
  for (std::size_t i = 0; i < devices.size(); ++i) {
    out.emplace_back(new Communicator(comms[i], devices[i], true));
  }
  return out;
}

ncclComm_t Communicator::checked() const {
  if (comm_ == nullptr) throw std::invalid_argument("communicator has been destroyed");
  return comm_;
}

void Communicator::wait_ready() const {
  if (!blocking_) wait_quiescent("non-blocking NCCL operation");
}

void Communicator::wait_quiescent(const char* call) const {
  py::gil_scoped_release release;
  ncclResult_t state = ncclInProgress;
  while (state == ncclInProgress) {
    nccl_check(ncclCommGetAsyncError(comm_, &state), "ncclCommGetAsyncError", comm_);
  }
  nccl_check(state, call, comm_);
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
  ncclComm_t parent = checked();
  DeviceGuard guard(device_);
  ncclComm_t child = nullptr;
  {
    py::gil_scoped_release release;
    check(ncclCommSplit(parent, color < 0 ? NCCL_SPLIT_NOCOLOR : color, key, &child, nullptr), "ncclCommSplit");
  }
  wait_ready();
  if (child == nullptr) return nullptr;
  return std::unique_ptr<Communicator>(new Communicator(child, device_, blocking_));
}

#if NCCLKIT_HAS_COMM_SHRINK
std::unique_ptr<Communicator> Communicator::shrink(std::vector<int> exclude_ranks, bool abort_first) {
  ncclComm_t parent = checked();
  NCCLKIT_REQUIRE_NCCL(ncclCommShrink);
  for (int rank : exclude_ranks) check_peer(rank, "excluded rank");
  DeviceGuard guard(device_);
  ncclComm_t child = nullptr;
  {
    py::gil_scoped_release release;
    check(ncclCommShrink(parent, exclude_ranks.data(), static_cast<int>(exclude_ranks.size()), &child, nullptr,
                         abort_first ? NCCL_SHRINK_ABORT : NCCL_SHRINK_DEFAULT),
          "ncclCommShrink");
  }
  wait_ready();
  if (child == nullptr) return nullptr;  // this rank was excluded
  return std::unique_ptr<Communicator>(new Communicator(child, device_, blocking_));
}
#endif

#if NCCLKIT_HAS_COMM_REVOKE
void Communicator::revoke() {
  ncclComm_t comm = checked();
  NCCLKIT_REQUIRE_NCCL(ncclCommRevoke);
  DeviceGuard guard(device_);
  {
    py::gil_scoped_release release;
    nccl_check(ncclCommRevoke(comm, NCCL_REVOKE_DEFAULT), "ncclCommRevoke", comm, /*in_progress_ok=*/true);
  }
  // Revoked, the communicator is ncclInProgress until nothing of it is in flight; an error it held
  // before (a peer that failed, say) is what revoke reports then.
  wait_quiescent("ncclCommRevoke");
}
#endif

#if NCCLKIT_HAS_BUFFER_REGISTRATION
Communicator::Ptr Communicator::register_buffer(Ptr buf, std::size_t nbytes) {
  ncclComm_t comm = checked();
  NCCLKIT_REQUIRE_NCCL(ncclCommRegister);
  DeviceGuard guard(device_);
  void* handle = nullptr;
  py::gil_scoped_release release;
  check(ncclCommRegister(comm, as_ptr(buf), nbytes, &handle), "ncclCommRegister");
  return reinterpret_cast<Ptr>(handle);
}

void Communicator::deregister_buffer(Ptr handle) {
  ncclComm_t comm = checked();
  NCCLKIT_REQUIRE_NCCL(ncclCommDeregister);
  DeviceGuard guard(device_);
  py::gil_scoped_release release;
  check(ncclCommDeregister(comm, as_ptr(handle)), "ncclCommDeregister");
}
#endif

void Communicator::finalize() {
  ncclComm_t comm = checked();
  DeviceGuard guard(device_);
  {
    py::gil_scoped_release release;
    check(ncclCommFinalize(comm), "ncclCommFinalize");
  }
  wait_ready();
}

void Communicator::destroy() {
  ncclComm_t comm = checked();
  DeviceGuard guard(device_);
  comm_ = nullptr;
  py::gil_scoped_release release;
  nccl_check(ncclCommDestroy(comm), "ncclCommDestroy");
}

void Communicator::abort() {
  ncclComm_t comm = checked();
  DeviceGuard guard(device_);
  comm_ = nullptr;
  py::gil_scoped_release release;
  nccl_check(ncclCommAbort(comm), "ncclCommAbort");
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
  ncclComm_t comm = checked();
  ncclDataType_t t = as_dtype(dtype);
  ncclRedOp_t o = as_op(op);
  const auto guard = one_rank_guard(o, send, recv, stream);
  py::gil_scoped_release release;
  check(ncclAllReduce(as_ptr(send), as_ptr(recv), count, t, o, comm, as_stream(stream)), "ncclAllReduce");
}

void Communicator::broadcast(Ptr send, Ptr recv, std::size_t count, int dtype, int root, Ptr stream) {
  ncclComm_t comm = checked();
  check_peer(root, "root");
  ncclDataType_t t = as_dtype(dtype);
  const auto guard = one_rank_guard(ncclSum, send, recv, stream);
  py::gil_scoped_release release;
  check(ncclBroadcast(as_ptr(send), as_ptr(recv), count, t, root, comm, as_stream(stream)), "ncclBroadcast");
}

void Communicator::reduce(Ptr send, Ptr recv, std::size_t count, int dtype, int op, int root, Ptr stream) {
  ncclComm_t comm = checked();
  check_peer(root, "root");
  ncclDataType_t t = as_dtype(dtype);
  ncclRedOp_t o = as_op(op);
  const auto guard = one_rank_guard(o, send, recv, stream);
  py::gil_scoped_release release;
  check(ncclReduce(as_ptr(send), as_ptr(recv), count, t, o, root, comm, as_stream(stream)), "ncclReduce");
}

void Communicator::all_gather(Ptr send, Ptr recv, std::size_t send_count, int dtype, Ptr stream) {
  ncclComm_t comm = checked();
  ncclDataType_t t = as_dtype(dtype);
  const auto guard = one_rank_guard(ncclSum, send, recv, stream);
  py::gil_scoped_release release;
  check(ncclAllGather(as_ptr(send), as_ptr(recv), send_count, t, comm, as_stream(stream)), "ncclAllGather");
}

void Communicator::reduce_scatter(Ptr send, Ptr recv, std::size_t recv_count, int dtype, int op, Ptr stream) {
  ncclComm_t comm = checked();
  ncclDataType_t t = as_dtype(dtype);
  ncclRedOp_t o = as_op(op);
  const auto guard = one_rank_guard(o, send, recv, stream);
  py::gil_scoped_release release;
  check(ncclReduceScatter(as_ptr(send), as_ptr(recv), recv_count, t, o, comm, as_stream(stream)),
        "ncclReduceScatter");
}

void Communicator::send(Ptr buf, std::size_t count, int dtype, int peer, Ptr stream) {
  ncclComm_t comm = checked();
  check_peer(peer, "peer");
  ncclDataType_t t = as_dtype(dtype);
  py::gil_scoped_release release;
  check(ncclSend(as_ptr(buf), count, t, peer, comm, as_stream(stream)), "ncclSend");
}

void Communicator::recv(Ptr buf, std::size_t count, int dtype, int peer, Ptr stream) {
  ncclComm_t comm = checked();
  check_peer(peer, "peer");
  ncclDataType_t t = as_dtype(dtype);
  py::gil_scoped_release release;
  check(ncclRecv(as_ptr(buf), count, t, peer, comm, as_stream(stream)), "ncclRecv");
}

void Communicator::all_to_all(Ptr send, Ptr recv, std::size_t count_per_peer, int dtype, Ptr stream) {
  ncclComm_t comm = checked();
  ncclDataType_t t = as_dtype(dtype);
  py::gil_scoped_release release;
#if NCCLKIT_HAS_ALL_TO_ALL
  if (NCCLKIT_NCCL_HAS_ENTRY_POINT(ncclAlltoAll)) {
    check(ncclAlltoAll(as_ptr(send), as_ptr(recv), count_per_peer, t, comm, as_stream(stream)), "ncclAlltoAll");
    return;
  }
#endif
  // Below NCCL 2.28: a send and a receive per peer, in one group.
  const std::size_t block = count_per_peer * element_size(t);
  check(ncclGroupStart(), "ncclGroupStart");
  for (int peer = 0; peer < world_size_; ++peer) {
    check(ncclSend(as_ptr(send + peer * block), count_per_peer, t, peer, comm, as_stream(stream)), "ncclSend");
    check(ncclRecv(as_ptr(recv + peer * block), count_per_peer, t, peer, comm, as_stream(stream)), "ncclRecv");
  }
  check(ncclGroupEnd(), "ncclGroupEnd");
}

void group_start() { nccl_check(ncclGroupStart(), "ncclGroupStart"); }

void group_end() {
  py::gil_scoped_release release;
  nccl_check(ncclGroupEnd(), "ncclGroupEnd");
}

std::string get_unique_id() {
  ncclUniqueId id;
  nccl_check(ncclGetUniqueId(&id), "ncclGetUniqueId");
  return std::string(id.internal, NCCL_UNIQUE_ID_BYTES);
}

}  // namespace ncclkit
