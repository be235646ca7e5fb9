#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/cuda_check.h"
#include "kernels/launch.h"
#include "ncclkit/kernel_config.h"

namespace ncclkit::kernels {
namespace {

// NCCLKIT_PDL=0 turns programmatic launches off (to rule them out, or to time without them).
bool enabled_by_environment() {
  const char* value = std::getenv("NCCLKIT_PDL");
  if (value == nullptr || std::string(value) == "1") return true;
  if (std::string(value) == "0") return false;
  throw std::invalid_argument(std::string("NCCLKIT_PDL must be 0 (off) or 1 (on, the default), got '") + value +
                              "'");
}

// Whether each device is sm_90 or newer, asked once.
const std::vector<bool>& devices_with_dependent_launch() {
  static const std::vector<bool> devices = [] {
    int count = 0;
    NCCLKIT_CUDA_CHECK(cudaGetDeviceCount(&count));
    std::vector<bool> result(count);
    for (int device = 0; device < count; ++device) {
      int major = 0;
      NCCLKIT_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
      result[device] = major >= 9;
    }
    return result;
  }();
  return devices;
}

}  // namespace

LaunchTarget launch_target(int device, cudaStream_t stream) {
  if (!NCCLKIT_ENABLE_PDL) return {stream, false};
  static const bool enabled = enabled_by_environment();
  const auto& devices = devices_with_dependent_launch();
  const bool capable = device >= 0 && device < static_cast<int>(devices.size()) && devices[device];
  return {stream, enabled && capable};
}

}  // namespace ncclkit::kernels
