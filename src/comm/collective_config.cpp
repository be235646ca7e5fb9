#include "comm/collective_config.h"

#include <stdexcept>

namespace ncclkit {

#if NCCLKIT_HAS_COLLECTIVE_CONFIG

namespace {

const char* const kFieldNames[] = {
    "min_ctas",  "max_ctas",          "nvls_ctas",  "cga_cluster_size", "alg_selection", "force_alg_selection",
    "cta_policy", "user_profiler_tag",
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 32, 0)
    "launch_completion_event",
#endif
};

}  // namespace

CollectiveConfig::CollectiveConfig(const ConfigFields& fields) {
  for (const auto& [name, value] : fields) {
    if (name == "alg_selection") {
      if (!std::holds_alternative<std::string>(value)) throw std::invalid_argument("alg_selection takes a str");
      alg_selection_ = std::get<std::string>(value);
      config_.algSelection = alg_selection_.c_str();
      continue;
    }
    if (!std::holds_alternative<std::int64_t>(value)) throw std::invalid_argument(name + " takes an int");
    const std::int64_t number = std::get<std::int64_t>(value);
    if (name == "min_ctas") {
      config_.minCTAs = static_cast<int>(number);
    } else if (name == "max_ctas") {
      config_.maxCTAs = static_cast<int>(number);
    } else if (name == "nvls_ctas") {
      config_.nvlsCTAs = static_cast<int>(number);
    } else if (name == "cga_cluster_size") {
      config_.cgaClusterSize = static_cast<int>(number);
    } else if (name == "force_alg_selection") {
      config_.forceAlgSelection = static_cast<int>(number);
    } else if (name == "cta_policy") {
      config_.CTAPolicy = static_cast<int>(number);
    } else if (name == "user_profiler_tag") {
      config_.userProfilerTag = static_cast<std::uint64_t>(number);
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 32, 0)
    } else if (name == "launch_completion_event") {
      config_.launchCompletionEvent =
          reinterpret_cast<decltype(config_.launchCompletionEvent)>(static_cast<std::uintptr_t>(number));
#endif
    } else {
      throw std::invalid_argument("ncclCollConfig_t of this header has no field " + name);
    }
  }
}

std::vector<std::string> CollectiveConfig::field_names() { return {std::begin(kFieldNames), std::end(kFieldNames)}; }

#else

CollectiveConfig::CollectiveConfig(const ConfigFields&) {
  throw std::invalid_argument("the NCCL header ncclkit was built against has no per-call configuration (NCCL 2.31)");
}

std::vector<std::string> CollectiveConfig::field_names() { return {}; }

#endif

}  // namespace ncclkit
