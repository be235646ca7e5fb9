#include "comm/types.h"

#include <stdexcept>

#include "ncclkit/config.h"

namespace ncclkit {

const std::map<std::string, ncclDataType_t>& nccl_dtypes() {
  static const std::map<std::string, ncclDataType_t> dtypes = {
      {"int8", ncclInt8},       {"uint8", ncclUint8},     {"int32", ncclInt32},
      {"uint32", ncclUint32},   {"int64", ncclInt64},     {"uint64", ncclUint64},
      {"float16", ncclFloat16}, {"float32", ncclFloat32}, {"float64", ncclFloat64},
#if NCCLKIT_HAS_BF16
      {"bfloat16", ncclBfloat16},
#endif
#if NCCLKIT_HAS_FP8
      {"float8_e4m3fn", ncclFloat8e4m3}, {"float8_e5m2", ncclFloat8e5m2},
#endif
  };
  return dtypes;
}

const std::map<std::string, ncclRedOp_t>& nccl_ops() {
  static const std::map<std::string, ncclRedOp_t> ops = {
      {"sum", ncclSum}, {"prod", ncclProd}, {"max", ncclMax}, {"min", ncclMin},
#if NCCLKIT_HAS_AVG
      {"avg", ncclAvg},
#endif
  };
  return ops;
}

std::size_t element_size(ncclDataType_t dtype) {
  switch (dtype) {
    case ncclInt8:
    case ncclUint8:
#if NCCLKIT_HAS_FP8
    case ncclFloat8e4m3:
    case ncclFloat8e5m2:
#endif
      return 1;
    case ncclFloat16:
#if NCCLKIT_HAS_BF16
    case ncclBfloat16:
#endif
      return 2;
    case ncclInt32:
    case ncclUint32:
    case ncclFloat32:
      return 4;
    case ncclInt64:
    case ncclUint64:
    case ncclFloat64:
      return 8;
    default:
      throw std::invalid_argument("unknown NCCL data type " + std::to_string(static_cast<int>(dtype)));
  }
}

}  // namespace ncclkit
