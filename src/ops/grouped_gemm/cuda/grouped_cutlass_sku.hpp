#pragma once
// Internal: what every CUTLASS grouped-GEMM executable reports (both splits run the same sm_90a
// ptr-array kernel family): its SKU, given the layout it reads, the tiling it was built with and
// any tactic detail, and its precision guarantee.
#include <string>

#include "baracuda/core/sku.hpp"
#include "baracuda/ops/grouped_gemm.hpp"
#include "ops/grouped_gemm/cuda/grouped_cutlass_tiling.hpp"

namespace baracuda::grouped_gemm {

inline KernelSku cutlass_grouped_sku(const GroupedGemmDescriptor& d, std::string layout, cutlass_sm90::Tiling tiling,
                                     int sm_count, const std::string& tactic_detail = {}) {
  const cutlass_sm90::TilingShape t = cutlass_sm90::tiling_shape(tiling);
  KernelSku s;
  s.family = "grouped_gemm";
  s.op = "grouped_gemm";
  s.dtypes = std::string(dtype_name(d.a.dtype)) + "->" + std::string(dtype_name(d.d.dtype));
  s.layout = std::move(layout);
  s.arch = "sm_90a";
  s.backend = "cutlass";
  s.impl = "cutlass_sm90_grouped";
  s.tactic = "ptr-array TMA warp-specialized cooperative, tile " + std::to_string(t.tile_m) + "x" +
             std::to_string(t.tile_n) + "x" + std::to_string(t.tile_k) + ", cluster " + std::to_string(t.cluster_m) +
             "x" + std::to_string(t.cluster_n) + "x1, " + std::to_string(sm_count) + " SMs" + tactic_detail;
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
