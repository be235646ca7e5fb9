// The collectives and point-to-point calls of Communicator.
#include "comm/call.h"
#include "comm/types.h"

namespace ncclkit {

namespace {

// Where each rank's part of an uneven buffer starts, in bytes.
std::vector<std::size_t> byte_offsets(const std::vector<std::size_t>& counts, std::size_t element) {
  std::vector<std::size_t> offsets(counts.size(), 0);
  for (std::size_t i = 1; i < counts.size(); ++i) offsets[i] = offsets[i - 1] + counts[i - 1] * element;
  return offsets;
}

}  // namespace

// A call of an nccl*Config entry point with `config`: one exists only where the header has them
// (Python makes no CollectiveConfig otherwise), and the loaded NCCL is asked first.
#if NCCLKIT_HAS_COLLECTIVE_CONFIG
#define NCCLKIT_CONFIGURED_CALL(fn, ...)       \
  do {                                         \
    NCCLKIT_REQUIRE_NCCL(fn);                  \
    check(fn(__VA_ARGS__, config->get()), #fn); \
  } while (0)
#else
#define NCCLKIT_CONFIGURED_CALL(fn, ...) \
  throw std::invalid_argument(#fn ": the NCCL header ncclkit was built against has no per-call configuration")
#endif

// NCCL makes a communicator's device current for its launches (its group.cc), so a collective
// needs no device guard, nor the cudaGetDevice each guard costs. Except with one rank, where NCCL
// calls CUDA at once on whatever device is current: a kernel for avg (and a PreMulSum), and out
// of place a copy on `stream`, which 0, cudaStreamLegacy (1) and cudaStreamPerThread (2) make the
// current device's.
std::optional<DeviceGuard> Communicator::one_rank_guard(const ReductionScope& op, Ptr send, Ptr recv,
                                                        Ptr stream) const {
  if (world_size_ == 1 && !op.copies_on_one_rank()) return std::optional<DeviceGuard>(std::in_place, device_);
  return one_rank_guard(send, recv, stream);
}

std::optional<DeviceGuard> Communicator::one_rank_guard(Ptr send, Ptr recv, Ptr stream) const {
  const bool current_devices_stream = stream <= 2;
  if (world_size_ == 1 && send != recv && current_devices_stream) {
    return std::optional<DeviceGuard>(std::in_place, device_);
  }
  return std::nullopt;
}

void Communicator::all_reduce(Ptr send, Ptr recv, std::size_t count, int dtype, const Reduction& op, Ptr stream,
                              const CollectiveConfig* config) {
  ncclDataType_t t = as_dtype(dtype);
  Call call(*this, "all_reduce", kOnlyLive);
  ncclComm_t comm = call.comm();
  ReductionScope o(op, t, comm);
  const auto guard = one_rank_guard(o, send, recv, stream);
  if (config) {
    NCCLKIT_CONFIGURED_CALL(ncclAllReduceConfig, as_ptr(send), as_ptr(recv), count, t, o.op(), comm, as_stream(stream));
    return;
  }
  check(ncclAllReduce(as_ptr(send), as_ptr(recv), count, t, o.op(), comm, as_stream(stream)), "ncclAllReduce");
}

void Communicator::broadcast(Ptr send, Ptr recv, std::size_t count, int dtype, int root, Ptr stream,
                             const CollectiveConfig* config) {
  check_peer(root, "root");
  ncclDataType_t t = as_dtype(dtype);
  Call call(*this, "broadcast", kOnlyLive);
  const auto guard = one_rank_guard(send, recv, stream);
  ncclComm_t comm = call.comm();
  if (config) {
    NCCLKIT_CONFIGURED_CALL(ncclBroadcastConfig, as_ptr(send), as_ptr(recv), count, t, root, comm, as_stream(stream));
    return;
  }
  check(ncclBroadcast(as_ptr(send), as_ptr(recv), count, t, root, comm, as_stream(stream)), "ncclBroadcast");
}

void Communicator::reduce(Ptr send, Ptr recv, std::size_t count, int dtype, const Reduction& op, int root, Ptr stream,
                          const CollectiveConfig* config) {
  check_peer(root, "root");
  ncclDataType_t t = as_dtype(dtype);
  Call call(*this, "reduce", kOnlyLive);
  ncclComm_t comm = call.comm();
  ReductionScope o(op, t, comm);
  const auto guard = one_rank_guard(o, send, recv, stream);
  if (config) {
    NCCLKIT_CONFIGURED_CALL(ncclReduceConfig, as_ptr(send), as_ptr(recv), count, t, o.op(), root, comm,
                            as_stream(stream));
    return;
  }
  check(ncclReduce(as_ptr(send), as_ptr(recv), count, t, o.op(), root, comm, as_stream(stream)), "ncclReduce");
}

void Communicator::all_gather(Ptr send, Ptr recv, std::size_t send_count, int dtype, Ptr stream,
                              const CollectiveConfig* config) {
  ncclDataType_t t = as_dtype(dtype);
  Call call(*this, "all_gather", kOnlyLive);
  const auto guard = one_rank_guard(send, recv, stream);
  ncclComm_t comm = call.comm();
  if (config) {
    NCCLKIT_CONFIGURED_CALL(ncclAllGatherConfig, as_ptr(send), as_ptr(recv), send_count, t, comm, as_stream(stream));
    return;
  }
  check(ncclAllGather(as_ptr(send), as_ptr(recv), send_count, t, comm, as_stream(stream)), "ncclAllGather");
}

void Communicator::reduce_scatter(Ptr send, Ptr recv, std::size_t recv_count, int dtype, const Reduction& op,
                                  Ptr stream, const CollectiveConfig* config) {
  ncclDataType_t t = as_dtype(dtype);
  Call call(*this, "reduce_scatter", kOnlyLive);
  ncclComm_t comm = call.comm();
  ReductionScope o(op, t, comm);
  const auto guard = one_rank_guard(o, send, recv, stream);
  if (config) {
    NCCLKIT_CONFIGURED_CALL(ncclReduceScatterConfig, as_ptr(send), as_ptr(recv), recv_count, t, o.op(), comm,
                            as_stream(stream));
    return;
  }
  check(ncclReduceScatter(as_ptr(send), as_ptr(recv), recv_count, t, o.op(), comm, as_stream(stream)),
        "ncclReduceScatter");
}

void Communicator::all_to_all(Ptr send, Ptr recv, std::size_t count_per_peer, int dtype, Ptr stream,
                              const CollectiveConfig* config) {
  ncclDataType_t t = as_dtype(dtype);
  Call call(*this, "all_to_all", kOnlyLive);
  const auto guard = one_rank_guard(send, recv, stream);
  ncclComm_t comm = call.comm();
  if (config) {
    NCCLKIT_CONFIGURED_CALL(ncclAlltoAllConfig, as_ptr(send), as_ptr(recv), count_per_peer, t, comm, as_stream(stream));
    return;
  }
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

void Communicator::gather(Ptr send, Ptr recv, std::size_t count, int dtype, int root, Ptr stream,
                          const CollectiveConfig* config) {
  check_peer(root, "root");
  ncclDataType_t t = as_dtype(dtype);
  Call call(*this, "gather", kOnlyLive);
  const auto guard = one_rank_guard(send, recv, stream);
  ncclComm_t comm = call.comm();
  if (config) {
    NCCLKIT_CONFIGURED_CALL(ncclGatherConfig, as_ptr(send), as_ptr(recv), count, t, root, comm, as_stream(stream));
    return;
  }
#if NCCLKIT_HAS_GATHER
  if (NCCLKIT_NCCL_HAS_ENTRY_POINT(ncclGather)) {
    check(ncclGather(as_ptr(send), as_ptr(recv), count, t, root, comm, as_stream(stream)), "ncclGather");
    return;
  }
#endif
  const std::size_t block = count * element_size(t);
  GroupScope group;
  check(ncclSend(as_ptr(send), count, t, root, comm, as_stream(stream)), "ncclSend");
  if (rank_ == root) {
    for (int peer = 0; peer < world_size_; ++peer) {
      check(ncclRecv(as_ptr(recv + peer * block), count, t, peer, comm, as_stream(stream)), "ncclRecv");
    }
  }
  group.end();
}

void Communicator::scatter(Ptr send, Ptr recv, std::size_t count, int dtype, int root, Ptr stream,
                           const CollectiveConfig* config) {
  check_peer(root, "root");
  ncclDataType_t t = as_dtype(dtype);
  Call call(*this, "scatter", kOnlyLive);
  const auto guard = one_rank_guard(send, recv, stream);
  ncclComm_t comm = call.comm();
  if (config) {
    NCCLKIT_CONFIGURED_CALL(ncclScatterConfig, as_ptr(send), as_ptr(recv), count, t, root, comm, as_stream(stream));
    return;
  }
#if NCCLKIT_HAS_SCATTER
  if (NCCLKIT_NCCL_HAS_ENTRY_POINT(ncclScatter)) {
    check(ncclScatter(as_ptr(send), as_ptr(recv), count, t, root, comm, as_stream(stream)), "ncclScatter");
    return;
  }
#endif
  const std::size_t block = count * element_size(t);
  GroupScope group;
  if (rank_ == root) {
    for (int peer = 0; peer < world_size_; ++peer) {
      check(ncclSend(as_ptr(send + peer * block), count, t, peer, comm, as_stream(stream)), "ncclSend");
    }
  }
  check(ncclRecv(as_ptr(recv), count, t, root, comm, as_stream(stream)), "ncclRecv");
  group.end();
}

void Communicator::all_gather_v(Ptr send, Ptr recv, const std::vector<std::size_t>& counts, int dtype, Ptr stream) {
  ncclDataType_t t = as_dtype(dtype);
  if (counts.size() != static_cast<std::size_t>(world_size_)) throw std::invalid_argument("counts: one per rank");
  const std::vector<std::size_t> offsets = byte_offsets(counts, element_size(t));
  Call call(*this, "all_gather_v", kOnlyLive);
  const auto guard = one_rank_guard(send, recv, stream);
  ncclComm_t comm = call.comm();
  GroupScope group;
  for (int root = 0; root < world_size_; ++root) {
    const Ptr part = recv + offsets[root];
    check(ncclBroadcast(as_ptr(root == rank_ ? send : part), as_ptr(part), counts[root], t, root, comm,
                        as_stream(stream)),
          "ncclBroadcast");
  }
  group.end();
}

void Communicator::reduce_scatter_v(Ptr send, Ptr recv, const std::vector<std::size_t>& counts, int dtype,
                                    const Reduction& op, Ptr stream) {
  ncclDataType_t t = as_dtype(dtype);
  if (counts.size() != static_cast<std::size_t>(world_size_)) throw std::invalid_argument("counts: one per rank");
  const std::vector<std::size_t> offsets = byte_offsets(counts, element_size(t));
  Call call(*this, "reduce_scatter_v", kOnlyLive);
  ncclComm_t comm = call.comm();
  ReductionScope o(op, t, comm);
  const auto guard = one_rank_guard(o, send, recv, stream);
  GroupScope group;
  for (int root = 0; root < world_size_; ++root) {
    // recvbuff matters on the root alone (NCCL takes null elsewhere).
    check(ncclReduce(as_ptr(send + offsets[root]), root == rank_ ? as_ptr(recv) : nullptr, counts[root], t, o.op(), root,
                     comm, as_stream(stream)),
          "ncclReduce");
  }
  group.end();
}

void Communicator::all_to_all_v(Ptr send, const std::vector<std::size_t>& send_counts, Ptr recv,
                                const std::vector<std::size_t>& recv_counts, int dtype, Ptr stream) {
  ncclDataType_t t = as_dtype(dtype);
  if (send_counts.size() != static_cast<std::size_t>(world_size_) ||
      recv_counts.size() != static_cast<std::size_t>(world_size_)) {
    throw std::invalid_argument("send_counts and recv_counts: one per rank");
  }
  const std::vector<std::size_t> send_offsets = byte_offsets(send_counts, element_size(t));
  const std::vector<std::size_t> recv_offsets = byte_offsets(recv_counts, element_size(t));
  Call call(*this, "all_to_all_v", kOnlyLive);
  ncclComm_t comm = call.comm();
  GroupScope group;
  for (int peer = 0; peer < world_size_; ++peer) {
    check(ncclSend(as_ptr(send + send_offsets[peer]), send_counts[peer], t, peer, comm, as_stream(stream)),
          "ncclSend");
    check(ncclRecv(as_ptr(recv + recv_offsets[peer]), recv_counts[peer], t, peer, comm, as_stream(stream)),
          "ncclRecv");
  }
  group.end();
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

}  // namespace ncclkit
