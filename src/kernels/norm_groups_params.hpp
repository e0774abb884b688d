#pragma once
// Kernel parameters of the (N, C, *) normalization kernels (norm_groups.cuh), shared with the host
// code that fills them (plain C++: no device code here).
#include <cstdint>

namespace baracuda::norm::cuda {

enum class GroupKind : int { group, instance, batch };

struct GroupParams {
  GroupKind kind;
  const void* x;
  const void* dy;            // backward
  const void* weight;        // W per channel, or null
  const void* bias;          // W per channel, or null (forward)
  const void* mean_in;       // backward: saved statistics (Acc per group)
  const void* rstd_in;
  void* running_mean;        // W per channel: batch_norm eval (read) or training (updated), else null
  void* running_var;
  void* y;                   // forward
  void* dx;                  // backward
  void* mean_out;            // forward: Acc per group, or null
  void* rstd_out;
  void* partial_dw;          // backward: Acc [N, C] (group/instance) or [C] (batch), or null
  void* partial_db;
  int64_t groups, segments, inner, channels, num_groups;
  double eps, momentum;
  bool use_running;          // batch_norm eval: statistics from running_mean / running_var
};

}  // namespace baracuda::norm::cuda
