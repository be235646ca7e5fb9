// ncclConfig_t from the fields a caller names. Python checks names, types and the NCCL each field
// needs (ncclkit.config); this side knows which fields the header has and where each one lives.
#pragma once

#include <deque>
#include <string>
#include <vector>

#include "comm/config_fields.h"
#include "common/gpu_api.h"

namespace ncclkit {

class CommConfig {
 public:
  // Unset fields keep NCCL_CONFIG_INITIALIZER's values: NCCL's defaults. Throws
  // std::invalid_argument for a field this header lacks or a value of the wrong kind.
  explicit CommConfig(const ConfigFields& fields = {});
  CommConfig(const CommConfig&) = delete;
  CommConfig& operator=(const CommConfig&) = delete;
  // Moved, a deque keeps its elements where they are: the struct's pointers stay good.
  CommConfig(CommConfig&&) = default;
  CommConfig& operator=(CommConfig&&) = default;

  // The fields of this build's ncclConfig_t, by Python name.
  static std::vector<std::string> field_names();

  // NCCL reads the struct during the call that takes it: keep this object alive until then.
  ncclConfig_t* get() { return &config_; }
  bool has_blocking() const { return config_.blocking != NCCL_CONFIG_UNDEF_INT; }
  bool blocking() const { return config_.blocking != 0; }
  void set_blocking(bool blocking) { config_.blocking = blocking ? 1 : 0; }
  // The texts the struct points to, for the communicator to keep: NCCL holds on to commName for
  // the communicator's life, and reads netName while a non-blocking init goes on.
  std::deque<std::string> take_texts() { return std::move(texts_); }

 private:
  ncclConfig_t config_ = NCCL_CONFIG_INITIALIZER;
  std::deque<std::string> texts_;
};

}  // namespace ncclkit
