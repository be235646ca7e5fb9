#include "comm/dlpack.h"

#include <string>

namespace py = pybind11;

namespace ncclkit {

namespace {

// DLPack 1.0's flag of a tensor its consumer must not write.
constexpr uint64_t kReadOnly = 1;
// More dimensions than any producer makes: a larger ndim is a broken capsule, not an array.
constexpr int32_t kMaxDims = 64;

struct Described {
  const DLTensor& tensor;
  bool read_only;
};

Described tensor_of(const py::capsule& capsule) {
  const char* name = capsule.name();
  std::string kind = name ? name : "";
  if (kind != "dltensor" && kind != "dltensor_versioned") {
    throw py::type_error("expected a DLPack capsule named 'dltensor' or 'dltensor_versioned', got '" + kind +
                         "' (was it consumed already?)");
  }
  if (capsule.get_pointer() == nullptr) throw py::value_error("DLPack capsule holds a null tensor");
  if (kind == "dltensor") return {static_cast<DLManagedTensor*>(capsule.get_pointer())->dl_tensor, false};
  auto* managed = static_cast<DLManagedTensorVersioned*>(capsule.get_pointer());
  if (managed->version.major != 1) {
    throw py::type_error("DLPack capsule has version " + std::to_string(managed->version.major) +
                         ", this build reads version 1");
  }
  return {managed->dl_tensor, (managed->flags & kReadOnly) != 0};
}

// Every pointer and extent the producer gives is checked before it is read: a capsule is foreign
// memory, and a broken one must be an exception, not a fault.
void check_tensor(const DLTensor& t) {
  if (t.ndim < 0 || t.ndim > kMaxDims) {
    throw py::value_error("DLPack tensor has ndim " + std::to_string(t.ndim) + " (0 to " + std::to_string(kMaxDims) +
                          " expected)");
  }
  if (t.ndim > 0 && t.shape == nullptr) {
    throw py::value_error("DLPack tensor has ndim " + std::to_string(t.ndim) + " and no shape");
  }
  for (int32_t i = 0; i < t.ndim; ++i) {
    if (t.shape[i] < 0) {
      throw py::value_error("DLPack tensor has a negative extent " + std::to_string(t.shape[i]) + " in dimension " +
                            std::to_string(i));
    }
  }
}

py::tuple int64_tuple(const int64_t* values, int32_t n) {
  py::tuple out(n);
  for (int32_t i = 0; i < n; ++i) out[i] = values[i];
  return out;
}

}  // namespace

py::dict describe_dlpack(const py::capsule& capsule) {
  const auto [t, read_only] = tensor_of(capsule);
  check_tensor(t);
  py::dict out;
  out["ptr"] = reinterpret_cast<std::uintptr_t>(t.data) + t.byte_offset;
  out["shape"] = int64_tuple(t.shape, t.ndim);
  out["strides"] = t.strides ? py::object(int64_tuple(t.strides, t.ndim)) : py::object(py::none());
  out["dtype_code"] = t.dtype.code;
  out["bits"] = t.dtype.bits;
  out["lanes"] = t.dtype.lanes;
  out["device_type"] = t.device.device_type;
  out["device_id"] = t.device.device_id;
  out["readonly"] = read_only;
  return out;
}

}  // namespace ncclkit
