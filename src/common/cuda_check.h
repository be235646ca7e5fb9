// Checking for CUDA runtime calls: a failure becomes a C++ exception that carries the call, the
// error's name and code and its message, which pybind11 turns into a Python RuntimeError.
#pragma once

#include <stdexcept>
#include <string>

#include "common/gpu_api.h"

namespace ncclkit {

class CudaError : public std::runtime_error {
 public:
  CudaError(const char* call, cudaError_t code)
      : std::runtime_error(std::string(call) + " failed: " + cudaGetErrorString(code) + " (" +
                           cudaGetErrorName(code) + ", " + std::to_string(static_cast<int>(code)) + ")"),
        code_(code) {}
  cudaError_t code() const noexcept { return code_; }

 private:
  cudaError_t code_;
};

inline void cuda_check(cudaError_t code, const char* call) {
  if (code != cudaSuccess) {
    cudaGetLastError();  // clear the sticky-free error so the next call starts clean
    throw CudaError(call, code);
  }
}

// Makes `device` current for a scope and restores the previous device after it.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    cuda_check(cudaGetDevice(&previous_), "cudaGetDevice()");
    changed_ = device != previous_;
    if (changed_) cuda_check(cudaSetDevice(device), "cudaSetDevice(device)");
  }
  // Only when it changed: cudaSetDevice costs as much as enqueueing a small collective.
  ~DeviceGuard() {
    if (changed_) cudaSetDevice(previous_);
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
  bool changed_ = false;
};

}  // namespace ncclkit

#define NCCLKIT_CUDA_CHECK(call) ::ncclkit::cuda_check((call), #call)
