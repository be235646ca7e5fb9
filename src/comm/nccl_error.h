// Checking for NCCL calls: a failure becomes ncclkit::NcclError, which the module translates into
// the Python ncclkit.errors.NcclError carrying the call, the result code, ncclGetErrorString and
// the communicator's ncclGetLastError text.
#pragma once

#include <stdexcept>
#include <string>

#include "common/gpu_api.h"
#include "ncclkit/config.h"

namespace ncclkit {

class NcclError : public std::runtime_error {
 public:
  NcclError(std::string call, ncclResult_t code, std::string last_error);
  const std::string& call() const noexcept { return call_; }
  ncclResult_t code() const noexcept { return code_; }
  const std::string& last_error() const noexcept { return last_error_; }

 private:
  std::string call_;
  ncclResult_t code_;
  std::string last_error_;
};

// The enumerator's name, e.g. "ncclInvalidArgument".
const char* nccl_result_name(ncclResult_t code);

// Throws NcclError unless `code` is ncclSuccess (or ncclInProgress, for non-blocking communicators).
void nccl_check(ncclResult_t code, const char* call, ncclComm_t comm = nullptr, bool in_progress_ok = false);

// Registers the NcclError -> Python translation (call once from PYBIND11_MODULE).
void register_nccl_error_translator();

}  // namespace ncclkit
