#pragma once
// How the two-CTA cluster rows kernels (the norms' wide forward and backward) exchange their
// per-row pair (kernels/cluster_pair_exchange.cuh). Host and device; chosen when the plan is
// made (core/cluster_switch.hpp).
namespace baracuda::kernels {

enum class ClusterExchange : int {
  barrier = 0,     // published in this CTA's shared memory, one cluster barrier per row
  pushed = 1,      // st.async into the partner's mailbox, the wait acquiring at cluster scope
  pushed_cta = 2,  // the same, the wait acquiring at CTA scope (no L1 invalidation per row)
};

}  // namespace baracuda::kernels
