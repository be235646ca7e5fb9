#include "comm/comm_config.h"

#include <stdexcept>

namespace ncclkit {

namespace {

// Where each field of ncclConfig_t lives, for the fields this header has (each came with the
// NCCL release its #if names; python/ncclkit/config.py says the same for the loaded NCCL).
struct Field {
  const char* name;
  int ncclConfig_t::*number;
  const char* ncclConfig_t::*text;
};

const std::vector<Field>& fields() {
  static const std::vector<Field> table = {
      {"blocking", &ncclConfig_t::blocking, nullptr},
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 17, 0)
      {"cga_cluster_size", &ncclConfig_t::cgaClusterSize, nullptr},
      {"min_ctas", &ncclConfig_t::minCTAs, nullptr},
      {"max_ctas", &ncclConfig_t::maxCTAs, nullptr},
      {"net_name", nullptr, &ncclConfig_t::netName},
#endif
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 18, 0)
      {"split_share", &ncclConfig_t::splitShare, nullptr},
#endif
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 25, 0)
      {"traffic_class", &ncclConfig_t::trafficClass, nullptr},
#endif
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 27, 0)
      {"comm_name", nullptr, &ncclConfig_t::commName},
      {"collnet_enable", &ncclConfig_t::collnetEnable, nullptr},
      {"cta_policy", &ncclConfig_t::CTAPolicy, nullptr},
      {"shrink_share", &ncclConfig_t::shrinkShare, nullptr},
      {"nvls_ctas", &ncclConfig_t::nvlsCTAs, nullptr},
#endif
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 28, 0)
      {"n_channels_per_net_peer", &ncclConfig_t::nChannelsPerNetPeer, nullptr},
      {"nvlink_centric_sched", &ncclConfig_t::nvlinkCentricSched, nullptr},
#endif
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 29, 0)
      {"graph_usage_mode", &ncclConfig_t::graphUsageMode, nullptr},
      {"num_rma_ctx", &ncclConfig_t::numRmaCtx, nullptr},
#endif
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 30, 0)
      {"max_p2p_peers", &ncclConfig_t::maxP2pPeers, nullptr},
#endif
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 30, 5)
      {"graph_stream_ordering", &ncclConfig_t::graphStreamOrdering, nullptr},
#endif
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 31, 0)
      {"launch_order_implicit", &ncclConfig_t::launchOrderImplicit, nullptr},
      {"num_rma_sig", &ncclConfig_t::numRmaSig, nullptr},
      {"rma_eager_init", &ncclConfig_t::rmaEagerInit, nullptr},
      {"host_cft_mode", &ncclConfig_t::hostCftMode, nullptr},
#endif
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 32, 0)
      {"nvls_host_mode", &ncclConfig_t::nvlsHostMode, nullptr},
#endif
  };
  return table;
}

const Field& field(const std::string& name) {
  for (const Field& f : fields()) {
    if (name == f.name) return f;
  }
  throw std::invalid_argument("ncclConfig_t of NCCL " + std::to_string(NCCL_VERSION_CODE) + "'s header has no field " +
                              name);
}

}  // namespace

CommConfig::CommConfig(const ConfigFields& given) {
  for (const auto& [name, value] : given) {
    const Field& f = field(name);
    if (f.number != nullptr && std::holds_alternative<std::int64_t>(value)) {
      config_.*f.number = static_cast<int>(std::get<std::int64_t>(value));
    } else if (f.text != nullptr && std::holds_alternative<std::string>(value)) {
      config_.*f.text = texts_.emplace_back(std::get<std::string>(value)).c_str();
    } else {
      throw std::invalid_argument("config field " + name + " takes " + (f.text ? "a str" : "an int"));
    }
  }
}

std::vector<std::string> CommConfig::field_names() {
  std::vector<std::string> names;
  for (const Field& f : fields()) names.emplace_back(f.name);
  return names;
}

}  // namespace ncclkit
