#include "comm/loaded_nccl.h"

#include <dlfcn.h>

#include "comm/nccl_error.h"

namespace ncclkit {

int loaded_version() {
  int version = 0;
  nccl_check(ncclGetVersion(&version), "ncclGetVersion");
  return version;
}

std::string loaded_library_path() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&ncclGetVersion), &info) == 0 || info.dli_fname == nullptr) return "";
  return info.dli_fname;
}

std::string version_string(int code) {
  // NCCL_VERSION(X,Y,Z): X*1000+Y*100+Z up to 2.8, X*10000+Y*100+Z after.
  const int major_unit = code < 10000 ? 1000 : 10000;
  return std::to_string(code / major_unit) + "." + std::to_string(code % major_unit / 100) + "." +
         std::to_string(code % 100);
}

#if NCCLKIT_HAS_PARAMS
std::vector<std::pair<std::string, std::string>> parameters() {
  NCCLKIT_REQUIRE_NCCL(ncclParamGetAllParameterKeys);
  NCCLKIT_REQUIRE_NCCL(ncclParamGetParameter);
  // Both answers live in NCCL's thread-local storage until this thread asks again: copied at once.
  const char** keys = nullptr;
  int count = 0;
  nccl_check(ncclParamGetAllParameterKeys(&keys, &count), "ncclParamGetAllParameterKeys");
  std::vector<std::string> names(keys, keys + count);
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& name : names) {
    const char* value = nullptr;
    int length = 0;
    nccl_check(ncclParamGetParameter(name.c_str(), &value, &length), "ncclParamGetParameter");
    out.emplace_back(name, std::string(value, length));
  }
  return out;
}

std::string parameter(const std::string& name) {
  NCCLKIT_REQUIRE_NCCL(ncclParamGetParameter);
  const char* value = nullptr;
  int length = 0;
  nccl_check(ncclParamGetParameter(name.c_str(), &value, &length), "ncclParamGetParameter");
  return std::string(value, length);
}
#endif

#if NCCLKIT_HAS_ENCRYPTION
void set_encryption(const std::optional<std::string>& psk) {
  NCCLKIT_REQUIRE_NCCL(ncclSetEncryption);
  ncclEncryptionConfig_t config = NCCL_ENCRYPTION_CONFIG_INITIALIZER;
  if (psk) {
    config.mode = NCCL_ENCRYPTION_MODE_PSK;
    config.psk = psk->c_str();
  }
  nccl_check(ncclSetEncryption(&config), "ncclSetEncryption");
}
#endif

}  // namespace ncclkit
