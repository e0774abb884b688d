#pragma once
// The contraction split (D[g] = alpha * A[:, off[g]:off[g+1]] @ B[off[g]:off[g+1], :], the MoE
// weight gradient) on the CUTLASS sm_90a grouped kernel of grouped_cutlass_kernel.cuh, with A
// M-major (CUTLASS ColumnMajor: the X^T view) and B N-major (RowMajor), plus its two small kernels:
//
//  * the setup kernel (one block) checks the offsets against K_total (a block-wide vote: every
//    group runs or none does), writes each group's problem (M, N, K_g), pointers
//    A + off[g] * lda, B + off[g] * ldb, D + g * d_group_stride, and strides, and lists the empty
//    groups. An empty group is handed to CUTLASS as M = 0 (no tiles), never as K = 0: in
//    CUTLASS 4.2's array mainloop (sm90_mma_array_tma_gmma_ss_warpspecialized.hpp) a tile with
//    k_tile_count 0 issues no GMMA, so its accumulator fragment is never zeroed and the epilogue
//    would store alpha times uninitialized registers.
//  * the zero kernel writes D[g] = 0 for each listed empty group (torch._grouped_mm's empty sum).
//    With invalid offsets the list is empty and D is left untouched.
//
// Workspace layout: the rows split's (GroupedKernel::layout: CUTLASS workspace, shapes, pointers,
// strides), then [G int32: the empty groups' indices] [int32: how many].
#include "ops/grouped_gemm/cuda/grouped_cutlass_kernel.cuh"

namespace baracuda::grouped_gemm::cutlass_sm90 {

template <class Element>
using ContractionKernel = GroupedKernel<Element, cutlass::layout::RowMajor, cutlass::layout::ColumnMajor>;

template <class Element>
struct ContractionLayout {
  typename ContractionKernel<Element>::Layout gemm;
  size_t empty_groups = 0, empty_count = 0, total = 0;

  static ContractionLayout make(int groups, int sm_count) {
    ContractionLayout l;
    l.gemm = ContractionKernel<Element>::layout(groups, sm_count);
    WorkspaceLayout w;
    w.book(l.gemm.total);
    l.empty_groups = w.book(static_cast<size_t>(groups) * sizeof(int32_t));
    l.empty_count = w.book(sizeof(int32_t));
    l.total = w.total();
    return l;
  }
};

template <class K, class Element>
__global__ void contraction_setup_kernel(ContractionLaunchParams p, typename K::Shape* shapes, const Element** pa,
                                         const Element** pb, Element** pd, typename K::StrideA* sa,
                                         typename K::StrideB* sb, typename K::StrideD* sd, int32_t* empty_groups,
                                         int32_t* empty_count) {
  const auto offset = [&](int i) -> int64_t {
    return p.offsets_i64 ? static_cast<const int64_t*>(p.offsets)[i] : static_cast<const int32_t*>(p.offsets)[i];
  };
  __shared__ int n_empty;
  if (threadIdx.x == 0) n_empty = 0;  // published by the barrier of __syncthreads_or below
  int bad = 0;
  for (int g = static_cast<int>(threadIdx.x); g < p.groups; g += static_cast<int>(blockDim.x)) {
    const int64_t lo = offset(g), hi = offset(g + 1);
    if (lo < 0 || hi < lo || hi > p.k_total) bad = 1;
    if (g == 0 && lo != 0) bad = 1;
    if (g == p.groups - 1 && hi != p.k_total) bad = 1;
    if (hi - lo > INT32_MAX) bad = 1;  // K_g is an int in CUTLASS's problem shape
  }
  const bool any_bad = __syncthreads_or(bad) != 0;
  for (int g = static_cast<int>(threadIdx.x); g < p.groups; g += static_cast<int>(blockDim.x)) {
    const int64_t lo = any_bad ? 0 : offset(g);
    const int64_t kg = any_bad ? 0 : offset(g + 1) - lo;
    // Invalid offsets: every group has no tiles and none is listed, so D stays untouched.
    const int rows = kg > 0 ? static_cast<int>(p.m) : 0;
    shapes[g] = typename K::Shape{rows, static_cast<int>(p.n), kg > 0 ? static_cast<int>(kg) : 1};
    pa[g] = static_cast<const Element*>(p.a) + lo * p.lda;
    pb[g] = static_cast<const Element*>(p.b) + lo * p.ldb;
    pd[g] = static_cast<Element*>(p.d) + static_cast<int64_t>(g) * p.d_group_stride;
    sa[g] = cute::make_stride(cute::Int<1>{}, p.lda, cute::Int<0>{});  // (m, k): m contiguous
    sb[g] = cute::make_stride(cute::Int<1>{}, p.ldb, cute::Int<0>{});  // (n, k): n contiguous
    sd[g] = cute::make_stride(p.ldd, cute::Int<1>{}, cute::Int<0>{});
    if (!any_bad && kg == 0) empty_groups[atomicAdd(&n_empty, 1)] = g;  // order is irrelevant
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    *empty_count = n_empty;
    if (p.status != nullptr) *p.status = any_bad ? 1 : 0;
  }
}

// Zeros D[g] for every listed group: one row of one group per block step, 16-byte stores where
// the row allows (ldd, the group stride and D's pointer are 16-byte multiples: TMA's rules).
template <class Element>
__global__ void contraction_zero_kernel(ContractionLaunchParams p, const int32_t* empty_groups,
                                        const int32_t* empty_count) {
  constexpr int64_t kVec = 16 / sizeof(Element);
  const int64_t rows = static_cast<int64_t>(*empty_count) * p.m;
  const int64_t vecs = p.n / kVec;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int64_t g = empty_groups[r / p.m];
    auto* row = static_cast<Element*>(p.d) + g * p.d_group_stride + (r % p.m) * p.ldd;
    for (int64_t v = threadIdx.x; v < vecs; v += blockDim.x) reinterpret_cast<uint4*>(row)[v] = make_uint4(0, 0, 0, 0);
    for (int64_t c = vecs * kVec + threadIdx.x; c < p.n; c += blockDim.x) row[c] = Element(0.0f);
  }
}

template <class Element>
size_t grouped_contraction_workspace_bytes(int groups, int sm_count) {
  return ContractionLayout<Element>::make(groups, sm_count).total;
}

template <class Element>
Status grouped_contraction_launch(const ContractionLaunchParams& p) {
  using K = ContractionKernel<Element>;
  const ContractionLayout<Element> cl = ContractionLayout<Element>::make(p.groups, p.sm_count);
  const typename K::Layout& l = cl.gemm;
  auto* base = static_cast<char*>(p.workspace);
  auto* shapes = reinterpret_cast<typename K::Shape*>(base + l.shapes);
  auto* pa = reinterpret_cast<const Element**>(base + l.ptr_a);
  auto* pb = reinterpret_cast<const Element**>(base + l.ptr_b);
  auto* pd = reinterpret_cast<Element**>(base + l.ptr_d);
  auto* sa = reinterpret_cast<typename K::StrideA*>(base + l.stride_a);
  auto* sb = reinterpret_cast<typename K::StrideB*>(base + l.stride_b);
  auto* sd = reinterpret_cast<typename K::StrideD*>(base + l.stride_d);
  auto* empty_groups = reinterpret_cast<int32_t*>(base + cl.empty_groups);
  auto* empty_count = reinterpret_cast<int32_t*>(base + cl.empty_count);
  auto stream = static_cast<cudaStream_t>(p.stream);

  contraction_setup_kernel<K, Element><<<1, 1024, 0, stream>>>(p, shapes, pa, pb, pd, sa, sb, sd, empty_groups,
                                                               empty_count);
  if (cudaError_t e = cudaGetLastError(); e != cudaSuccess)
    return backend_error(std::string("[grouped_gemm] contraction setup kernel launch: ") + cudaGetErrorString(e));
  // A fixed grid (two blocks per SM) striding over the empty groups' rows: no host knowledge of
  // how many groups are empty is needed, and with none every block exits at once.
  contraction_zero_kernel<Element><<<2 * p.sm_count, 256, 0, stream>>>(p, empty_groups, empty_count);
  if (cudaError_t e = cudaGetLastError(); e != cudaSuccess)
    return backend_error(std::string("[grouped_gemm] contraction zero kernel launch: ") + cudaGetErrorString(e));

  // D = alpha * A_g B_g with A_g (M, K_g) and B_g (N, K_g) in CUTLASS's (n, k) view of B.
  auto args = K::arguments(p.groups, p.sm_count, p.device, p.alpha, shapes, pa, pb, pd, sa, sb, sd);
  return run_cutlass_gemm<K>(args, base + l.cutlass, stream);
}

}  // namespace baracuda::grouped_gemm::cutlass_sm90
