// Which of this build's code images a GPU runs, asked of the CUDA runtime once per device. A GPU
// may run code JIT-compiled from an older arch's PTX (NCCLKIT_CUDA_ARCHS="80;90a" on an sm_100 runs
// compute_80), whose kernels lack what newer archs have: mma.sync's m16n8k16 (weight_only_mma.cu),
// the wait of dependent_launch.h.
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/cuda_check.h"
#include "kernels/launch.h"

namespace ncclkit::kernels {

// Not an anonymous namespace: nvcc names those after the source's path, and the wheel would
// depend on where the checkout is. One per file, so that no two files' helpers meet at link time.
namespace image_arch_helpers {

// Compiled like every kernel of this extension, so that its image is theirs.
__global__ void image_probe() {}

}  // namespace image_arch_helpers

int image_arch(int device) {
  if (device < 0) throw std::invalid_argument("no CUDA device " + std::to_string(device));
  static std::mutex mutex;
  static std::vector<int> known;  // per device: 0 not asked yet
  const std::lock_guard<std::mutex> lock(mutex);
  if (device >= static_cast<int>(known.size())) known.resize(device + 1);
  if (known[device] == 0) {
    cudaFuncAttributes attributes{};
    NCCLKIT_CUDA_CHECK(cudaFuncGetAttributes(&attributes, image_arch_helpers::image_probe));
    known[device] = attributes.ptxVersion;
  }
  return known[device];
}

}  // namespace ncclkit::kernels
