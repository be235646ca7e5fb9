#include <pybind11/pybind11.h>

#include <ncclkit/config.h>
#if NCCLKIT_WITH_NCCL
#include <nccl.h>
#endif

PYBIND11_MODULE(_probe, m) {
  m.attr("nccl_version_code") = NCCLKIT_NCCL_VERSION_CODE;
#if NCCLKIT_WITH_NCCL
  m.def("nccl_get_version", [] {
    int version = 0;
    ncclGetVersion(&version);
    return version;
  });
#endif
}
