#pragma once
// Internal: the CTA tile and cluster shapes the rows split's CUTLASS kernel is built with (no
// CUTLASS headers: the plan code, the SKU and the kernels read the same numbers from here).
//
// Why more than one: the grouped tile scheduler rounds each group's M tiles up to the cluster's M
// extent (sm90_tile_scheduler_group.hpp, round_up(ctas_along_m, cluster_shape.m)), so with the
// 2x1 cluster a group with an odd number of 128-row tiles leaves half a cluster idle. A 1x2 cluster
// pairs N tiles instead (A multicast to the N-neighbour); the MoE forward's N (14336) is an even
// number of tiles. Measured on the H200 (main @ 3eff0af, 64 experts, N 14336, K 4096, bf16):
// 128x256 with the 1x2 cluster ran the skewed routing at 587 TFLOP/s (2x1: 472, 128x128 1x2: 503)
// and the balanced one at 647 (2x1: 644), so it is chosen wherever it is built
// (kPreferredTiling); BARACUDA_GROUPED_TILING names another for an A/B.
#include <cstdint>
#include <optional>
#include <string_view>

namespace baracuda::grouped_gemm::cutlass_sm90 {

enum class Tiling : uint8_t {
  m128n128_c2x1,  // built for every key: B tiles multicast to the M-neighbour
  m128n128_c1x2,  // A tiles multicast to the N-neighbour
  m128n256_c1x2,  // wider N tile, A multicast to the N-neighbour
};

// kDefaultTiling is built for every kernel key (the fallback); kPreferredTiling is taken wherever
// it is built (bf16 and f16 with B [G, N, K]).
inline constexpr Tiling kDefaultTiling = Tiling::m128n128_c2x1;
inline constexpr Tiling kPreferredTiling = Tiling::m128n256_c1x2;

struct TilingShape {
  int tile_m, tile_n, tile_k;
  int cluster_m, cluster_n;  // the cluster's K extent is always 1
};

constexpr TilingShape tiling_shape(Tiling t) {
  switch (t) {
    case Tiling::m128n128_c1x2: return {128, 128, 64, 1, 2};
    case Tiling::m128n256_c1x2: return {128, 256, 64, 1, 2};
    case Tiling::m128n128_c2x1: break;
  }
  return {128, 128, 64, 2, 1};
}

// The value BARACUDA_GROUPED_TILING names it by.
constexpr std::string_view tiling_name(Tiling t) {
  switch (t) {
    case Tiling::m128n128_c1x2: return "128x128_1x2";
    case Tiling::m128n256_c1x2: return "128x256_1x2";
    case Tiling::m128n128_c2x1: break;
  }
  return "128x128_2x1";
}

// nullopt for a name that is none of tiling_name()'s values.
constexpr std::optional<Tiling> tiling_from_name(std::string_view name) {
  for (Tiling t : {Tiling::m128n128_c2x1, Tiling::m128n128_c1x2, Tiling::m128n256_c1x2})
    if (name == tiling_name(t)) return t;
  return std::nullopt;
}
static_assert(tiling_from_name(tiling_name(Tiling::m128n128_c2x1)) == Tiling::m128n128_c2x1 &&
                  tiling_from_name(tiling_name(Tiling::m128n128_c1x2)) == Tiling::m128n128_c1x2 &&
                  tiling_from_name(tiling_name(Tiling::m128n256_c1x2)) == Tiling::m128n256_c1x2 &&
                  !tiling_from_name("128x128"),
              "every tiling's switch value names it, and only those values do");

}  // namespace baracuda::grouped_gemm::cutlass_sm90
