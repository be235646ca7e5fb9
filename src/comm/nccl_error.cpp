#include "comm/nccl_error.h"

#include <pybind11/pybind11.h>

#include "comm/loaded_nccl.h"

namespace py = pybind11;

namespace ncclkit {

NcclError::NcclError(std::string call, ncclResult_t code, std::string last_error)
    : std::runtime_error(call + " failed: " + ncclGetErrorString(code)),
      call_(std::move(call)),
      code_(code),
      last_error_(std::move(last_error)) {}

NcclUnavailable::NcclUnavailable(std::string name, int since)
    : std::runtime_error(name + " needs NCCL " + version_string(since) + ", newer than the NCCL loaded"),
      name_(std::move(name)),
      since_(since) {}

NcclTimeout::NcclTimeout(std::string call, double seconds)
    : std::runtime_error(call + " did not finish within the communicator's timeout"), call_(std::move(call)),
      seconds_(seconds) {}

CommunicatorAborted::CommunicatorAborted(std::string call)
    : std::runtime_error(call + ": the communicator was aborted"), call_(std::move(call)) {}

const char* nccl_result_name(ncclResult_t code) {
  switch (code) {
    case ncclSuccess: return "ncclSuccess";
    case ncclUnhandledCudaError: return "ncclUnhandledCudaError";
    case ncclSystemError: return "ncclSystemError";
    case ncclInternalError: return "ncclInternalError";
    case ncclInvalidArgument: return "ncclInvalidArgument";
    case ncclInvalidUsage: return "ncclInvalidUsage";
    case ncclRemoteError: return "ncclRemoteError";
    case ncclInProgress: return "ncclInProgress";
    default: return "ncclResult";
  }
}

void nccl_check(ncclResult_t code, const char* call, ncclComm_t comm, bool in_progress_ok) {
  if (code == ncclSuccess || (in_progress_ok && code == ncclInProgress)) return;
  std::string last_error;
#if NCCLKIT_HAS_GET_LAST_ERROR
  // NCCL keeps its last message until a new one replaces it, and some failures set none: a
  // message already reported belongs to an earlier failure, not this one.
  thread_local std::string reported;
  if (const char* text = ncclGetLastError(comm); text && reported != text) last_error = reported = text;
#endif
  throw NcclError(call, code, last_error);
}

void register_nccl_error_translator() {
  py::register_exception_translator([](std::exception_ptr thrown) {
    try {
      if (thrown) std::rethrow_exception(thrown);
    } catch (const NcclError& e) {
      py::object cls = py::module_::import("ncclkit.errors").attr("NcclError");
      py::object error = cls(e.call(), static_cast<int>(e.code()), nccl_result_name(e.code()),
                             ncclGetErrorString(e.code()), e.last_error());
      PyErr_SetObject(cls.ptr(), error.ptr());
    } catch (const NcclUnavailable& e) {
      py::object cls = py::module_::import("ncclkit.errors").attr("NcclUnavailableError");
      py::object error = cls(e.name(), version_string(e.since()), version_string(loaded_version()),
                             loaded_library_path());
      PyErr_SetObject(cls.ptr(), error.ptr());
    } catch (const NcclTimeout& e) {
      py::object cls = py::module_::import("ncclkit.errors").attr("NcclTimeoutError");
      PyErr_SetObject(cls.ptr(), cls(e.call(), e.seconds()).ptr());
    } catch (const CommunicatorAborted& e) {
      py::object cls = py::module_::import("ncclkit.errors").attr("CommunicatorAbortedError");
      PyErr_SetObject(cls.ptr(), cls(e.call()).ptr());
    }
  });
}

}  // namespace ncclkit
