#include "comm/reduction.h"

#include <cstring>
#include <stdexcept>

#include "comm/nccl_error.h"
#include "comm/types.h"

namespace ncclkit {

PreMulSum PreMulSum::on_host(const std::string& scalar, int dtype) {
  const std::size_t size = element_size(static_cast<ncclDataType_t>(dtype));
  if (scalar.size() != size) {
    throw std::invalid_argument("premul_sum: the host scalar is " + std::to_string(scalar.size()) +
                                " bytes, and one element of the data is " + std::to_string(size));
  }
  PreMulSum out;
  std::memcpy(out.host_.data(), scalar.data(), size);
  out.dtype_ = dtype;
  return out;
}

PreMulSum PreMulSum::on_device(std::uintptr_t address, int dtype) {
  element_size(static_cast<ncclDataType_t>(dtype));  // throws for a type this build does not know
  if (address == 0) throw std::invalid_argument("premul_sum: the device scalar's address is null");
  PreMulSum out;
  out.address_ = address;
  out.dtype_ = dtype;
  out.on_device_ = true;
  return out;
}

void* PreMulSum::scalar() const {
  return on_device_ ? reinterpret_cast<void*>(address_) : const_cast<unsigned char*>(host_.data());
}

ncclRedOp_t as_op(int op) {
  // One bit per op this build knows, worked out once: all_reduce is called often enough that a
  // walk over nccl_ops() would show.
  static const unsigned known = [] {
    unsigned bits = 0;
    for (const auto& entry : nccl_ops()) bits |= 1u << entry.second;
    return bits;
  }();
  if (op < 0 || op >= 32 || !(known >> op & 1u)) {
    throw std::invalid_argument("unknown NCCL reduction op " + std::to_string(op));
  }
  return static_cast<ncclRedOp_t>(op);
}

ReductionScope::ReductionScope(const Reduction& reduction, ncclDataType_t dtype, ncclComm_t comm) {
  if (const int* builtin = std::get_if<int>(&reduction)) {
    op_ = as_op(*builtin);
    return;
  }
  const PreMulSum& premul = std::get<PreMulSum>(reduction);
  if (premul.dtype() != static_cast<int>(dtype)) {
    throw std::invalid_argument("premul_sum: the scalar's type (NCCL type " + std::to_string(premul.dtype()) +
                                ") is not the data's (NCCL type " + std::to_string(static_cast<int>(dtype)) + ")");
  }
  const auto residence = premul.device_resident() ? ncclScalarDevice : ncclScalarHostImmediate;
  nccl_check(ncclRedOpCreatePreMulSum(&op_, premul.scalar(), dtype, residence, comm), "ncclRedOpCreatePreMulSum",
             comm);
  created_on_ = comm;
}

ReductionScope::~ReductionScope() {
  if (created_on_ != nullptr) ncclRedOpDestroy(op_, created_on_);
}

bool ReductionScope::copies_on_one_rank() const {
  return created_on_ == nullptr && (op_ == ncclSum || op_ == ncclProd || op_ == ncclMax || op_ == ncclMin);
}

}  // namespace ncclkit
