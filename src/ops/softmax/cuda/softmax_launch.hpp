#pragma once
// Internal: what the softmax CUDA plan hands its kernels. The plan resolves, at run time, the row
// view of every tensor (outer dims merged where all tensors allow it) and picks one engine:
//   warp     one warp per row, the row in registers (rows of up to 32*4 vectors: 1024 bf16)
//   block    one block per row, the row in registers (up to 512 threads * 8 vectors: 32768 bf16)
//   online   one block per row, single-pass running max + rescaled sum, then a second read to
//            write (rows too long for registers)
//   column   one thread per row, walking the dim with its stride: the engine for a dim that is
//            not innermost (adjacent threads read adjacent inner elements: coalesced), and the
//            fallback for any other layout
//   columns  (unmasked, a dim that is not innermost, the innermost outer dim contiguous) a block
//            per tile of adjacent inner columns, the dim split over its threads, 16-byte vectors
//            along the inner dim, a fixed-tree merge in shared memory (kernels/softmax_columns.cuh)
//   rows     (f32 math, 16-byte vectors) a group of group_warps warps per row, the row
//            in registers, several groups per block for short rows (kernels/softmax_rows_fast.cuh);
//            preferred over warp / block where it applies; a mask along the dim with unit stride
//            (boolean, or additive of x's dtype) takes the masked rows kernels
//            (kernels/softmax_rows_masked.cuh), never staged
//   rows_staged  the rows engines for long rows (16-32 warps per row): one group per block, the
//            block's next row streamed into shared memory (cp.async) while the current one is
//            computed; the forward double-buffers x, the backward holds one stage of dy and y.
//            The log_softmax backward also for rows of 4-8 warps (BARACUDA_SOFTMAX_LOG_BWD)
// `vec` is the number of elements per load: 16 bytes of the loaded dtype when every row start is
// 16-byte aligned, else 1.
#include <cuda_runtime_api.h>

#include <cstdint>

#include "baracuda/core/dtype.hpp"
#include "baracuda/core/status.hpp"

namespace baracuda::sm::cuda {

constexpr int kMaxOuter = 7;  // rank <= 8, one dim is the softmax dim

// One tensor as rows: the strides (elements) over the merged outer dims and along the dim.
struct RowOperand {
  const void* data = nullptr;
  int64_t outer[kMaxOuter] = {};
  int64_t along = 0;
};

enum class MaskKind : int { none = 0, additive = 1, boolean = 2 };

struct KernelParams {
  RowOperand in0;   // forward: x; backward: dy
  RowOperand in1;   // backward: y
  RowOperand out;   // forward: y; backward: dx (data cast to void* in the kernel)
  RowOperand mask;  // broadcast to x's shape
  int64_t outer_sizes[kMaxOuter] = {};
  int outer_rank = 0;
  int64_t rows = 0;  // product of outer_sizes
  int64_t n = 0;     // size of the softmax dim
  MaskKind mask_kind = MaskKind::none;
  DType mask_dtype = DType::boolean;
  int mask_esize = 1;     // bytes per mask element
  bool log = false;       // log_softmax
  double scale = 1.0;     // 1 / temperature
  // Forward rows engine: prefetch each next row into L2 (BARACUDA_SOFTMAX_ROW_PREFETCH=0: off, A/B).
  bool row_prefetch = true;
  // Backward register rows kernel, log_softmax: load y after the row's reduction (the default)
  // instead of with dy (BARACUDA_SOFTMAX_LOG_BWD_Y=early, A/B).
  bool log_bwd_y_late = true;
  // Prefetch the block's first rows into L2 before griddepcontrol.wait (kernels/pdl.cuh): 1 the
  // staged forward kernel (BARACUDA_PDL_PREFETCH=staged, A/B), 2 also the register rows kernels
  // and the staged backward (the default with PDL); core/pdl_switch.hpp.
  int pdl_prefetch = 0;
};

enum class Engine : int { warp, block, online, column, rows, rows_staged, columns };

struct LaunchConfig {
  Engine engine = Engine::column;
  int vec = 1;      // elements per load
  int items = 1;    // vectors per thread (warp / block / rows engines)
  int threads = 0;  // block size
  int64_t grid = 0;
  int group_warps = 1;  // rows engines: warps per row
  int sm_count = 1;     // rows_staged: the grid is sized from the kernel's occupancy at launch
  int columns_tx_log2 = 5;  // columns: log2 of the threads (vectors of columns) across a tile
  int fwd_stages = 2;       // rows_staged forward: shared-memory stages of x (2 or 3)
  // Every kernel as a programmatic dependent launch (BARACUDA_PDL, read when the plan is made;
  // core/pdl_switch.hpp, kernels/pdl.cuh).
  bool pdl = false;
};

// Launches the forward (load dtype = x's, store dtype = y's) or backward (load = y's, store = dx's)
// kernel for one dtype pair; backend_error names the kernel when the launch fails,
// not_supported when the pair has no kernels.
Status launch_softmax(bool backward, DType load, DType store, const KernelParams& p, const LaunchConfig& c,
                      cudaStream_t stream);

// Maps cudaGetLastError after a launch to backend_error naming the engine.
Status check_softmax_launch(const char* engine, bool backward);

// The (load, store) dtype pairs that have kernels: equal dtypes, and f16/bf16 -> f32 forward
// (torch's dtype=f32 on 16-bit inputs) with its f32 -> f16/bf16 backward.
bool has_kernels(bool backward, DType load, DType store);

}  // namespace baracuda::sm::cuda
