#pragma once
// Internal: what every CUTLASS grouped-GEMM executable reports (both splits run the same sm_90a
// ptr-array kernel family): its SKU, given the layout it reads and any tactic detail, and its
// precision guarantee.
#include <string>

#include "baracuda/core/sku.hpp"
#include "baracuda/ops/grouped_gemm.hpp"
#include "ops/grouped_gemm/cuda/grouped_cutlass_launch.hpp"

namespace baracuda::grouped_gemm {

inline KernelSku cutlass_grouped_sku(const GroupedGemmDescriptor& d, std::string layout, int sm_count,
                                     const std::string& tactic_detail = {}) {
  namespace cs = cutlass_sm90;
  KernelSku s;
  s.family = "grouped_gemm";
  s.op = "grouped_gemm";
  s.dtypes = std::string(dtype_name(d.a.dtype)) + "->" + std::string(dtype_name(d.d.dtype));
  s.layout = std::move(layout);
  s.arch = "sm_90a";
  s.backend = "cutlass";
  s.impl = "cutlass_sm90_grouped";
  s.tactic = "ptr-array TMA warp-specialized cooperative, tile " + std::to_string(cs::kTileM) + "x" +
             std::to_string(cs::kTileN) + "x" + std::to_string(cs::kTileK) + ", cluster 2x1x1, " +
             std::to_string(sm_count) + " SMs" + tactic_detail;
  return s;
}

inline PrecisionGuarantee cutlass_grouped_precision() {
  PrecisionGuarantee pg;
  pg.math = "tensor-core products, f32 accumulation, alpha in f32, one rounding to the output dtype";
  pg.accumulator = DType::f32;
  pg.deterministic = true;  // no split-K: each output tile is computed by one CTA in k order
  pg.bit_stable = true;
  return pg;
}

}  // namespace baracuda::grouped_gemm
