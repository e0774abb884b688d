#pragma once
// Internal: the reduction backward's fast path for groups that are one contiguous run of x and dx
// ("rows": a contiguous [M, N] reduced over N, and any layout that collapses to it). The general
// broadcast kernel (rd_launch_backward.cu) decodes every element's coordinates with 64-bit
// div/mod over up to 8 dims, reads dy with a runtime dtype switch and computes in f64; here the
// element type and the formula are compile-time, the row's gradient and statistics are read once
// per row tile, and x / dx move in 16-byte vectors along the row. Layouts this path does not cover
// (and BARACUDA_REDUCE_BWD_ENGINE=legacy) keep the general kernel.
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "ops/reduce/cuda/rd_problem.hpp"

namespace baracuda::rd::cuda {

// The per-element formula, fixed at plan time from the op and its parameters (see grad_of in
// rd_launch_backward.cu for the rules each one reproduces).
enum class BwdRowsKind : uint8_t {
  broadcast,   // the row's value (sum, mean, norm p = 0)
  nan_masked,  // the row's value, 0 at NaN (nansum, nanmean)
  ties,        // the row's value at elements equal to the result (amax, amin)
  index,       // the row's value at the returned index (max, min)
  sign,        // the row's value times sign(x) (norm p = 1)
  abs_ties,    // sign(x) times the row's value where |x| is the result or NaN (norm p = +-inf)
  scaled,      // x times the row's coefficient (norm p = 2)
  power,       // sign(x) |x / norm|^(p - 1) times dy (norm, other p)
  moments,     // a (x - mean) + b (var, std, var_mean with n - correction > 0)
  exp_shift,   // dy exp(x - lse) (logsumexp)
  prod,        // the product of the others, in f64 (prod)
};

struct BackwardRows {
  bool usable = false;
  BwdRowsKind kind = BwdRowsKind::broadcast;
  DType x_dtype = DType::f32;
  int64_t M = 0;         // rows (output elements; stats index)
  int64_t N = 0;         // row length (group size; the position r of grad_of)
  int64_t x_ld = 0;      // row strides, in elements
  int64_t dx_ld = 0;
  int64_t dy_ld[2] = {0, 0};
  int ndy = 0;
  DType dy_dtype[2] = {DType::f32, DType::f32};
  OpParams op;
  int64_t tiles_per_row = 0;  // a tile: one warp, kRowsVectorsPerLane 16-byte vectors per lane
  int blocks = 0;             // grid: one full wave of resident blocks (grid-stride over tiles)
  int64_t step_rows = 0, step_k = 0;  // the grid's warp count as whole rows + tiles
};

// The rows plan for `b`, or usable = false when the layout or the op is not covered. Host only;
// reads BARACUDA_REDUCE_BWD_ENGINE (legacy: never usable).
BackwardRows plan_backward_rows(const BackwardProblem& b, int sm_count);

// Whether the vector path can run on these pointers: x and dx rows must share their offset
// within 16 bytes (checked per run; no synchronization).
bool backward_rows_aligned(const BackwardRows& p, const void* x, const void* dx);

Status launch_backward_rows(const BackwardRows& p, const void* x, const void* const dy[2], const double* stats,
                            void* dx, const LaunchContext& ctx);

// Tactic words for the plan's sku ("rows-vec16, <kind>").
std::string backward_rows_tactic(const BackwardRows& p);

// Layout collapse shared by the plans (host only): appends d (a dim with `size` and `stride[K]`,
// one stride per tensor) to dims, or folds it into dims.back() when the two are contiguous with
// each other in every tensor (back's stride = d's stride * d's size).
template <class Dim>
void push_merged_dim(std::vector<Dim>& dims, const Dim& d) {
  constexpr int K = static_cast<int>(std::extent_v<decltype(Dim::stride)>);
  if (!dims.empty()) {
    Dim& prev = dims.back();
    bool mergeable = true;
    for (int k = 0; k < K; ++k) mergeable &= prev.stride[k] == d.stride[k] * d.size;
    if (mergeable) {
      prev.size *= d.size;
      for (int k = 0; k < K; ++k) prev.stride[k] = d.stride[k];
      return;
    }
  }
  dims.push_back(d);
}

}  // namespace baracuda::rd::cuda
