#pragma once
// The CUTLASS 3.x sm_90a grouped GEMM (ptr-array, TMA, warp-specialized cooperative, persistent)
// for one element type, one A and B storage and one tiling, plus the rows split's setup kernel that
// turns the device-resident group offsets into the per-group problem shapes, pointers and strides
// the grouped kernel reads. Included by one .cu per element type, split and tiling (each
// instantiation compiles for minutes); the contraction split's setup is in
// grouped_cutlass_contraction.cuh.
//
// Workspace layout (one code path for workspace_bytes() and launch()):
//   [CUTLASS kernel workspace: per-SM TMA descriptors] [G problem shapes] [G pointers to A, B, D]
//   [G strides of A, B, D]. The CUTLASS part depends on the SM count, not on the group sizes, so
//   it is booked at plan time; group sizes are read on the device only.
#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <type_traits>

#include "baracuda/core/workspace.hpp"
#include "cute/tensor.hpp"
#include "cutlass/cutlass.h"
#include "cutlass/epilogue/collective/collective_builder.hpp"
#include "cutlass/epilogue/fusion/operations.hpp"
#include "cutlass/gemm/collective/collective_builder.hpp"
#include "cutlass/gemm/device/gemm_universal_adapter.h"
#include "cutlass/gemm/dispatch_policy.hpp"
#include "cutlass/gemm/group_array_problem_shape.hpp"
#include "cutlass/gemm/kernel/gemm_universal.hpp"
#include "ops/grouped_gemm/cuda/grouped_cutlass_launch.hpp"

namespace baracuda::grouped_gemm::cutlass_sm90 {


// A tiling's shapes as CUTLASS types (grouped_cutlass_tiling.hpp holds the numbers).
template <Tiling T>
struct TilingShapes {
  static constexpr TilingShape kShape = tiling_shape(T);
  using Tile = cute::Shape<cute::Int<kShape.tile_m>, cute::Int<kShape.tile_n>, cute::Int<kShape.tile_k>>;
  // The cluster's M extent > 1 multicasts B tiles to M-neighbours; its N extent > 1, A tiles to N-neighbours.
  using Cluster = cute::Shape<cute::Int<kShape.cluster_m>, cute::Int<kShape.cluster_n>, cute::_1>;
};

// LayoutA: RowMajor (k contiguous) for the rows split; ColumnMajor (m contiguous: the X^T view)
// for the contraction split (grouped_cutlass_contraction.cuh), which keeps the default tiling.
template <class Element_, class LayoutB, class LayoutA_ = cutlass::layout::RowMajor,
          class TileShape_ = typename TilingShapes<kDefaultTiling>::Tile,
          class ClusterShape_ = typename TilingShapes<kDefaultTiling>::Cluster>
struct GroupedKernel {
  using Element = Element_;
  using ProblemShape = cutlass::gemm::GroupProblemShape<cute::Shape<int, int, int>>;  // (M, N, K) per group
  using LayoutA = LayoutA_;
  using LayoutD = cutlass::layout::RowMajor;
  static constexpr int kAlign = 128 / cutlass::sizeof_bits<Element>::value;  // 16-byte TMA alignment
  using Accumulator = float;
  using TileShape = TileShape_;
  using ClusterShape = ClusterShape_;
  using KernelSchedule = cutlass::gemm::KernelPtrArrayTmaWarpSpecializedCooperative;
  using EpilogueSchedule = cutlass::epilogue::PtrArrayTmaWarpSpecializedCooperative;
  // D = alpha * acc; no source C (void), so the epilogue never loads one.
  using Fusion = cutlass::epilogue::fusion::LinearCombination<Element, float, void, float>;

  using Epilogue = typename cutlass::epilogue::collective::CollectiveBuilder<
      cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, TileShape, ClusterShape,
      cutlass::epilogue::collective::EpilogueTileAuto, Accumulator, float, void, LayoutD*, kAlign, Element,
      LayoutD*, kAlign, EpilogueSchedule, Fusion>::CollectiveOp;

  using Mainloop = typename cutlass::gemm::collective::CollectiveBuilder<
      cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, Element, LayoutA*, kAlign, Element, LayoutB*, kAlign,
      Accumulator, TileShape, ClusterShape,
      cutlass::gemm::collective::StageCountAutoCarveout<static_cast<int>(sizeof(typename Epilogue::SharedStorage))>,
      KernelSchedule>::CollectiveOp;

  using Kernel = cutlass::gemm::kernel::GemmUniversal<ProblemShape, Mainloop, Epilogue>;
  using Gemm = cutlass::gemm::device::GemmUniversalAdapter<Kernel>;

  using StrideA = typename Kernel::InternalStrideA;
  using StrideB = typename Kernel::InternalStrideB;
  using StrideD = typename Kernel::InternalStrideD;
  using Shape = typename ProblemShape::UnderlyingProblemShape;

  // Offsets of the per-group arrays inside the plan's workspace.
  struct Layout {
    size_t cutlass = 0, shapes = 0, ptr_a = 0, ptr_b = 0, ptr_d = 0, stride_a = 0, stride_b = 0, stride_d = 0;
    size_t total = 0;
  };

  static typename Gemm::Arguments arguments(int groups, int sm_count, int device, float alpha, Shape* shapes,
                                            const Element** pa, const Element** pb, Element** pd, StrideA* sa,
                                            StrideB* sb, StrideD* sd) {
    typename Gemm::Arguments args;
    args.mode = cutlass::gemm::GemmUniversalMode::kGrouped;
    // host_problem_shapes stays null: the group sizes exist on the device only.
    args.problem_shape = ProblemShape{groups, shapes, nullptr};
    args.mainloop.ptr_A = pa;
    args.mainloop.dA = sa;
    args.mainloop.ptr_B = pb;
    args.mainloop.dB = sb;
    args.epilogue.thread.alpha = alpha;
    args.epilogue.thread.beta = 0.0f;
    args.epilogue.ptr_C = nullptr;
    args.epilogue.dC = nullptr;
    args.epilogue.ptr_D = pd;
    args.epilogue.dD = sd;
    args.hw_info.device_id = device;
    args.hw_info.sm_count = sm_count;
    return args;
  }

  static Layout layout(int groups, int sm_count) {
    const auto g = static_cast<size_t>(groups);
    WorkspaceLayout w;
    Layout l;
    auto args = arguments(groups, sm_count, 0, 1.0f, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr);
    l.cutlass = w.book(Gemm::get_workspace_size(args));
    l.shapes = w.book(g * sizeof(Shape));
    l.ptr_a = w.book(g * sizeof(void*));
    l.ptr_b = w.book(g * sizeof(void*));
    l.ptr_d = w.book(g * sizeof(void*));
    l.stride_a = w.book(g * sizeof(StrideA));
    l.stride_b = w.book(g * sizeof(StrideB));
    l.stride_d = w.book(g * sizeof(StrideD));
    l.total = w.total();
    return l;
  }
};

// One block: validates the offsets (a block-wide vote, so that either every group runs or none
// does), then writes each group's problem shape, pointers and strides.
template <class K, class Element>
__global__ void grouped_setup_kernel(LaunchParams p, typename K::Shape* shapes, const Element** pa,
                                     const Element** pb, Element** pd, typename K::StrideA* sa,
                                     typename K::StrideB* sb, typename K::StrideD* sd) {
  const auto offset = [&](int i) -> int64_t {
    return p.offsets_i64 ? static_cast<const int64_t*>(p.offsets)[i] : static_cast<const int32_t*>(p.offsets)[i];
  };
  int bad = 0;
  for (int g = static_cast<int>(threadIdx.x); g < p.groups; g += static_cast<int>(blockDim.x)) {
    const int64_t lo = offset(g), hi = offset(g + 1);
    if (lo < 0 || hi < lo || hi > p.m_total) bad = 1;
    if (g == 0 && lo != 0) bad = 1;
    if (g == p.groups - 1 && hi != p.m_total) bad = 1;
    // A group's row count is an int in CUTLASS's problem shape.
    if (hi - lo > INT32_MAX) bad = 1;
  }
  const bool any_bad = __syncthreads_or(bad) != 0;
  for (int g = static_cast<int>(threadIdx.x); g < p.groups; g += static_cast<int>(blockDim.x)) {
    const int64_t lo = any_bad ? 0 : offset(g);
    const int64_t rows = any_bad ? 0 : offset(g + 1) - lo;  // invalid offsets: every group empty, D untouched
    shapes[g] = typename K::Shape{static_cast<int>(rows), static_cast<int>(p.n), static_cast<int>(p.k)};
    pa[g] = static_cast<const Element*>(p.a) + lo * p.lda;
    pb[g] = static_cast<const Element*>(p.b) + static_cast<int64_t>(g) * p.b_group_stride;
    pd[g] = static_cast<Element*>(p.d) + lo * p.ldd;
    sa[g] = cute::make_stride(p.lda, cute::Int<1>{}, cute::Int<0>{});
    if constexpr (cute::is_same_v<typename K::StrideB, cute::Stride<int64_t, cute::Int<1>, cute::Int<0>>>) {
      sb[g] = cute::make_stride(p.ldb, cute::Int<1>{}, cute::Int<0>{});  // (n, k): k contiguous
    } else {
      sb[g] = cute::make_stride(cute::Int<1>{}, p.ldb, cute::Int<0>{});  // (n, k): n contiguous
    }
    sd[g] = cute::make_stride(p.ldd, cute::Int<1>{}, cute::Int<0>{});
  }
  if (threadIdx.x == 0 && p.status != nullptr) *p.status = any_bad ? 1 : 0;
}

// CUTLASS's three steps on arguments the setup kernel's device arrays describe: can_implement
// (a not_supported with CUTLASS's reason), initialize in the plan's workspace, run on the stream.
template <class K>
Status run_cutlass_gemm(const typename K::Gemm::Arguments& args, void* workspace, cudaStream_t stream) {
  typename K::Gemm gemm;
  if (cutlass::Status s = gemm.can_implement(args); s != cutlass::Status::kSuccess)
    return not_supported(std::string("[grouped_gemm] CUTLASS can_implement: ") + cutlass::cutlassGetStatusString(s));
  if (cutlass::Status s = gemm.initialize(args, workspace, stream); s != cutlass::Status::kSuccess)
    return backend_error(std::string("[grouped_gemm] CUTLASS initialize: ") + cutlass::cutlassGetStatusString(s));
  if (cutlass::Status s = gemm.run(stream); s != cutlass::Status::kSuccess)
    return backend_error(std::string("[grouped_gemm] CUTLASS run: ") + cutlass::cutlassGetStatusString(s));
  return Status::ok();
}

// A KernelKey's element type (grouped_cutlass_launch.hpp) as CUTLASS's.
template <Element E>
using CutlassElement = std::conditional_t<E == Element::bf16, cutlass::bfloat16_t, cutlass::half_t>;

// B [K, N] with unit k stride ([G, N, K] storage) is CUTLASS's ColumnMajor.
template <bool BKContiguous>
using RowsLayoutB = std::conditional_t<BKContiguous, cutlass::layout::ColumnMajor, cutlass::layout::RowMajor>;

// The rows split's kernel for a KernelKey's parts.
template <Element E, Tiling T, bool BKContiguous>
using RowsKernel = GroupedKernel<CutlassElement<E>, RowsLayoutB<BKContiguous>, cutlass::layout::RowMajor,
                                 typename TilingShapes<T>::Tile, typename TilingShapes<T>::Cluster>;

// Declared in grouped_cutlass_launch.hpp; explicitly instantiated by the grouped_cutlass_*.cu of
// each built kernel.
template <Element E, Tiling T, bool BKContiguous>
size_t rows_workspace_bytes(int groups, int sm_count) {
  return RowsKernel<E, T, BKContiguous>::layout(groups, sm_count).total;
}

template <Element E, Tiling T, bool BKContiguous>
Status rows_launch(const LaunchParams& p) {
  using K = RowsKernel<E, T, BKContiguous>;
  using Elem = typename K::Element;
  const typename K::Layout l = K::layout(p.groups, p.sm_count);
  auto* base = static_cast<char*>(p.workspace);
  auto* shapes = reinterpret_cast<typename K::Shape*>(base + l.shapes);
  auto* pa = reinterpret_cast<const Elem**>(base + l.ptr_a);
  auto* pb = reinterpret_cast<const Elem**>(base + l.ptr_b);
  auto* pd = reinterpret_cast<Elem**>(base + l.ptr_d);
  auto* sa = reinterpret_cast<typename K::StrideA*>(base + l.stride_a);
  auto* sb = reinterpret_cast<typename K::StrideB*>(base + l.stride_b);
  auto* sd = reinterpret_cast<typename K::StrideD*>(base + l.stride_d);
  auto stream = static_cast<cudaStream_t>(p.stream);

  grouped_setup_kernel<K, Elem><<<1, 1024, 0, stream>>>(p, shapes, pa, pb, pd, sa, sb, sd);
  if (cudaError_t e = cudaGetLastError(); e != cudaSuccess)
    return backend_error(std::string("[grouped_gemm] setup kernel launch: ") + cudaGetErrorString(e));

  auto args = K::arguments(p.groups, p.sm_count, p.device, p.alpha, shapes, pa, pb, pd, sa, sb, sd);
  return run_cutlass_gemm<K>(args, base + l.cutlass, stream);
}

}  // namespace baracuda::grouped_gemm::cutlass_sm90
