// ncclkit._comm: the NCCL bindings. Low level on purpose: buffers are addresses and element
// counts; ncclkit.comm turns arrays into those and checks them first.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "comm/communicator.h"
#include "comm/custom_all_reduce.h"
#include "comm/dlpack.h"
#include "comm/fast_all_reduce.h"
#include "comm/loaded_nccl.h"
#include "comm/nccl_error.h"
#include "comm/nccl_memory.h"
#include "comm/types.h"
#include "ncclkit/config.h"
#include <ncclkit/communicator.h>

namespace py = pybind11;
using ncclkit::Communicator;

namespace {

std::optional<ncclkit::CommConfig> optional_config(const std::optional<ncclkit::ConfigFields>& fields) {
  if (!fields) return std::nullopt;
  return std::optional<ncclkit::CommConfig>(std::in_place, *fields);
}

template <typename Map>
py::dict as_dict(const Map& map) {
  py::dict out;
  for (const auto& [name, value] : map) out[py::str(name)] = static_cast<int>(value);
  return out;
}

#if NCCLKIT_WITH_NCCL
void bind_custom_all_reduce(py::module_& m) {
  using ncclkit::CustomAllReduce;
  using Layout = ncclkit::CustomAllReduceLayout;
  py::dict algorithms;
  algorithms["oneshot"] = static_cast<int>(ncclkit::CustomAllReduceAlgorithm::kOneShot);
  algorithms["twoshot"] = static_cast<int>(ncclkit::CustomAllReduceAlgorithm::kTwoShot);
  m.attr("CUSTOM_ALL_REDUCE_ALGORITHMS") = algorithms;
  m.attr("CUSTOM_ALL_REDUCE_MAX_RANKS") = Layout::kMaxRanks;
  m.attr("CUSTOM_ALL_REDUCE_MAX_BLOCKS") = Layout::kMaxBlocks;
  m.attr("CUSTOM_ALL_REDUCE_VECTOR_BYTES") = Layout::kVectorBytes;
  m.attr("CUSTOM_ALL_REDUCE_MAX_BYTES") = Layout::kMaxBytes;
  m.def("can_access_peer", &ncclkit::can_access_peer, py::arg("device"), py::arg("peer"));
  m.def("pci_bus_id", &ncclkit::pci_bus_id, py::arg("device"));
  m.def("device_by_pci_bus_id", &ncclkit::device_by_pci_bus_id, py::arg("bus_id"));

  py::class_<CustomAllReduce>(m, "CustomAllReduce")
      .def(py::init<int, int, int, std::size_t>(), py::arg("device"), py::arg("rank"), py::arg("world_size"),
           py::arg("max_bytes"))
      .def("ipc_handle", [](const CustomAllReduce& self) { return py::bytes(self.ipc_handle()); })
      .def_property_readonly("buffer", &CustomAllReduce::buffer)
      .def(
          "open_ipc_handles",
          [](CustomAllReduce& self, const std::vector<py::bytes>& handles, int blocks) {
            std::vector<std::string> raw(handles.begin(), handles.end());
            py::gil_scoped_release release;
            self.open_ipc_handles(raw, blocks);
          },
          py::arg("handles"), py::arg("blocks"))
      .def("connect_in_process", &CustomAllReduce::connect_in_process, py::arg("buffers"), py::arg("devices"),
           py::arg("blocks"))
      .def(
          "all_reduce",
          [](CustomAllReduce& self, CustomAllReduce::Ptr send, CustomAllReduce::Ptr recv, std::size_t count,
             int dtype, int algorithm, CustomAllReduce::Ptr stream) {
            // Released: a launch can wait for room in the queue, behind kernels that wait for
            // another thread of this process to launch its rank's part.
            py::gil_scoped_release release;
            self.all_reduce(send, recv, count, dtype, static_cast<ncclkit::CustomAllReduceAlgorithm>(algorithm),
                            stream);
          },
          py::arg("send"), py::arg("recv"), py::arg("count"), py::arg("dtype"), py::arg("algorithm"),
          py::arg("stream"))
      .def_property_readonly("connected", &CustomAllReduce::connected)
      .def_property_readonly("device", &CustomAllReduce::device)
      .def_property_readonly("rank", &CustomAllReduce::rank)
      .def_property_readonly("world_size", &CustomAllReduce::world_size)
      .def_property_readonly("max_bytes", &CustomAllReduce::max_bytes)
      .def_property_readonly("multiprocessors", &CustomAllReduce::multiprocessors);
}
#endif

}  // namespace

// Safe without the GIL (free-threaded Pythons): its state is const statics, every NCCL and CUDA
// call already runs with the GIL released, and a Comm takes one call at a time (its own lock).
PYBIND11_MODULE(_comm, m, py::mod_gil_not_used()) {
  m.doc() = "NCCL bindings (low level; use ncclkit.Communicator)";
  ncclkit::register_nccl_error_translator();

  m.attr("header_version_code") = NCCL_VERSION_CODE;
  m.attr("DTYPES") = as_dict(ncclkit::nccl_dtypes());
  m.attr("OPS") = as_dict(ncclkit::nccl_ops());
  m.attr("UNIQUE_ID_BYTES") = NCCL_UNIQUE_ID_BYTES;

  m.def("get_version", &ncclkit::loaded_version, "ncclGetVersion() of the NCCL this process loaded");
  m.def("library_path", &ncclkit::loaded_library_path, "File of the loaded libnccl");
#if NCCLKIT_HAS_PARAMS
  m.def(
      "parameters",
      [] {
        py::dict out;
        for (const auto& [name, value] : ncclkit::parameters()) out[py::str(name)] = py::str(value);
        return out;
      },
      "NCCL's parameters and their values, as text (ncclParamGetAllParameterKeys, NCCL >= 2.30.4)");
  m.def("parameter", &ncclkit::parameter, py::arg("name"), "One NCCL parameter's value, as text (ncclParamGetParameter)");
#endif
  m.def("get_unique_id", [] { return py::bytes(ncclkit::get_unique_id()); });
  m.def("group_start", &ncclkit::group_start, py::arg("simulate") = false);
  m.def("group_end", &ncclkit::group_end);
  m.def("describe_dlpack", &ncclkit::describe_dlpack, py::arg("capsule"));
#if NCCLKIT_HAS_GROUP_SIMULATE
  m.def("group_simulate_end", &ncclkit::group_simulate_end);
#endif
#if NCCLKIT_HAS_MEM_ALLOC
  m.def("mem_alloc", &ncclkit::mem_alloc, py::arg("nbytes"), py::arg("device"));
  m.def("mem_free", &ncclkit::mem_free, py::arg("ptr"), py::arg("device"));
#endif
#if NCCLKIT_HAS_ENCRYPTION
  m.def("set_encryption", &ncclkit::set_encryption, py::arg("psk"));
#endif

  m.attr("CONFIG_FIELDS") = ncclkit::CommConfig::field_names();
  m.attr("COLLECTIVE_CONFIG_FIELDS") = ncclkit::CollectiveConfig::field_names();
  py::class_<ncclkit::CollectiveConfig>(m, "CollectiveConfig")
      .def(py::init<const ncclkit::ConfigFields&>(), py::arg("fields"));
  py::class_<ncclkit::PreMulSum>(m, "PreMulSum")
      .def_static(
          "on_host", [](const py::bytes& scalar, int dtype) { return ncclkit::PreMulSum::on_host(scalar, dtype); },
          py::arg("scalar"), py::arg("dtype"))
      .def_static("on_device", &ncclkit::PreMulSum::on_device, py::arg("address"), py::arg("dtype"));

  // Final: the fast all_reduce reads the Communicator straight from the instance (fast_all_reduce.cpp).
  py::class_<Communicator> comm(m, "Comm", py::is_final());
  comm
      .def_static(
          "init_rank",
          [](int world_size, const std::vector<py::bytes>& unique_ids, int rank, int device,
             const ncclkit::ConfigFields& config, bool scalable) {
            std::vector<std::string> ids(unique_ids.begin(), unique_ids.end());
            return Communicator::init_rank(world_size, ids, rank, device, ncclkit::CommConfig(config), scalable);
          },
          py::arg("world_size"), py::arg("unique_ids"), py::arg("rank"), py::arg("device"), py::arg("config"),
          py::arg("scalable"))
      .def_static("init_all", &Communicator::init_all, py::arg("devices"))
      .def(
          "split",
          [](Communicator& self, int color, int key, const std::optional<ncclkit::ConfigFields>& config) {
            return self.split(color, key, optional_config(config));
          },
          py::arg("color"), py::arg("key"), py::arg("config"))
      .def_property_readonly("ptr", &Communicator::native_handle)
      .def("capsule",
           [](const Communicator& self) {
             auto* handle = new ncclkit_comm_handle{reinterpret_cast<ncclComm_t>(self.native_handle()), self.device()};
             PyObject* capsule = PyCapsule_New(handle, NCCLKIT_COMM_CAPSULE, [](PyObject* owner) {
               delete static_cast<ncclkit_comm_handle*>(PyCapsule_GetPointer(owner, NCCLKIT_COMM_CAPSULE));
             });
             if (capsule == nullptr) {
               delete handle;
               throw py::error_already_set();
             }
             return py::reinterpret_steal<py::capsule>(capsule);
           })
      .def("finalize", &Communicator::finalize)
      .def("destroy", &Communicator::destroy)
      .def("abort", &Communicator::abort)
      .def("poll", &Communicator::poll)
      .def("wait", &Communicator::wait)
      .def_property("timeout", &Communicator::timeout, &Communicator::set_timeout)
      .def_property_readonly("blocking", &Communicator::blocking)
      .def_property_readonly("valid", &Communicator::valid)
      .def_property_readonly("rank", &Communicator::rank)
      .def_property_readonly("world_size", &Communicator::world_size)
      .def_property_readonly("device", &Communicator::device)
      .def("all_reduce_with", &Communicator::all_reduce, py::arg("send"), py::arg("recv"), py::arg("count"),
           py::arg("dtype"), py::arg("op"), py::arg("stream"), py::arg("config"))
      .def("broadcast", &Communicator::broadcast, py::arg("send"), py::arg("recv"), py::arg("count"),
           py::arg("dtype"), py::arg("root"), py::arg("stream"), py::arg("config") = nullptr)
      .def("reduce", &Communicator::reduce, py::arg("send"), py::arg("recv"), py::arg("count"), py::arg("dtype"),
           py::arg("op"), py::arg("root"), py::arg("stream"), py::arg("config") = nullptr)
      .def("all_gather", &Communicator::all_gather, py::arg("send"), py::arg("recv"), py::arg("send_count"),
           py::arg("dtype"), py::arg("stream"), py::arg("config") = nullptr)
      .def("reduce_scatter", &Communicator::reduce_scatter, py::arg("send"), py::arg("recv"),
           py::arg("recv_count"), py::arg("dtype"), py::arg("op"), py::arg("stream"), py::arg("config") = nullptr)
      .def("all_to_all", &Communicator::all_to_all, py::arg("send"), py::arg("recv"), py::arg("count_per_peer"),
           py::arg("dtype"), py::arg("stream"), py::arg("config") = nullptr)
      .def("gather", &Communicator::gather, py::arg("send"), py::arg("recv"), py::arg("count"), py::arg("dtype"),
           py::arg("root"), py::arg("stream"), py::arg("config") = nullptr)
      .def("scatter", &Communicator::scatter, py::arg("send"), py::arg("recv"), py::arg("count"), py::arg("dtype"),
           py::arg("root"), py::arg("stream"), py::arg("config") = nullptr)
      .def("all_gather_v", &Communicator::all_gather_v, py::arg("send"), py::arg("recv"), py::arg("counts"),
           py::arg("dtype"), py::arg("stream"))
      .def("reduce_scatter_v", &Communicator::reduce_scatter_v, py::arg("send"), py::arg("recv"), py::arg("counts"),
           py::arg("dtype"), py::arg("op"), py::arg("stream"))
      .def("all_to_all_v", &Communicator::all_to_all_v, py::arg("send"), py::arg("send_counts"), py::arg("recv"),
           py::arg("recv_counts"), py::arg("dtype"), py::arg("stream"))
      .def("send", &Communicator::send, py::arg("buf"), py::arg("count"), py::arg("dtype"), py::arg("peer"),
           py::arg("stream"))
      .def("recv", &Communicator::recv, py::arg("buf"), py::arg("count"), py::arg("dtype"), py::arg("peer"),
           py::arg("stream"));
  ncclkit::bind_fast_all_reduce(comm);
#if NCCLKIT_HAS_COMM_SHRINK
  comm.def(
      "shrink",
      [](Communicator& self, std::vector<int> exclude_ranks, bool abort_first,
         const std::optional<ncclkit::ConfigFields>& config) {
        return self.shrink(std::move(exclude_ranks), abort_first, optional_config(config));
      },
      py::arg("exclude_ranks"), py::arg("abort_first"), py::arg("config"));
#endif
#if NCCLKIT_HAS_COMM_GROW
  comm.def("grow_unique_id", [](Communicator& self) { return py::bytes(self.grow_unique_id()); });
  comm.def(
      "grow",
      [](Communicator& self, int world_size, const std::optional<py::bytes>& unique_id,
         const std::optional<ncclkit::ConfigFields>& config) {
        std::optional<std::string> id;
        if (unique_id) id = std::string(*unique_id);
        return self.grow(world_size, id, optional_config(config));
      },
      py::arg("world_size"), py::arg("unique_id"), py::arg("config"));
  comm.def_static(
      "join",
      [](int world_size, const py::bytes& unique_id, int rank, int device, const ncclkit::ConfigFields& config) {
        return Communicator::join(world_size, std::string(unique_id), rank, device, ncclkit::CommConfig(config));
      },
      py::arg("world_size"), py::arg("unique_id"), py::arg("rank"), py::arg("device"), py::arg("config"));
#endif
#if NCCLKIT_HAS_COMM_REVOKE
  comm.def("revoke", &Communicator::revoke);
#endif
#if NCCLKIT_HAS_COMM_SUSPEND
  comm.def("suspend", &Communicator::suspend);
  comm.def("resume", &Communicator::resume);
#endif
#if NCCLKIT_HAS_COMM_MEM_STATS
  py::dict memory_stats;
  memory_stats["suspendable"] = static_cast<int>(ncclStatGpuMemSuspend);
  memory_stats["suspended"] = static_cast<int>(ncclStatGpuMemSuspended);
  memory_stats["persistent"] = static_cast<int>(ncclStatGpuMemPersist);
  memory_stats["total"] = static_cast<int>(ncclStatGpuMemTotal);
  m.attr("MEMORY_STATS") = memory_stats;
  comm.def("memory_stat", &Communicator::memory_stat, py::arg("stat"));
#endif
#if NCCLKIT_HAS_BUFFER_REGISTRATION
  comm.def("register_buffer", &Communicator::register_buffer, py::arg("buf"), py::arg("nbytes"));
  comm.def("deregister_buffer", &Communicator::deregister_buffer, py::arg("handle"));
#endif
#if NCCLKIT_HAS_WINDOW_REGISTRATION
  py::dict window_flags;
  window_flags["coll_symmetric"] = NCCL_WIN_COLL_SYMMETRIC;
#ifdef NCCL_WIN_STRICT_ORDERING
  window_flags["strict_ordering"] = NCCL_WIN_STRICT_ORDERING;
#endif
#ifdef NCCL_WIN_GIN_ONLY
  window_flags["gin_only"] = NCCL_WIN_GIN_ONLY;
#endif
#ifdef NCCL_WIN_CFT_COUNTED
  window_flags["cft_counted"] = NCCL_WIN_CFT_COUNTED;
#endif
  m.attr("WINDOW_FLAGS") = window_flags;
  comm.def("register_window", &Communicator::register_window, py::arg("buf"), py::arg("nbytes"), py::arg("flags"));
  comm.def("deregister_window", &Communicator::deregister_window, py::arg("window"));
#endif
#if NCCLKIT_HAS_WINDOW_USER_PTR
  comm.def("window_user_ptr", &Communicator::window_user_ptr, py::arg("window"));
#endif
#if NCCLKIT_HAS_ONE_SIDED
  comm.def("put_signal", &Communicator::put_signal, py::arg("buf"), py::arg("count"), py::arg("dtype"),
           py::arg("peer"), py::arg("window"), py::arg("offset"), py::arg("signal"), py::arg("context"),
           py::arg("stream"));
  comm.def("signal", &Communicator::signal, py::arg("peer"), py::arg("signal"), py::arg("context"), py::arg("stream"));
  comm.def("wait_signal", &Communicator::wait_signal, py::arg("waits"), py::arg("stream"));
#endif
#if NCCLKIT_WITH_NCCL  // CUDA only: ncclkit.custom_all_reduce says so where this is missing
  bind_custom_all_reduce(m);
#endif
}
