// The NCCL data types and reduction ops this build's NCCL has, by the names Python uses.
#pragma once

#include <cstddef>
#include <map>
#include <string>

#include "common/gpu_api.h"

namespace ncclkit {

const std::map<std::string, ncclDataType_t>& nccl_dtypes();
const std::map<std::string, ncclRedOp_t>& nccl_ops();

// Size in bytes of one element; throws std::invalid_argument for a type this build does not know.
std::size_t element_size(ncclDataType_t dtype);

}  // namespace ncclkit
