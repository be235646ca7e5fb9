// ncclCollConfig_t, the per-call configuration of NCCL 2.31's nccl*Config collectives, made once
// from the fields a caller names (ncclkit.CollectiveConfig) and passed to each call that takes it.
#pragma once

#include <deque>
#include <string>
#include <vector>

#include "comm/config_fields.h"
#include "common/gpu_api.h"
#include "ncclkit/config.h"

namespace ncclkit {

class CollectiveConfig {
 public:
  // Throws std::invalid_argument for a field this header lacks (none at all below NCCL 2.31).
  explicit CollectiveConfig(const ConfigFields& fields);
  CollectiveConfig(const CollectiveConfig&) = delete;
  CollectiveConfig& operator=(const CollectiveConfig&) = delete;

  static std::vector<std::string> field_names();

#if NCCLKIT_HAS_COLLECTIVE_CONFIG
  const ncclCollConfig_t* get() const { return &config_; }

 private:
  ncclCollConfig_t config_ = NCCL_COLLCONFIG_INITIALIZER;
  std::deque<std::string> texts_;  // alg_selection, which the struct points to
#endif
};

}  // namespace ncclkit
