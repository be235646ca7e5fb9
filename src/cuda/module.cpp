// ncclkit._cuda: what the CUDA runtime knows about this machine. Importing it needs no GPU and no
// driver: every query that needs one reports "none" instead of failing at import.
#include <pybind11/pybind11.h>

#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <utility>

#include "common/cuda_check.h"
#include "cuda/probe.h"

namespace py = pybind11;

namespace {

int driver_version() {
  int version = 0;
  // Without a driver this succeeds with 0, or fails on some runtimes: both mean "no driver".
  if (cudaDriverGetVersion(&version) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return version;
}

int runtime_version() {
  int version = 0;
  NCCLKIT_CUDA_CHECK(cudaRuntimeGetVersion(&version));
  return version;
}

int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // no driver or no GPU
    return 0;
  }
  return count;
}

void check_device(int device) {
  int count = device_count();
  if (device < 0 || device >= count) {
    throw py::value_error("device " + std::to_string(device) + " is out of range: " +
                          std::to_string(count) + " CUDA device(s) are visible");
  }
}

std::pair<int, int> device_capability(int device) {
  check_device(device);
  int major = 0, minor = 0;
  NCCLKIT_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  NCCLKIT_CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
  return {major, minor};
}

std::string device_name(int device) {
  check_device(device);
  cudaDeviceProp prop{};
  NCCLKIT_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  return prop.name;
}

int current_device() {
  int device = 0;
  NCCLKIT_CUDA_CHECK(cudaGetDevice(&device));
  return device;
}

// The device that owns `ptr`, or -1 for host memory and pointers CUDA does not know.
int pointer_device(std::uintptr_t ptr) {
  cudaPointerAttributes attrs{};
  if (cudaPointerGetAttributes(&attrs, reinterpret_cast<void*>(ptr)) != cudaSuccess) {
    cudaGetLastError();
    return -1;
  }
  if (attrs.type == cudaMemoryTypeDevice || attrs.type == cudaMemoryTypeManaged) return attrs.device;
  return -1;
}

void synchronize(int device) {
  check_device(device);
  ncclkit::DeviceGuard guard(device);
  py::gil_scoped_release release;
  NCCLKIT_CUDA_CHECK(cudaDeviceSynchronize());
}

// True when a kernel of this build runs on `device`; False when the build has no SASS or PTX for it.
bool kernel_image_available(int device) {
  check_device(device);
  cudaError_t status = ncclkit::launch_probe_kernel(device);
  if (status == cudaErrorNoKernelImageForDevice || status == cudaErrorUnsupportedPtxVersion) {
    cudaGetLastError();
    return false;
  }
  ncclkit::cuda_check(status, "launch_probe_kernel(device)");
  return true;
}

}  // namespace

// Safe without the GIL (free-threaded Pythons): it keeps no state, and its CUDA calls are thread-safe.
PYBIND11_MODULE(_cuda, m, py::mod_gil_not_used()) {
  m.doc() = "CUDA runtime queries used by ncclkit's compatibility check";
  m.def("driver_version", &driver_version, "CUDA version the driver supports (e.g. 13000); 0 without a driver");
  m.def("runtime_version", &runtime_version, "CUDA runtime version this module was built with");
  m.def("device_count", &device_count, "Number of visible CUDA devices; 0 without a GPU or driver");
  m.def("device_capability", &device_capability, py::arg("device"), "(major, minor) compute capability");
  m.def("device_name", &device_name, py::arg("device"));
  m.def("current_device", &current_device);
  m.def("pointer_device", &pointer_device, py::arg("ptr"), "Device owning ptr; -1 for host memory");
  m.def("synchronize", &synchronize, py::arg("device"));
  m.def("kernel_image_available", &kernel_image_available, py::arg("device"),
        "Whether this build's SASS or PTX can run on the device");
}
