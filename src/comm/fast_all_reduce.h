// Comm.all_reduce as a CPython fast call (METH_FASTCALL) instead of a pybind11 binding.
#pragma once

#include <pybind11/pybind11.h>

#include "comm/communicator.h"

namespace ncclkit {

// Sets Comm.all_reduce(send, recv, count, dtype, op, stream) on the bound class.
void bind_fast_all_reduce(pybind11::class_<Communicator>& comm);

}  // namespace ncclkit
