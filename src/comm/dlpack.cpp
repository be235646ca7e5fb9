#include "comm/dlpack.h"

#include <string>

namespace py = pybind11;

namespace ncclkit {

namespace {

const DLTensor& tensor_of(const py::capsule& capsule) {
  const char* name = capsule.name();
  std::string kind = name ? name : "";
  if (kind == "dltensor") return static_cast<DLManagedTensor*>(capsule.get_pointer())->dl_tensor;
  if (kind == "dltensor_versioned") {
    auto* managed = static_cast<DLManagedTensorVersioned*>(capsule.get_pointer());
    if (managed->version.major != 1) {
      throw py::type_error("DLPack capsule has version " + std::to_string(managed->version.major) +
                           ", this build reads version 1");
    }
    return managed->dl_tensor;
  }
  throw py::type_error("expected a DLPack capsule named 'dltensor' or 'dltensor_versioned', got '" +
                       kind + "' (was it consumed already?)");
}

py::tuple int64_tuple(const int64_t* values, int32_t n) {
  py::tuple out(n);
  for (int32_t i = 0; i < n; ++i) out[i] = values[i];
  return out;
}

}  // namespace

py::dict describe_dlpack(const py::capsule& capsule) {
  const DLTensor& t = tensor_of(capsule);
  py::dict out;
  out["ptr"] = reinterpret_cast<std::uintptr_t>(t.data) + t.byte_offset;
  out["shape"] = int64_tuple(t.shape, t.ndim);
  out["strides"] = t.strides ? py::object(int64_tuple(t.strides, t.ndim)) : py::object(py::none());
  out["dtype_code"] = t.dtype.code;
  out["bits"] = t.dtype.bits;
  out["lanes"] = t.dtype.lanes;
  out["device_type"] = t.device.device_type;
  out["device_id"] = t.device.device_id;
  return out;
}

}  // namespace ncclkit
