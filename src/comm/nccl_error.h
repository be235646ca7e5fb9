// Checking for NCCL calls: a failure becomes ncclkit::NcclError, which the module translates into
// the Python ncclkit.errors.NcclError carrying the call, the result code, ncclGetErrorString and
// the communicator's ncclGetLastError text; a call the loaded NCCL cannot serve, NcclUnavailable.
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

// What the loaded NCCL lacks: an entry point (or data type) newer than it, which the bindings
// reach only where the header had it and bind weakly where the floor may lack it. Translated into
// ncclkit.errors.NcclUnavailableError, with the loaded version and its file.
class NcclUnavailable : public std::runtime_error {
 public:
  NcclUnavailable(std::string name, int since);
  const std::string& name() const noexcept { return name_; }
  int since() const noexcept { return since_; }

 private:
  std::string name_;
  int since_;
};

// A wait on a non-blocking communicator that ncclkit ended: it ran past the communicator's
// timeout, or abort() was called from another thread. Translated into ncclkit.errors'
// NcclTimeoutError and CommunicatorAbortedError.
class NcclTimeout : public std::runtime_error {
 public:
  NcclTimeout(std::string call, double seconds);
  const std::string& call() const noexcept { return call_; }
  double seconds() const noexcept { return seconds_; }

 private:
  std::string call_;
  double seconds_;
};

class CommunicatorAborted : public std::runtime_error {
 public:
  explicit CommunicatorAborted(std::string call);
  const std::string& call() const noexcept { return call_; }

 private:
  std::string call_;
};

inline void require_entry_point(bool bound, const char* name, int since) {
  if (!bound) throw NcclUnavailable(name, since);
}

// Throws NcclUnavailable unless the loaded NCCL has entry point `fn`: before each call of one that
// the floor may lack (NCCLKIT_NCCL_SINCE_<fn> is its release), so that no call reaches a null one.
#define NCCLKIT_REQUIRE_NCCL(fn) \
  ::ncclkit::require_entry_point(NCCLKIT_NCCL_HAS_ENTRY_POINT(fn), #fn, NCCLKIT_NCCL_SINCE_##fn)

// The enumerator's name, e.g. "ncclInvalidArgument".
const char* nccl_result_name(ncclResult_t code);

// Throws NcclError unless `code` is ncclSuccess (or ncclInProgress, for non-blocking communicators).
void nccl_check(ncclResult_t code, const char* call, ncclComm_t comm = nullptr, bool in_progress_ok = false);

// Registers the translations of the exceptions above into Python's (call once from PYBIND11_MODULE).
void register_nccl_error_translator();

}  // namespace ncclkit
