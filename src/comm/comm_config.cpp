#include "comm/comm_config.h"

namespace ncclkit {

namespace {

// Where each field of ncclConfig_t lives, for the fields this header has (each came with the
// NCCL release its #if names; python/ncclkit/config.py says the same for the loaded NCCL).
const std::vector<ConfigField<ncclConfig_t>>& fields() {
  static const std::vector<ConfigField<ncclConfig_t>> table = {
      number<&ncclConfig_t::blocking>("blocking"),
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 17, 0)
      number<&ncclConfig_t::cgaClusterSize>("cga_cluster_size"),
      number<&ncclConfig_t::minCTAs>("min_ctas"),
      number<&ncclConfig_t::maxCTAs>("max_ctas"),
      text("net_name", &ncclConfig_t::netName),
#endif
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 18, 0)
      number<&ncclConfig_t::splitShare>("split_share"),
#endif
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 25, 0)
      number<&ncclConfig_t::trafficClass>("traffic_class"),
#endif
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 27, 0)
      text("comm_name", &ncclConfig_t::commName),
      number<&ncclConfig_t::collnetEnable>("collnet_enable"),
      number<&ncclConfig_t::CTAPolicy>("cta_policy"),
      number<&ncclConfig_t::shrinkShare>("shrink_share"),
      number<&ncclConfig_t::nvlsCTAs>("nvls_ctas"),
#endif
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 28, 0)
      number<&ncclConfig_t::nChannelsPerNetPeer>("n_channels_per_net_peer"),
      number<&ncclConfig_t::nvlinkCentricSched>("nvlink_centric_sched"),
#endif
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 29, 0)
      number<&ncclConfig_t::graphUsageMode>("graph_usage_mode"),
      number<&ncclConfig_t::numRmaCtx>("num_rma_ctx"),
#endif
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 30, 0)
      number<&ncclConfig_t::maxP2pPeers>("max_p2p_peers"),
#endif
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 30, 5)
      number<&ncclConfig_t::graphStreamOrdering>("graph_stream_ordering"),
#endif
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 31, 0)
      number<&ncclConfig_t::launchOrderImplicit>("launch_order_implicit"),
      number<&ncclConfig_t::numRmaSig>("num_rma_sig"),
      number<&ncclConfig_t::rmaEagerInit>("rma_eager_init"),
      number<&ncclConfig_t::hostCftMode>("host_cft_mode"),
#endif
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 32, 0)
      number<&ncclConfig_t::nvlsHostMode>("nvls_host_mode"),
#endif
  };
  return table;
}

}  // namespace

CommConfig::CommConfig(const ConfigFields& given) { fill(config_, fields(), given, texts_, "ncclConfig_t"); }

std::vector<std::string> CommConfig::field_names() { return names_of(fields()); }

}  // namespace ncclkit
