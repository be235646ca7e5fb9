// ncclkit._cuda: what the CUDA runtime knows about this machine. Importing it needs no GPU and no
// driver: every query that needs one reports "none" instead of failing at import.
#include <pybind11/pybind11.h>

#include <cuda.h>  // the driver API's types; its one entry point here comes through the runtime
#include <cuda_runtime.h>

#include <cstddef>
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

// The bytes from `ptr` on, up to `wanted`, that lie in device allocations: the rest of ptr's
// allocation, then those mapped right after it (one virtual-memory range can hold several).
// -1 where the driver cannot say (it knows no allocation at ptr): nothing is claimed then.
long long mapped_bytes(std::uintptr_t ptr, std::size_t wanted) {
  using GetAddressRange = CUresult (*)(CUdeviceptr*, std::size_t*, CUdeviceptr);
  static const GetAddressRange get_address_range = [] {
    void* fn = nullptr;
    cudaDriverEntryPointQueryResult found{};
#if CUDART_VERSION >= 12050  // CUDA 13 has only the versioned lookup
    const cudaError_t status =
        cudaGetDriverEntryPointByVersion("cuMemGetAddressRange", &fn, 12000, cudaEnableDefault, &found);
#else
    const cudaError_t status = cudaGetDriverEntryPoint("cuMemGetAddressRange", &fn, cudaEnableDefault, &found);
#endif
    if (status != cudaSuccess || found != cudaDriverEntryPointSuccess) {
      cudaGetLastError();
      fn = nullptr;
    }
    return reinterpret_cast<GetAddressRange>(fn);
  }();
  const int device = pointer_device(ptr);
  if (get_address_range == nullptr || device < 0) return -1;
  ncclkit::DeviceGuard guard(device);  // the driver asks the current context
  std::size_t covered = 0;
  CUdeviceptr next = ptr;
  for (int allocations = 0; covered < wanted; ++allocations) {
    CUdeviceptr base = 0;
    std::size_t size = 0;
    if (allocations == 4096 || get_address_range(&base, &size, next) != CUDA_SUCCESS) {
      if (allocations == 0) return -1;
      break;
    }
    covered = base + size - ptr;
    next = base + size;
  }
  return static_cast<long long>(covered < wanted ? covered : wanted);
}

// Orders work queued on `waiting` after what is queued now on `producer` (an event between the
// two, on `device`): how a consumer honours the stream of the CUDA array interface.
void stream_wait(std::uintptr_t waiting, std::uintptr_t producer, int device) {
  check_device(device);
  ncclkit::DeviceGuard guard(device);
  cudaEvent_t event = nullptr;
  NCCLKIT_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
  const cudaError_t recorded = cudaEventRecord(event, reinterpret_cast<cudaStream_t>(producer));
  const cudaError_t waited = recorded == cudaSuccess
                                 ? cudaStreamWaitEvent(reinterpret_cast<cudaStream_t>(waiting), event, 0)
                                 : recorded;
  cudaEventDestroy(event);  // freed once the wait has seen it, as CUDA defers that
  ncclkit::cuda_check(recorded, "cudaEventRecord(event, producer stream)");
  ncclkit::cuda_check(waited, "cudaStreamWaitEvent(call's stream, event)");
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
  m.def("mapped_bytes", &mapped_bytes, py::arg("ptr"), py::arg("wanted"),
        "Bytes from ptr (up to wanted) in device allocations; -1 where the driver cannot say");
  m.def("stream_wait", &stream_wait, py::arg("waiting"), py::arg("producer"), py::arg("device"),
        "Make stream `waiting` wait for the work queued on stream `producer`");
  m.def("synchronize", &synchronize, py::arg("device"));
  m.def("kernel_image_available", &kernel_image_available, py::arg("device"),
        "Whether this build's SASS or PTX can run on the device");
}
