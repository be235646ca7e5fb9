#include "comm/collective_config.h"

#include <stdexcept>

namespace ncclkit {

#if NCCLKIT_HAS_COLLECTIVE_CONFIG

namespace {

// Where each field of ncclCollConfig_t lives, for the fields this header has.
const std::vector<ConfigField<ncclCollConfig_t>>& fields() {
  static const std::vector<ConfigField<ncclCollConfig_t>> table = {
      number<&ncclCollConfig_t::minCTAs>("min_ctas"),
      number<&ncclCollConfig_t::maxCTAs>("max_ctas"),
      number<&ncclCollConfig_t::nvlsCTAs>("nvls_ctas"),
      number<&ncclCollConfig_t::cgaClusterSize>("cga_cluster_size"),
      text("alg_selection", &ncclCollConfig_t::algSelection),
      number<&ncclCollConfig_t::forceAlgSelection>("force_alg_selection"),
      number<&ncclCollConfig_t::CTAPolicy>("cta_policy"),
      number<&ncclCollConfig_t::userProfilerTag>("user_profiler_tag"),
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 32, 0)
      number<&ncclCollConfig_t::launchCompletionEvent>("launch_completion_event"),
#endif
  };
  return table;
}

}  // namespace

CollectiveConfig::CollectiveConfig(const ConfigFields& given) {
  fill(config_, fields(), given, texts_, "ncclCollConfig_t");
}

std::vector<std::string> CollectiveConfig::field_names() { return names_of(fields()); }

#else

CollectiveConfig::CollectiveConfig(const ConfigFields&) {
  throw std::invalid_argument("the NCCL header ncclkit was built against has no per-call configuration (NCCL 2.31)");
}

std::vector<std::string> CollectiveConfig::field_names() { return {}; }

#endif

}  // namespace ncclkit
