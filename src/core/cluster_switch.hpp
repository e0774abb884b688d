#pragma once
// Internal, host side: how the two-CTA cluster rows kernels (the norms' wide forward and backward)
// exchange their per-row pair (kernels/cluster_pair_exchange.cuh), read when the plan is made.
// Default: pushed into the partner's shared memory (st.async completing the partner's mbarrier);
// BARACUDA_CLUSTER_EXCHANGE=barrier: published, behind one cluster barrier per row (the A/B
// baseline, the only form before 2026-11-30).
#include "core/env_switch.hpp"

namespace baracuda {

inline bool cluster_mailbox_from_env() { return !env_is("BARACUDA_CLUSTER_EXCHANGE", "barrier"); }

}  // namespace baracuda
