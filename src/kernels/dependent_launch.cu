#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/cuda_check.h"
#include "kernels/launch.h"
#include "ncclkit/kernel_config.h"

namespace ncclkit::kernels {

// Not an anonymous namespace: nvcc names those after the source's path, and the wheel would
// depend on where the checkout is. One per file, so that no two files' helpers meet at link time.
namespace dependent_launch_helpers {

// Compiled like every kernel of this extension, so that its image is theirs: see below.
__global__ void image_probe() {}

// NCCLKIT_PDL=0 turns programmatic launches off (to rule them out, or to time without them).
bool enabled_by_environment() {
  const char* value = std::getenv("NCCLKIT_PDL");
  if (value == nullptr || std::string(value) == "1") return true;
  if (std::string(value) == "0") return false;
  throw std::invalid_argument(std::string("NCCLKIT_PDL must be 0 (off) or 1 (on, the default), got '") + value +
                              "'");
}

// The arch this build's code has on the current device, `device`: the compute_XX its image was
// compiled for. A GPU may run code JIT-compiled from an older arch's PTX (NCCLKIT_CUDA_ARCHS="80;90a"
// on an sm_100 runs compute_80), whose kernels lack what newer archs have: instructions and the
// wait of dependent_launch.h.
int image_arch(int device) {
  static std::mutex mutex;
  static std::vector<int> known;  // per device: 0 not asked yet
  const std::lock_guard<std::mutex> lock(mutex);
  if (device >= static_cast<int>(known.size())) known.resize(device + 1);
  if (known[device] == 0) {
    cudaFuncAttributes attributes{};
    NCCLKIT_CUDA_CHECK(cudaFuncGetAttributes(&attributes, image_probe));
    known[device] = attributes.ptxVersion;
  }
  return known[device];
}

}  // namespace dependent_launch_helpers

LaunchTarget launch_target(int device, cudaStream_t stream) {
  const int arch = dependent_launch_helpers::image_arch(device);
  static const bool enabled = NCCLKIT_ENABLE_PDL && dependent_launch_helpers::enabled_by_environment();
  return {stream, enabled && arch >= 90, arch};
}

}  // namespace ncclkit::kernels
