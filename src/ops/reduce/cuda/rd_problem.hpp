#pragma once
// Internal: a reduction as the CUDA engines see it, built once at plan time (reduce_cuda_plan.cpp)
// and passed by value to the kernels. Plain structs, usable on host and device.
//
// The input's dims split into kept dims (one per output element) and reduced dims (one group);
// size-1 dims are dropped and neighbours that are contiguous in every tensor merge, so a
// contiguous [B, T, C] reduced over C becomes "[B*T, C] reduce C". Output element o and group
// element r are the row-major linear indices over the kept and the reduced dims in logical
// order (r is what argmax returns).
#include <cstdint>

#include "baracuda/core/dtype.hpp"
#include "baracuda/core/status.hpp"
#include "baracuda/ops/reduce.hpp"

namespace baracuda::rd::cuda {

inline constexpr int kMaxDims = 8;
inline constexpr int kMaxStateBytes = 32;  // the largest accumulator state (rd_functors.cuh)
inline constexpr int kColumnRows = 8;      // the column engine's blocks are 32 x kColumnRows threads
// Blocks of 256 threads every SM holds at once (the kernels' __launch_bounds__ minimum): split
// grids are sized to one full wave of them, so no partial second wave idles most SMs.
inline constexpr int kResidentBlocks = 4;

// Which engine reduces the groups.
enum class Engine : uint8_t {
  row,     // the group is contiguous (reduced dims innermost, unit stride): vector loads per row
  column,  // the last kept dim is contiguous: threads across it, the group split over warps/blocks
};

// Runtime parameters of the accumulator functors.
struct OpParams {
  ReduceOp op = ReduceOp::sum;
  double correction = 1.0;  // var / std / var_mean
  double p = 2.0;           // norm
  int64_t n = 0;            // group size
  bool stats = false;       // write the statistics the backward pass needs instead of the results
  // BARACUDA_REDUCE_FWD=legacy (read at plan time): the functors' packed fast paths off, so the
  // pre-packed per-element code can be timed against them or fallen back to.
  bool legacy = false;
};

// Kept dims (the output index space): sizes plus the strides of x and of up to 3 other tensors
// laid out over them (forward: the outputs; backward: unused here).
struct KeptDims {
  int n = 0;
  int64_t size[kMaxDims] = {};
  int64_t x_stride[kMaxDims] = {};
  int64_t out_stride[2][kMaxDims] = {};
};

struct ReducedDims {
  int n = 0;
  int64_t size[kMaxDims] = {};
  int64_t x_stride[kMaxDims] = {};
};

// Where results go: the outputs (dtype + strides over the kept dims) or, in stats mode, an f64
// array of two values per output element in the workspace.
struct OutputSpec {
  int count = 0;
  DType dtype[2] = {DType::f32, DType::f32};
  void* data[2] = {nullptr, nullptr};
  double* stats = nullptr;
};

// The forward launch: geometry, tactic and functor parameters.
struct ForwardProblem {
  Engine engine = Engine::row;
  DType x_dtype = DType::f32;
  DType acc = DType::f32;  // f32, f64 or i64
  KeptDims kept;
  ReducedDims red;
  int64_t M = 0;  // output elements
  int64_t N = 0;  // group size
  OpParams op;
  // Tactic (chosen at plan time from the SM count).
  int splits = 1;          // chunks per group; > 1 writes partial states to the workspace
  int64_t chunk = 0;       // elements per chunk (row) or group rows per chunk (column)
  bool warp_per_row = false;
  int vec = 1;             // column engine: adjacent columns per thread (1 = generic strided)
  // Row engine over a group made of contiguous runs (the innermost reduced dim has unit stride
  // but the reduced dims do not merge, e.g. [A, B, C] reduced over {0, 2}): elements per run,
  // 0 when the whole group is one contiguous row. Chunks are then whole runs.
  int64_t run = 0;
};

// The backward launch: full-rank geometry of x, dx and the incoming gradients.
struct BackwardProblem {
  int rank = 0;
  int64_t size[kMaxDims] = {};
  bool reduced[kMaxDims] = {};
  int64_t x_stride[kMaxDims] = {};
  int64_t dx_stride[kMaxDims] = {};
  int64_t dy_stride[2][kMaxDims] = {};  // 0 over reduced dims
  int ndy = 0;
  DType x_dtype = DType::f32;
  DType dy_dtype[2] = {DType::f32, DType::f32};
  int64_t numel = 0;
  OpParams op;
};

// Host side only (never passed to a kernel).
struct LaunchContext {
  void* stream = nullptr;  // cudaStream_t
  int sm_count = 1;
  // Every kernel (forward, finalize, backward) as a programmatic dependent launch (BARACUDA_PDL,
  // read at plan time: on by default on sm_90+; core/pdl_switch.hpp, kernels/pdl.cuh).
  bool pdl = false;
};

// Forward launchers, one per functor family (rd_launch_*.cu). `partials` is the workspace area
// for split partial states (splits * M * kMaxStateBytes bytes).
#define BARACUDA_RD_LAUNCHER(name)                                                                    \
  Status name(const ForwardProblem& p, const void* x, const OutputSpec& out, void* partials, \
              const LaunchContext& ctx);
BARACUDA_RD_LAUNCHER(launch_sum)
BARACUDA_RD_LAUNCHER(launch_prod)
BARACUDA_RD_LAUNCHER(launch_extreme)
BARACUDA_RD_LAUNCHER(launch_extreme_forward_f32)   // launch_extreme's parts (rd_launch_extreme_*.cu)
BARACUDA_RD_LAUNCHER(launch_extreme_forward_wide)
BARACUDA_RD_LAUNCHER(launch_extreme_stats)
BARACUDA_RD_LAUNCHER(launch_welford)
BARACUDA_RD_LAUNCHER(launch_norm)
BARACUDA_RD_LAUNCHER(launch_logsumexp)
BARACUDA_RD_LAUNCHER(launch_logical)
#undef BARACUDA_RD_LAUNCHER
Status launch_backward(const BackwardProblem& p, const void* x, const void* const dy[2], const double* stats,
                       void* dx, const LaunchContext& ctx);
Status check_launch(const char* what);

}  // namespace baracuda::rd::cuda
