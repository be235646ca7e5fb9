#include <pybind11/pybind11.h>

#include <ncclkit/config.h>

PYBIND11_MODULE(_probe, m) { m.attr("nccl_version_code") = NCCLKIT_NCCL_VERSION_CODE; }
