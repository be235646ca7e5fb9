// Reading a DLPack capsule (https://dmlc.github.io/dlpack/latest/c_api.html) without consuming it.
// The structs below are the DLPack C ABI, declared here so the build needs no dlpack package.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>

namespace ncclkit {

struct DLDevice {
  int32_t device_type;
  int32_t device_id;
};

struct DLDataType {
  uint8_t code;
  uint8_t bits;
  uint16_t lanes;
};

struct DLTensor {
  void* data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t* shape;
  int64_t* strides;
  uint64_t byte_offset;
};

struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor*);
};

struct DLPackVersion {
  uint32_t major;
  uint32_t minor;
};

struct DLManagedTensorVersioned {
  DLPackVersion version;
  void* manager_ctx;
  void (*deleter)(DLManagedTensorVersioned*);
  uint64_t flags;
  DLTensor dl_tensor;
};

// A dict with ptr, shape, strides (None when the producer gives none), dtype_code, bits, lanes,
// device_type, device_id and readonly (DLPack 1.0's flag). A capsule whose tensor is null or
// whose ndim and shape disagree is a ValueError. The capsule stays unconsumed: its producer keeps
// ownership.
pybind11::dict describe_dlpack(const pybind11::capsule& capsule);

}  // namespace ncclkit
