#pragma once

#include <cuda_runtime.h>

namespace ncclkit {

// Launches an empty kernel on `device` and returns the launch's status: cudaErrorNoKernelImageForDevice
// when neither the built SASS nor PTX can run on that GPU.
cudaError_t launch_probe_kernel(int device);

}  // namespace ncclkit
