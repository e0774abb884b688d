#pragma once
// Internal, host side: how the two-CTA cluster rows kernels (the norms' wide forward and backward)
// exchange their per-row pair (kernels/cluster_pair_exchange.cuh), read when the plan is made.
// Default: pushed into the partner's shared memory (st.async completing the partner's mbarrier),
// waited on at cluster scope; BARACUDA_CLUSTER_EXCHANGE=barrier: published, behind one cluster
// barrier per row (the A/B baseline, the only form before 2026-11-30); =pushed_cta: pushed, waited
// on at CTA scope (no L1 invalidation per row; opt-in until measured).
#include "core/env_switch.hpp"
#include "kernels/cluster_exchange_mode.hpp"

namespace baracuda {

inline kernels::ClusterExchange cluster_exchange_from_env() {
  if (env_is("BARACUDA_CLUSTER_EXCHANGE", "barrier")) return kernels::ClusterExchange::barrier;
  if (env_is("BARACUDA_CLUSTER_EXCHANGE", "pushed_cta")) return kernels::ClusterExchange::pushed_cta;
  return kernels::ClusterExchange::pushed;
}

}  // namespace baracuda
