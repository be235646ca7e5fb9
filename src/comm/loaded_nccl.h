// The NCCL this process loaded, which may be older than the header the bindings were compiled
// against (down to their floor) and may have been loaded by another module first (torch).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ncclkit/config.h"

namespace ncclkit {

// ncclGetVersion(), e.g. 22809 for 2.28.9.
int loaded_version();
// The file it comes from; for NCCL linked statically, this extension's own.
std::string loaded_library_path();
// X.Y.Z of an NCCL version code.
std::string version_string(int code);

#if NCCLKIT_HAS_PARAMS
// Every parameter NCCL documents (NCCL_PARAM_DUMP_ALL=1: every one it has), with its value as
// text: the environment and defaults NCCL runs with. NcclUnavailable below NCCL 2.30.4.
std::vector<std::pair<std::string, std::string>> parameters();
// One of them by name (ncclParamGetParameter); NcclError for a name NCCL does not know.
std::string parameter(const std::string& name);
#endif

#if NCCLKIT_HAS_ENCRYPTION
// ncclSetEncryption for the TCP sockets of every communicator made after it: a pre-shared key,
// or none (plaintext). NcclUnavailable below NCCL 2.32.
void set_encryption(const std::optional<std::string>& psk);
#endif

}  // namespace ncclkit
