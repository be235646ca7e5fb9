// ncclkit._kernels: the kernels, low level on purpose: tensors are addresses and sizes, the
// stream a handle. ncclkit.ops registers them as torch ops and checks every argument first.
#include <pybind11/pybind11.h>

#include <cstdint>

#include "common/cuda_check.h"
#include "kernels/launch.h"
#include "ncclkit/kernel_config.h"

namespace py = pybind11;
namespace k = ncclkit::kernels;

namespace {

template <typename T>
T* pointer(std::uintptr_t address) {
  return reinterpret_cast<T*>(address);
}

cudaStream_t stream_of(std::uintptr_t handle) { return reinterpret_cast<cudaStream_t>(handle); }

py::dict dtypes() {
  py::dict codes;
  codes["float16"] = static_cast<int>(k::Dtype::float16);
#if NCCLKIT_ENABLE_BF16
  codes["bfloat16"] = static_cast<int>(k::Dtype::bfloat16);
#endif
  return codes;
}

py::dict feature_macros() {
  py::dict features;
  features["NCCLKIT_ENABLE_BF16"] = NCCLKIT_ENABLE_BF16;
  features["NCCLKIT_ENABLE_FP8"] = NCCLKIT_ENABLE_FP8;
  features["NCCLKIT_ENABLE_PDL"] = NCCLKIT_ENABLE_PDL;
  return features;
}

}  // namespace

// Safe without the GIL (free-threaded Pythons): its state is const statics and a mutex-guarded cache of image archs.
PYBIND11_MODULE(_kernels, m, py::mod_gil_not_used()) {
  m.doc() = "CUDA kernels (low level; use ncclkit.ops)";
  m.attr("DTYPES") = dtypes();
  m.attr("features") = feature_macros();
  m.attr("GEMV_MAX_ROWS") = k::kGemvMaxRows;

  m.def(
      "weight_only_gemv",
      [](std::uintptr_t x, std::uintptr_t qweight, std::uintptr_t scales, std::uintptr_t bias, std::uintptr_t out,
         int rows, int n, int kdim, int bits, int group_size, bool static_weights, int dtype, int device,
         std::uintptr_t stream) {
        ncclkit::DeviceGuard guard(device);
        k::GemvArgs args{pointer<const void>(x), pointer<const void>(qweight), pointer<const void>(scales),
                         pointer<const void>(bias), pointer<void>(out), rows, n, kdim, bits, group_size,
                         static_weights};
        k::weight_only_gemv(static_cast<k::Dtype>(dtype), args, k::launch_target(device, stream_of(stream)));
      },
      py::arg("x"), py::arg("qweight"), py::arg("scales"), py::arg("bias"), py::arg("out"), py::arg("m"),
      py::arg("n"), py::arg("k"), py::arg("bits"), py::arg("group_size"), py::arg("static_weights"),
      py::arg("dtype"), py::arg("device"), py::arg("stream"),
      "out[m, n] = x[m, k] @ dequantized(qweight)[n, k].T (+ bias); bias 0 for none. static_weights: no kernel "
      "just before on the stream writes qweight or scales, so the GEMV may read them before that kernel ends");
  m.def(
      "dequantize_weight",
      [](std::uintptr_t qweight, std::uintptr_t scales, std::uintptr_t out, int n, int kdim, int bits, int group_size,
         int dtype, int device, std::uintptr_t stream) {
        ncclkit::DeviceGuard guard(device);
        k::dequantize_weight(static_cast<k::Dtype>(dtype), pointer<const void>(qweight), pointer<const void>(scales),
                             pointer<void>(out), n, kdim, bits, group_size, stream_of(stream));
      },
      py::arg("qweight"), py::arg("scales"), py::arg("out"), py::arg("n"), py::arg("k"), py::arg("bits"),
      py::arg("group_size"), py::arg("dtype"), py::arg("device"), py::arg("stream"));
  m.def(
      "rms_norm",
      [](std::uintptr_t x, std::uintptr_t residual, std::uintptr_t weight, std::uintptr_t out, int rows, int hidden,
         float eps, int dtype, int device, std::uintptr_t stream) {
        ncclkit::DeviceGuard guard(device);
        k::rms_norm(static_cast<k::Dtype>(dtype), pointer<const void>(x), pointer<void>(residual),
                    pointer<const void>(weight), pointer<void>(out), rows, hidden, eps,
                    k::launch_target(device, stream_of(stream)));
      },
      py::arg("x"), py::arg("residual"), py::arg("weight"), py::arg("out"), py::arg("rows"), py::arg("hidden"),
      py::arg("eps"), py::arg("dtype"), py::arg("device"), py::arg("stream"),
      "RMSNorm of x's rows into out; with a residual (not 0), residual += x first and the norm is of that");
  m.def(
      "programmatic_launch",
      [](int device) {
        ncclkit::DeviceGuard guard(device);
        return k::launch_target(device, nullptr).programmatic;
      },
      py::arg("device"),
      "Whether the GEMV and the norms launch programmatically on this device: each may start while the "
      "kernel before it ends (code for sm_90 or newer, NCCLKIT_ENABLE_PDL in the build, NCCLKIT_PDL not 0)");
}
