#pragma once
// Internal: what the fused scan kernel (src/kernels/scan_fused_engine.cuh) reads besides the
// geometry, and the workspace layout of its launches. Plain data, no CUDA headers.
#include <cstddef>
#include <cstdint>

#include "baracuda/core/dtype.hpp"
#include "ops/scan/cuda/scan_geometry.hpp"

namespace baracuda::sc::cuda {

// Operand roles: dy, x, a dense temporary in the workspace, the output.
constexpr int kFusedOperands = 4;
constexpr int kDy = 0, kX = 1, kTmp = 2, kOut = 3;
// Every fused state (Affine, SegSum, LsePair, ValueIndex, at most two 8-byte fields) fits here.
constexpr size_t kFusedStateBytes = 16;

struct FusedOperand {
  const void* data = nullptr;  // nullptr: the pass does not use this role
  DType dtype = DType::f32;
  TensorStrides strides;
};

struct FusedArgs {
  FusedOperand opnd[kFusedOperands];
  DType compute = DType::f32;  // dtype=: x is rounded through it first when round_x
  bool round_x = false;
};

// What the fused launcher computes (chosen at plan time).
enum class FusedKind : uint8_t {
  cumsum_backward,        // dy dtype != x dtype: one pass
  cumprod_backward,       // suffix affine pass into tmp, then the exclusive product times tmp
  cummax_backward,        // index flags into tmp, then a segmented suffix sum
  cummin_backward,
  logcumsumexp_backward,  // the forward result into tmp, then a suffix log-sum-exp pair
  convert_cumsum,         // dtype= forward
  convert_cumprod,
};

struct FusedConfig {
  FusedKind kind = FusedKind::cumsum_backward;
  bool acc_f64 = false;    // accumulate in double (f64 involved), else float
  bool int_math = false;   // convert_*: integer compute dtype (wrapping 64-bit)
  bool exclusive = false;
  bool reverse = false;    // the descriptor's direction (the launcher flips it for suffix passes)
  // cumprod_backward: many contiguous aligned lines may take the two block-per-line kernels
  // (scan_cumprod_backward_lines.cuh); BARACUDA_SCAN_CUMPROD_BWD=legacy turns it off (A/B switch).
  bool cumprod_lines = true;
};

// The line pitch of cumprod_backward's f32 temporary: a multiple of 4 elements, so that every line
// of it starts 16-byte aligned for the block-per-line kernels.
inline int64_t cumprod_temp_pitch(int64_t n) { return (n + 3) / 4 * 4; }

// Bytes per element of the dense temporary (0: the kind needs none).
inline size_t fused_temp_elem_bytes(const FusedConfig& c) {
  switch (c.kind) {
    case FusedKind::cumprod_backward:
    case FusedKind::logcumsumexp_backward: return c.acc_f64 ? 8 : 4;
    case FusedKind::cummax_backward:
    case FusedKind::cummin_backward: return 1;
    default: return 0;
  }
}

}  // namespace baracuda::sc::cuda
