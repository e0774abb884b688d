#pragma once
// Internal: what the CUDA loss plan hands its kernel launchers. Operands are dense row-major except
// cross_entropy's [N, C] input, whose rows may be padded (input_row_stride), and the pointwise
// losses' inputs, which may have any strides (strided, strides); pointers are device pointers of
// the argument's dtype. Outputs are always dense.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "baracuda/ops/loss.hpp"

namespace baracuda::loss::cuda {

// Pointwise losses on strided operands: the input's shape and, per operand, its strides in
// elements over that shape (0 along broadcast dims for weight / pos_weight).
struct StridedOperands {
  static constexpr int kMaxRank = 8;
  int rank = 0;
  int64_t sizes[kMaxRank] = {};
  int64_t input[kMaxRank] = {}, other[kMaxRank] = {}, target[kMaxRank] = {};
  int64_t weight[kMaxRank] = {}, pos_weight[kMaxRank] = {};
};

struct LaunchParams {
  LossOp op = LossOp::cross_entropy;
  LossReduction reduction = LossReduction::mean;
  bool write_loss = false;   // forward (and fused): the loss output
  bool write_grad = false;   // backward (and fused): grad_input (and grad_other)
  DType dtype = DType::f32;  // input, target (floating), weight, loss and gradient dtype
  DType target_dtype = DType::i64;
  bool class_indices = true;
  int64_t N = 0, C = 0, D = 1;  // class ops: [N, C, D]; cosine: [N, C]; pointwise: N = numel
  int64_t samples = 0;          // per-sample losses before reduction
  int64_t input_row_stride = 0; // cross_entropy [N, C]: elements between rows of the input (>= C)
  int64_t ignore_index = -100;
  double label_smoothing = 0.0, z_loss = 0.0, beta = 1.0, delta = 1.0, margin = 0.0;
  bool log_target = false;
  // Pointwise weight / pos_weight broadcast as a suffix of the input's shape: element i reads
  // [i % period] (0 = absent).
  int64_t weight_period = 0, pos_weight_period = 0;
  // Pointwise: operands addressed through `strides` (a strided or otherwise broadcast operand).
  bool strided = false;
  StridedOperands strides;
  const void* input = nullptr;
  const void* other = nullptr;
  const void* target = nullptr;
  const void* weight = nullptr;
  const void* pos_weight = nullptr;
  const void* grad_loss = nullptr;  // null in fused mode without one: 1
  void* loss = nullptr;
  void* grad_input = nullptr;
  void* grad_other = nullptr;
  void* workspace = nullptr;
  cudaStream_t stream = nullptr;
  int sm_count = 132;
  int pointwise_blocks = 0;  // fixed at plan time: the deterministic partial-sum grid
  // Pointwise losses without weights on dense operands: the vectorized kernels of
  // loss_pointwise_vector.cu (16-byte loads, the op a template parameter), unless
  // BARACUDA_LOSS_POINTWISE=legacy keeps the grid-stride scalar kernel (the A/B baseline).
  bool pointwise_vector = false;
  // Its streams without a reduction (forward with reduction none, every backward): one pass of
  // blocks, one 16-byte pack per operand per thread (default), or, with
  // BARACUDA_LOSS_POINTWISE_GRID=wave, the wave grid with grid-stride steps (the A/B baseline).
  bool pointwise_wave_grid = false;
  // nll_loss [N, C] backward: one warp per row writing 16-byte packs, the mean's denominator
  // summed with batched target loads, unless BARACUDA_LOSS_NLL_GRAD=legacy keeps the
  // one-thread-per-element kernel (the A/B baseline).
  bool nll_rows_grad = false;
  // cross_entropy [N, C]: a persistent grid whose blocks prefetch each next row (default), or one
  // block per row group without cross-row prefetch (BARACUDA_CE_ROWS=per_block; the A/B baseline).
  bool chained_rows = true;
  // cross_entropy [N, C] forward with long rows on sm_90+: stream the rows through a ring of this
  // many 16 KB shared-memory stages filled by TMA bulk copies (0: the register-pipelined kernel;
  // BARACUDA_CE_BULK_STAGES), folding 16-bit stages with packed max and FFMA exps unless
  // BARACUDA_CE_PACKED_FOLD=0.
  int bulk_stages = 0;
  bool bulk_packed_fold = true;
  // The gradient (backward, and fused) through the same bulk stages too, each row streamed twice
  // (statistics, then the gradient from L2), one 512-thread block per SM. BARACUDA_CE_BULK_GRAD=0
  // turns it off (the A/B baseline).
  bool bulk_grad = true;
  // The kernels as programmatic dependent launches (launch_loss_kernel; BARACUDA_PDL, read when the
  // plan is made: on by default on sm_90+). The cross_entropy [N, C] rows kernels (ce_rows_kernel,
  // ce_rows_bulk_kernel) keep plain launches. Host side only: it sits in the struct's tail padding
  // (sizeof unchanged), so the kernels that take LaunchParams by value keep their parameter layout.
  bool pdl = false;
};

// Workspace bytes each launcher books (the same layout run() uses).
size_t class_workspace(const LaunchParams& p);
size_t pointwise_workspace(const LaunchParams& p);
size_t cosine_workspace(const LaunchParams& p);

// Whether cross_entropy's [N, C] rows go to the TMA bulk-copy kernel (given 16-byte aligned rows,
// checked at launch): bulk_stages set, forward (or with bulk_grad, backward and fused),
// class-index targets without label smoothing, f32 / f16 / bf16 rows of at least 16 KB.
bool bulk_rows_apply(const LaunchParams& p);

// The vectorized pointwise path (the plan sets pointwise_vector for dense operands without weight
// or pos_weight): the fixed grid of its partial sums (mean / sum) for `samples` elements.
int pointwise_vector_blocks(DType dtype, int64_t samples, int sm_count);
Status launch_pointwise_vector(const LaunchParams& p);

// cross_entropy and nll_loss.
Status launch_class(const LaunchParams& p);
// mse, l1, smooth_l1, huber, bce, bce_with_logits, kl_div, margin_ranking.
Status launch_pointwise(const LaunchParams& p);
Status launch_cosine(const LaunchParams& p);

// Maps cudaGetLastError after a launch to backend_error naming the kernel.
Status check_launch(const char* what);

}  // namespace baracuda::loss::cuda
