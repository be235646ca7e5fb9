// A collective's reduction: one of NCCL's built-in ops, or a PreMulSum (ncclRedOpCreatePreMulSum:
// each rank's input times a scalar, then summed), made for the call and destroyed after it.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <variant>

#include "common/gpu_api.h"

namespace ncclkit {

class PreMulSum {
 public:
  // A scalar on the host, as the bytes of one element of `dtype` (Python has converted it);
  // NCCL reads it when the op is made.
  static PreMulSum on_host(const std::string& scalar, int dtype);
  // The address of one element of `dtype` in device memory, read while the collective runs.
  static PreMulSum on_device(std::uintptr_t address, int dtype);

  int dtype() const { return dtype_; }
  bool device_resident() const { return on_device_; }
  void* scalar() const;

 private:
  std::array<unsigned char, 8> host_{};
  std::uintptr_t address_ = 0;
  int dtype_ = 0;
  bool on_device_ = false;
};

// A built-in op's code (ncclSum, ...) or a PreMulSum.
using Reduction = std::variant<int, PreMulSum>;

// The ncclRedOp_t of a Reduction for one call on `comm`, of data of type `dtype`: a PreMulSum's
// op is made here and destroyed with this scope (NCCL allows that once the call has returned).
class ReductionScope {
 public:
  ReductionScope(const Reduction& reduction, ncclDataType_t dtype, ncclComm_t comm);
  ~ReductionScope();
  ReductionScope(const ReductionScope&) = delete;
  ReductionScope& operator=(const ReductionScope&) = delete;

  ncclRedOp_t op() const { return op_; }
  // Whether the op only copies on one rank (NCCL then needs no kernel of its own for it).
  bool copies_on_one_rank() const;

 private:
  ncclRedOp_t op_;
  ncclComm_t created_on_ = nullptr;
};

// A built-in op's code, checked: std::invalid_argument for one this build does not know.
ncclRedOp_t as_op(int op);

}  // namespace ncclkit
