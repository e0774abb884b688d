#pragma once
// Internal: the plain interface between the grouped GEMM's CUDA executables (no CUTLASS headers)
// and the CUTLASS sm_90a kernels (grouped_cutlass_*.cu, one translation unit per element type,
// split and tiling because each instantiation compiles for minutes).
#include <cstddef>
#include <cstdint>

#include "baracuda/core/status.hpp"
#include "ops/grouped_gemm/cuda/grouped_cutlass_tiling.hpp"

namespace baracuda::grouped_gemm::cutlass_sm90 {

enum class Element : uint8_t { bf16, f16 };

// Which CUTLASS kernel: the element type of A, B and D, how each group's B [K, N] is stored, and
// the CTA tile and cluster shapes.
struct KernelKey {
  Element element = Element::bf16;
  bool b_k_contiguous = true;  // B's k stride is 1 ([G, N, K] storage, CUTLASS ColumnMajor); else n stride is 1
  Tiling tiling = kDefaultTiling;
};

// The default tiling is built for both B storages; the others only for B [G, N, K] (the MoE
// weight), to keep the build time they add at two instantiations per tiling.
constexpr bool kernel_is_built(KernelKey key) { return key.tiling == kDefaultTiling || key.b_k_contiguous; }

// Everything one run needs; every pointer is device memory of the plan's device.
struct LaunchParams {
  const void* a = nullptr;        // [M_total, K], row stride lda, k stride 1
  const void* b = nullptr;        // [G, K, N]: group stride b_group_stride, the other stride 1 (see KernelKey)
  void* d = nullptr;              // [M_total, N], row stride ldd, n stride 1
  const void* offsets = nullptr;  // [G + 1] int32 or int64
  bool offsets_i64 = false;
  int32_t* status = nullptr;      // optional: 0 when the offsets were valid, 1 otherwise
  int groups = 0;
  int64_t m_total = 0, n = 0, k = 0;
  int64_t lda = 0, ldb = 0, b_group_stride = 0, ldd = 0;  // ldb: the non-unit stride of B's matrix
  float alpha = 1.0f;
  void* workspace = nullptr;  // workspace_bytes(...) bytes, 256-byte aligned
  int device = 0;
  int sm_count = 0;  // the value given to workspace_bytes()
  void* stream = nullptr;  // cudaStream_t
};

// The rows split's kernel for `key`: its workspace size (the CUTLASS part depends on the kernel)
// and its launch. A key that is not built (kernel_is_built) gets the default tiling's kernel for its
// storage. Defined in grouped_cutlass_rows_dispatch.cpp.
size_t workspace_bytes(KernelKey key, int groups, int sm_count);
Status launch(KernelKey key, const LaunchParams& p);

// One built rows-split kernel's workspace size and launch. Defined in grouped_cutlass_kernel.cuh
// and explicitly instantiated, each built kernel in one translation unit: grouped_cutlass_bf16.cu
// and grouped_cutlass_f16.cu (the default tiling, both B storages),
// grouped_cutlass_<element>_<tiling>.cu (the other tilings, B [G, N, K]). Only the dispatch above
// names them all: a translation unit that sees both it and the kernel definitions would compile
// every kernel.
template <Element E, Tiling T, bool BKContiguous>
size_t rows_workspace_bytes(int groups, int sm_count);
template <Element E, Tiling T, bool BKContiguous>
Status rows_launch(const LaunchParams& p);

// ------------------------------------------------------------------------------------------------
// split = contraction (grouped_cutlass_contraction.cuh): D[g] = alpha * A[:, off[g]:off[g+1]] @
// B[off[g]:off[g+1], :]. One storage only, the one the MoE weight gradient has: A with unit stride
// along M (A = X^T for a row-major X: CUTLASS ColumnMajor), B with unit stride along N (row-major
// dY: CUTLASS RowMajor), D [G, M, N] rows with unit stride. Every group pointer then moves along
// the strided dimension only, so arbitrary offsets keep TMA's 16-byte alignment.
struct ContractionLaunchParams {
  const void* a = nullptr;        // [M, K_total]: m stride 1, k stride lda
  const void* b = nullptr;        // [K_total, N]: k stride ldb, n stride 1
  void* d = nullptr;              // [G, M, N]: group stride d_group_stride, row stride ldd, n stride 1
  const void* offsets = nullptr;  // [G + 1] int32 or int64, split K_total
  bool offsets_i64 = false;
  int32_t* status = nullptr;      // optional: 0 when the offsets were valid, 1 otherwise
  int groups = 0;
  int64_t m = 0, n = 0, k_total = 0;
  int64_t lda = 0, ldb = 0, ldd = 0, d_group_stride = 0;
  float alpha = 1.0f;
  void* workspace = nullptr;  // contraction_workspace_bytes(...) bytes, 256-byte aligned
  int device = 0;
  int sm_count = 0;  // the value given to contraction_workspace_bytes()
  void* stream = nullptr;  // cudaStream_t
};

// Per element type (grouped_cutlass_contraction_bf16.cu, grouped_cutlass_contraction_f16.cu).
size_t contraction_workspace_bytes_bf16(int groups, int sm_count);
size_t contraction_workspace_bytes_f16(int groups, int sm_count);
Status contraction_launch_bf16(const ContractionLaunchParams& p);
Status contraction_launch_f16(const ContractionLaunchParams& p);

inline size_t contraction_workspace_bytes(Element e, int groups, int sm_count) {
  return e == Element::bf16 ? contraction_workspace_bytes_bf16(groups, sm_count)
                            : contraction_workspace_bytes_f16(groups, sm_count);
}
inline Status contraction_launch(Element e, const ContractionLaunchParams& p) {
  return e == Element::bf16 ? contraction_launch_bf16(p) : contraction_launch_f16(p);
}

}  // namespace baracuda::grouped_gemm::cutlass_sm90
