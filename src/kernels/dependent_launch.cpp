#include <cstdlib>
#include <stdexcept>
#include <string>

#include "kernels/launch.h"
#include "ncclkit/kernel_config.h"

namespace ncclkit::kernels {

// Not an anonymous namespace: nvcc names those after the source's path, and the wheel would
// depend on where the checkout is. One per file, so that no two files' helpers meet at link time.
namespace dependent_launch_helpers {

// NCCLKIT_PDL=0 turns programmatic launches off (to rule them out, or to time without them).
bool enabled_by_environment() {
  const char* value = std::getenv("NCCLKIT_PDL");
  if (value == nullptr || std::string(value) == "1") return true;
  if (std::string(value) == "0") return false;
  throw std::invalid_argument(std::string("NCCLKIT_PDL must be 0 (off) or 1 (on, the default), got '") + value +
                              "'");
}

}  // namespace dependent_launch_helpers

LaunchTarget launch_target(int device, cudaStream_t stream) {
  const int arch = image_arch(device);
  static const bool enabled = NCCLKIT_ENABLE_PDL && dependent_launch_helpers::enabled_by_environment();
  return {stream, enabled && arch >= 90, arch};
}

}  // namespace ncclkit::kernels
