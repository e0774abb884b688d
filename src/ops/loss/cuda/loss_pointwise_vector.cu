// The vectorized pointwise losses (mse, l1, smooth_l1, huber, bce, bce_with_logits, kl_div,
// margin_ranking) on dense operands without weight / pos_weight: the default path
// (BARACUDA_LOSS_POINTWISE=legacy keeps loss_pointwise_kernels.cu's scalar kernel).
//
// Why it is faster than the scalar kernel: that one keeps one 4-byte load per operand in flight
// per thread, so the H200 waits on memory latency, not bandwidth. Here the op and the dtype are
// template parameters (no switch per element) and each thread loads 4 (forward) or 2 (backward)
// 16-byte packs per operand before computing anything: 64 / 32 bytes per operand in flight.
//
// Work split: the elements are cut into steps of kThreads * (4 or 2) packs; a block takes steps
// blockIdx.x, blockIdx.x + gridDim.x, ...; within a step, thread i takes packs i, i + kThreads,
// ... (coalesced). Mean / sum: each pack's losses are summed in the accumulator type in element
// order, each pack sum is added to the thread's f64 total, the block folds its threads in a
// fixed order into one f64 partial per block, and finish_kernel sums the partials in a fixed
// order. The grid of the reduction is fixed at plan time, and the order of the additions does
// not depend on the pointers' alignment (a misaligned operand only changes how packs are
// loaded), so the result is bitwise reproducible.
//
// Geometry of the streams without a reduction (forward with reduction none, every backward): by
// default one pass (see "One-pass geometry" below), the elementwise engine's recipe; the wave grid
// above with BARACUDA_LOSS_POINTWISE_GRID=wave (the A/B baseline). Mean / sum forwards always take
// the wave grid (their partials need the fixed grid).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "ops/loss/cuda/loss_common.cuh"
#include "ops/loss/cuda/loss_pointwise_math.cuh"

namespace baracuda::loss::cuda {
namespace {

constexpr int kThreads = 256;
// 16-byte packs per operand a thread loads before computing: 4 in the forward (two streams in),
// 2 in the backward (up to four streams in, one or two out) and in the f64 forward (its log and
// exp): more would spill past the launch bounds' registers.
constexpr int unroll_of(bool backward, int elem_bytes) { return backward || elem_bytes == 8 ? 2 : 4; }
// Resident blocks per SM the launch bounds guarantee and the grids fill (one wave): the forward
// fits 64 registers (1024 threads per SM), the backward's 16-bit packs need up to 80 (768).
constexpr int kForwardBlocksPerSm = 4;
constexpr int kBackwardBlocksPerSm = 3;

template <class T>
constexpr int kPack = 16 / static_cast<int>(sizeof(T));

template <class T>
struct alignas(16) Pack16 {
  T v[kPack<T>];
};

// Elements one block covers per step.
template <class T, bool kBackward>
constexpr int64_t kStepElems = int64_t{kThreads} * unroll_of(kBackward, sizeof(T)) * kPack<T>;

// What the kernels read, by value: a few registers' worth instead of the whole LaunchParams.
struct VectorArgs {
  const void* input;
  const void* other;  // margin_ranking's second input
  const void* target;
  const void* grad_loss;
  void* loss;
  void* grad_input;
  void* grad_other;
  int64_t n;
  bool none;  // reduction none: losses (forward) or grad_loss (backward) per element
  bool mean;
  ElementOptions opt;
};

// Pack k of a thread's step starts kThreads packs after pack k - 1 (coalesced across the block).
template <class T>
__device__ __forceinline__ int64_t pack_start(int64_t first, int k) {
  return first + static_cast<int64_t>(k) * kThreads * kPack<T>;
}

// kFull: every element of the pack is in range and the pointer is 16-byte aligned (one 16-byte
// load). Otherwise element by element below n, 0 beyond.
template <class T, bool kFull>
__device__ __forceinline__ Pack16<T> load_pack(const T* ptr, int64_t e, int64_t n) {
  if constexpr (kFull) {
    return *reinterpret_cast<const Pack16<T>*>(ptr + e);
  } else {
    Pack16<T> r;
#pragma unroll
    for (int j = 0; j < kPack<T>; ++j) r.v[j] = e + j < n ? ptr[e + j] : from_acc<T>(Acc<T>(0));
    return r;
  }
}

template <class T, bool kFull>
__device__ __forceinline__ void store_pack(T* ptr, int64_t e, int64_t n, const Pack16<T>& pack) {
  if constexpr (kFull) {
    *reinterpret_cast<Pack16<T>*>(ptr + e) = pack;
  } else {
#pragma unroll
    for (int j = 0; j < kPack<T>; ++j)
      if (e + j < n) ptr[e + j] = pack.v[j];
  }
}

// sum + l rounded once, never fused with the multiply that made l: the same bits whichever way
// the packs were loaded.
__device__ __forceinline__ float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ double add_rn(double a, double b) { return __dadd_rn(a, b); }

// The x the element math takes: the input, or input - other for margin_ranking.
template <class T, LossOp kOp>
__device__ __forceinline__ Acc<T> x_of(const Pack16<T>& x, const Pack16<T>& o, int j) {
  Acc<T> v = to_acc(x.v[j]);
  if constexpr (kOp == LossOp::margin_ranking_loss) v -= to_acc(o.v[j]);
  return v;
}

// The operands of one pack (o: margin_ranking's other, gl: grad_loss per element; unused
// otherwise).
template <class T>
struct PackInputs {
  Pack16<T> x, t, o, gl;
};

template <class T, LossOp kOp, bool kFull>
__device__ __forceinline__ PackInputs<T> load_inputs(const VectorArgs& p, int64_t e, bool with_grad_loss) {
  PackInputs<T> in;
  in.x = load_pack<T, kFull>(static_cast<const T*>(p.input), e, p.n);
  in.t = load_pack<T, kFull>(static_cast<const T*>(p.target), e, p.n);
  if constexpr (kOp == LossOp::margin_ranking_loss) in.o = load_pack<T, kFull>(static_cast<const T*>(p.other), e, p.n);
  if (with_grad_loss) in.gl = load_pack<T, kFull>(static_cast<const T*>(p.grad_loss), e, p.n);
  return in;
}

// The forward of one pack starting at element e: stores its losses (reduction none) or adds their
// sum, taken in element order, to `mine`.
template <class T, LossOp kOp, bool kFull>
__device__ __forceinline__ void forward_pack(const VectorArgs& p, int64_t e, const PackInputs<T>& in, bool reduce,
                                             double& mine) {
  using A = Acc<T>;
  A sum = A(0);
  Pack16<T> out;
#pragma unroll
  for (int j = 0; j < kPack<T>; ++j) {
    const A l = element_loss<A>(kOp, p.opt, x_of<T, kOp>(in.x, in.o, j), to_acc(in.t.v[j]), A(1), A(1));
    out.v[j] = from_acc<T>(l);
    if (kFull || e + j < p.n) sum = add_rn(sum, l);  // the zeros loaded past the end never count
  }
  if (reduce) mine = __dadd_rn(mine, static_cast<double>(sum));
  else store_pack<T, kFull>(static_cast<T*>(p.loss), e, p.n, out);
}

// The backward of one pack: grad_input = scale * d loss / d x (and grad_other = -that for
// margin_ranking); scale is grad_loss[i] (reduction none) or the reduced scale.
// The gradients of one pack (neg: grad_other, margin_ranking only); shared by both geometries so
// that they compute the same bits.
template <class T, LossOp kOp>
__device__ __forceinline__ void pack_grads(const VectorArgs& p, const PackInputs<T>& in, Acc<T> reduced_scale,
                                           Pack16<T>& g, Pack16<T>& neg) {
  using A = Acc<T>;
#pragma unroll
  for (int j = 0; j < kPack<T>; ++j) {
    const A scale = p.none ? to_acc(in.gl.v[j]) : reduced_scale;
    const A v = scale * element_grad<A>(kOp, p.opt, x_of<T, kOp>(in.x, in.o, j), to_acc(in.t.v[j]), A(1), A(1));
    g.v[j] = from_acc<T>(v);
    neg.v[j] = from_acc<T>(-v);
  }
}

template <class T, LossOp kOp, bool kFull>
__device__ __forceinline__ void backward_pack(const VectorArgs& p, int64_t e, const PackInputs<T>& in,
                                              Acc<T> reduced_scale) {
  Pack16<T> g, neg;
  pack_grads<T, kOp>(p, in, reduced_scale, g, neg);
  store_pack<T, kFull>(static_cast<T*>(p.grad_input), e, p.n, g);
  if constexpr (kOp == LossOp::margin_ranking_loss) store_pack<T, kFull>(static_cast<T*>(p.grad_other), e, p.n, neg);
}

// One step of a thread: its unroll_of(...) packs, starting at element `first`. A full, aligned step
// issues every pack's 16-byte loads before computing any (the memory parallelism this path is
// for); the tail step (or a misaligned operand) loads and computes pack by pack, element by
// element. Either way the packs are computed in the same order with the same arithmetic.
template <class T, LossOp kOp, bool kBackward>
__device__ __forceinline__ void run_step(const VectorArgs& p, int64_t first, bool full, Acc<T> reduced_scale,
                                         double& mine) {
  constexpr int kUnroll = unroll_of(kBackward, sizeof(T));
  const bool with_grad_loss = kBackward && p.none;
  if (full) {
    PackInputs<T> in[kUnroll];
#pragma unroll
    for (int k = 0; k < kUnroll; ++k) in[k] = load_inputs<T, kOp, true>(p, pack_start<T>(first, k), with_grad_loss);
#pragma unroll
    for (int k = 0; k < kUnroll; ++k) {
      if constexpr (kBackward) backward_pack<T, kOp, true>(p, pack_start<T>(first, k), in[k], reduced_scale);
      else forward_pack<T, kOp, true>(p, pack_start<T>(first, k), in[k], !p.none, mine);
    }
  } else {
    for (int k = 0; k < kUnroll; ++k) {
      const int64_t e = pack_start<T>(first, k);
      if (e >= p.n) break;  // this and the later packs are past the end
      const PackInputs<T> in = load_inputs<T, kOp, false>(p, e, with_grad_loss);
      if constexpr (kBackward) backward_pack<T, kOp, false>(p, e, in, reduced_scale);
      else forward_pack<T, kOp, false>(p, e, in, !p.none, mine);
    }
  }
}

template <class T, LossOp kOp>
__global__ void __launch_bounds__(kThreads, kForwardBlocksPerSm) vector_forward_kernel(VectorArgs p, bool aligned,
                                                                               double* partials) {
  kernels::pdl_enter();
  const int64_t n = p.n;
  const bool reduce = !p.none;
  double mine = 0.0;
  constexpr int64_t kStep = kStepElems<T, false>;
  for (int64_t step = blockIdx.x; step * kStep < n; step += gridDim.x) {
    const int64_t base = step * kStep;
    const int64_t first = base + static_cast<int64_t>(threadIdx.x) * kPack<T>;
    run_step<T, kOp, false>(p, first, aligned && base + kStep <= n, Acc<T>(0), mine);
  }
  if (!reduce) return;
  // The block's partial in a fixed order: a shuffle tree per warp, then the warps in order.
  __shared__ double warp_sums[kThreads / 32];
#pragma unroll
  for (int off = 16; off > 0; off /= 2) mine += __shfl_down_sync(0xffffffffu, mine, off);
  if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = mine;
  __syncthreads();
  if (threadIdx.x == 0) {
    double total = warp_sums[0];
#pragma unroll
    for (int w = 1; w < kThreads / 32; ++w) total += warp_sums[w];
    partials[blockIdx.x] = total;
  }
}

// The reduced scale exactly as the scalar kernel forms it: grad_loss (/ n for mean) in f64,
// rounded once to the accumulator type (0 with reduction none: each element takes its grad_loss).
template <class T>
__device__ __forceinline__ Acc<T> reduced_scale_of(const VectorArgs& p) {
  using A = Acc<T>;
  if (p.none) return A(0);
  double s = static_cast<double>(to_acc(static_cast<const T*>(p.grad_loss)[0]));
  if (p.mean) s /= static_cast<double>(p.n);
  return static_cast<A>(s);
}

template <class T, LossOp kOp>
__global__ void __launch_bounds__(kThreads, kBackwardBlocksPerSm) vector_backward_kernel(VectorArgs p, bool aligned) {
  kernels::pdl_enter();
  const int64_t n = p.n;
  const Acc<T> reduced_scale = reduced_scale_of<T>(p);
  constexpr int64_t kStep = kStepElems<T, true>;
  for (int64_t step = blockIdx.x; step * kStep < n; step += gridDim.x) {
    const int64_t base = step * kStep;
    const int64_t first = base + static_cast<int64_t>(threadIdx.x) * kPack<T>;
    double unused = 0.0;
    run_step<T, kOp, true>(p, first, aligned && base + kStep <= n, reduced_scale, unused);
  }
}

// ---------------------------------------------------------------------------------------------
// One-pass geometry: the default for the streams without a reduction (forward with reduction none,
// every backward). It is the elementwise engine's recipe (ew_engine.cuh), which moves f32 add at
// 103% of copy bandwidth on the H200 where the wave grid above moved mse none f32 at 94%:
//  * every thread takes exactly one 16-byte pack per operand and the grid covers every element
//    once (no grid-stride steps): the hardware hands the many small blocks to SMs as they free up,
//    so no SM idles at the end waiting on a block's last steps, and no thread serializes its
//    steps (load, wait, compute, store, then the next load);
//  * bytes in flight come from occupancy instead of unrolling: the cheap ops are held to 32
//    registers so that 8 blocks of 256 threads (the whole SM) are resident (ew_engine measured a
//    bf16 add at 88% of copy with 4 resident blocks against 103% with 8);
//  * stores go out as one st.global.v4 each (nvcc may split a struct of eight 16-bit values into
//    narrower stores, as ew_engine saw in the PTX of its f32->bf16 cast).
// Each element goes through the same element_loss / pack_grads code as in the wave grid, so the
// results are bitwise the same whichever geometry runs.

// The ops without transcendentals fit 32 registers without spills (ptxas -v, sm_90a), except the
// smooth_l1 backward (its division spilled 4 bytes in bf16): it takes 40 (6 resident blocks).
// The others (log, exp, log1p) and f64 take up to 64 (4 resident blocks), as the wave kernels do.
constexpr bool cheap_op(LossOp op) {
  return op == LossOp::mse_loss || op == LossOp::l1_loss || op == LossOp::smooth_l1_loss || op == LossOp::huber_loss ||
         op == LossOp::margin_ranking_loss;
}
template <class T, LossOp kOp, bool kBackward>
constexpr int onepass_min_blocks() {
  if (sizeof(T) == 8 || !cheap_op(kOp)) return 4;
  return kBackward && kOp == LossOp::smooth_l1_loss ? 6 : 8;
}

// One 16-byte pack through a 16-byte word (pointer 16-byte aligned).
template <class T>
__device__ __forceinline__ Pack16<T> load16(const T* ptr) {
  const uint4 w = *reinterpret_cast<const uint4*>(ptr);
  Pack16<T> r;
  __builtin_memcpy(static_cast<void*>(&r), &w, 16);
  return r;
}
template <class T>
__device__ __forceinline__ void store16(T* ptr, const Pack16<T>& v) {
  uint32_t w[4];
  __builtin_memcpy(w, static_cast<const void*>(&v), 16);
  // No "memory" clobber: nothing else in the thread touches these 16 bytes after the store.
  asm volatile("st.global.v4.u32 [%0], {%1, %2, %3, %4};" ::"l"(ptr), "r"(w[0]), "r"(w[1]), "r"(w[2]), "r"(w[3]));
}

template <class T, LossOp kOp>
__device__ __forceinline__ PackInputs<T> load_inputs16(const VectorArgs& p, int64_t e, bool with_grad_loss) {
  PackInputs<T> in;
  in.x = load16(static_cast<const T*>(p.input) + e);
  in.t = load16(static_cast<const T*>(p.target) + e);
  if constexpr (kOp == LossOp::margin_ranking_loss) in.o = load16(static_cast<const T*>(p.other) + e);
  if (with_grad_loss) in.gl = load16(static_cast<const T*>(p.grad_loss) + e);
  return in;
}

// The losses of one pack, element by element exactly as forward_pack forms them.
template <class T, LossOp kOp>
__device__ __forceinline__ Pack16<T> pack_losses(const ElementOptions& opt, const PackInputs<T>& in) {
  using A = Acc<T>;
  Pack16<T> out;
#pragma unroll
  for (int j = 0; j < kPack<T>; ++j)
    out.v[j] = from_acc<T>(element_loss<A>(kOp, opt, x_of<T, kOp>(in.x, in.o, j), to_acc(in.t.v[j]), A(1), A(1)));
  return out;
}

// The element-wise path of the one-pass kernels (a thread's pack that is partial at the tensor's
// end, or any pack of a misaligned operand): one element at a time in a rolled loop, so that it
// adds no live registers to the 16-byte path (unrolled 8 wide, with all loads first, it made the
// 16-bit kernels spill at 32 registers; out of line, it made every thread copy VectorArgs to a
// stack frame). Element i takes the same expression as in pack_losses / pack_grads: f(i, x, t)
// gets element i's x (less other's element for margin_ranking_loss) and target.
template <class T, LossOp kOp, class F>
__device__ __forceinline__ void for_each_pack_element(const VectorArgs& p, int64_t e, F&& f) {
  using A = Acc<T>;
  const int64_t end = e + kPack<T> < p.n ? e + kPack<T> : p.n;
#pragma unroll 1
  for (int64_t i = e; i < end; ++i) {
    A x = to_acc(static_cast<const T*>(p.input)[i]);
    if constexpr (kOp == LossOp::margin_ranking_loss) x -= to_acc(static_cast<const T*>(p.other)[i]);
    const A t = to_acc(static_cast<const T*>(p.target)[i]);
    f(i, x, t);
  }
}

template <class T, LossOp kOp>
__device__ __forceinline__ void onepass_forward_elements(const VectorArgs& p, int64_t e) {
  using A = Acc<T>;
  for_each_pack_element<T, kOp>(p, e, [&](int64_t i, A x, A t) {
    static_cast<T*>(p.loss)[i] = from_acc<T>(element_loss<A>(kOp, p.opt, x, t, A(1), A(1)));
  });
}

template <class T, LossOp kOp>
__device__ __forceinline__ void onepass_backward_elements(const VectorArgs& p, int64_t e, Acc<T> reduced_scale) {
  using A = Acc<T>;
  for_each_pack_element<T, kOp>(p, e, [&](int64_t i, A x, A t) {
    const A scale = p.none ? to_acc(static_cast<const T*>(p.grad_loss)[i]) : reduced_scale;
    const A v = scale * element_grad<A>(kOp, p.opt, x, t, A(1), A(1));
    static_cast<T*>(p.grad_input)[i] = from_acc<T>(v);
    if constexpr (kOp == LossOp::margin_ranking_loss) static_cast<T*>(p.grad_other)[i] = from_acc<T>(-v);
  });
}

// Elements one block covers: one pack per thread.
template <class T>
constexpr int64_t kOnePassBlockElems = int64_t{kThreads} * kPack<T>;

// The block loop runs once unless the tensor has more than 2^30 blocks' worth (onepass_grid).
// A thread's pack that is partial (the tensor's end) or misaligned takes the element-wise path.
template <class T, LossOp kOp>
__global__ void __launch_bounds__(kThreads, onepass_min_blocks<T, kOp, false>())
    onepass_none_forward_kernel(VectorArgs p, bool aligned) {
  kernels::pdl_enter();
  const int64_t n = p.n;
  for (int64_t block = blockIdx.x; block * kOnePassBlockElems<T> < n; block += gridDim.x) {
    const int64_t e = block * kOnePassBlockElems<T> + static_cast<int64_t>(threadIdx.x) * kPack<T>;
    if (aligned && e + kPack<T> <= n) {
      store16(static_cast<T*>(p.loss) + e, pack_losses<T, kOp>(p.opt, load_inputs16<T, kOp>(p, e, false)));
    } else if (e < n) {
      onepass_forward_elements<T, kOp>(p, e);
    }
  }
}

template <class T, LossOp kOp>
__global__ void __launch_bounds__(kThreads, onepass_min_blocks<T, kOp, true>())
    onepass_backward_kernel(VectorArgs p, bool aligned) {
  kernels::pdl_enter();
  const int64_t n = p.n;
  const Acc<T> reduced_scale = reduced_scale_of<T>(p);
  for (int64_t block = blockIdx.x; block * kOnePassBlockElems<T> < n; block += gridDim.x) {
    const int64_t e = block * kOnePassBlockElems<T> + static_cast<int64_t>(threadIdx.x) * kPack<T>;
    if (aligned && e + kPack<T> <= n) {
      Pack16<T> g, neg;
      pack_grads<T, kOp>(p, load_inputs16<T, kOp>(p, e, p.none), reduced_scale, g, neg);
      store16(static_cast<T*>(p.grad_input) + e, g);
      if constexpr (kOp == LossOp::margin_ranking_loss) store16(static_cast<T*>(p.grad_other) + e, neg);
    } else if (e < n) {
      onepass_backward_elements<T, kOp>(p, e, reduced_scale);
    }
  }
}

unsigned onepass_grid(DType dtype, int64_t samples) {
  const int64_t block_elems = int64_t{kThreads} * (16 / static_cast<int64_t>(dtype_size(dtype)));
  const int64_t want = (samples + block_elems - 1) / block_elems;
  constexpr int64_t kMaxGrid = int64_t{1} << 30;
  return static_cast<unsigned>(want < 1 ? 1 : (want < kMaxGrid ? want : kMaxGrid));
}

// ---------------------------------------------------------------------------------------------
bool aligned16(const void* ptr) { return ptr == nullptr || reinterpret_cast<uintptr_t>(ptr) % 16 == 0; }

// One resident wave at most (the blocks loop over the steps).
unsigned wave_grid(DType dtype, int64_t samples, int sm_count, bool backward) {
  const int elem_bytes = static_cast<int>(dtype_size(dtype));
  const int64_t step = int64_t{kThreads} * unroll_of(backward, elem_bytes) * (16 / elem_bytes);
  const int64_t want = (samples + step - 1) / step;
  const int64_t cap = static_cast<int64_t>(sm_count) * (backward ? kBackwardBlocksPerSm : kForwardBlocksPerSm);
  return static_cast<unsigned>(want < 1 ? 1 : (want < cap ? want : cap));
}

template <class T, LossOp kOp>
Status launch_op(const LaunchParams& p) {
  // Every operand the kernels touch must be 16-byte aligned for the pack loads and stores; the
  // element-wise fallback adds in the same order, so alignment never changes a result.
  // (loss and grad_loss are streamed only with reduction none; otherwise they are scalars.)
  const bool none = p.reduction == LossReduction::none;
  const bool aligned = aligned16(p.input) && aligned16(p.other) && aligned16(p.target) && aligned16(p.grad_input) &&
                       aligned16(p.grad_other) && (!none || (aligned16(p.loss) && aligned16(p.grad_loss)));
  const VectorArgs args{p.input,      p.other, p.target, p.grad_loss, p.loss, p.grad_input, p.grad_other, p.samples,
                        none,         p.reduction == LossReduction::mean,
                        ElementOptions{p.beta, p.delta, p.margin, p.log_target, p.pos_weight}};
  if (p.write_grad) {
    if (p.samples <= 0) return Status::ok();
    if (!p.pointwise_wave_grid) {
      return launch_loss_kernel(p, "loss onepass_backward_kernel", onepass_grid(p.dtype, p.samples), kThreads,
                                onepass_backward_kernel<T, kOp>, args, aligned);
    }
    return launch_loss_kernel(p, "loss vector_backward_kernel", wave_grid(p.dtype, p.samples, p.sm_count, true), kThreads,
                              vector_backward_kernel<T, kOp>, args, aligned);
  }
  if (none && !p.pointwise_wave_grid) {
    if (p.samples <= 0) return Status::ok();
    return launch_loss_kernel(p, "loss onepass_none_forward_kernel", onepass_grid(p.dtype, p.samples), kThreads,
                              onepass_none_forward_kernel<T, kOp>, args, aligned);
  }
  double* partials = static_cast<double*>(p.workspace);
  if (p.samples > 0) {
    // Mean / sum: the plan's fixed grid (pointwise_vector_blocks), one partial per block.
    const unsigned grid = p.reduction == LossReduction::none ? wave_grid(p.dtype, p.samples, p.sm_count, false)
                                                             : static_cast<unsigned>(p.pointwise_blocks);
    BARACUDA_TRY(launch_loss_kernel(p, "loss vector_forward_kernel", grid, kThreads, vector_forward_kernel<T, kOp>, args,
                                    aligned, partials));
  }
  return finish_pointwise_partials<T>(p, partials);
}

template <class T>
Status launch_typed(const LaunchParams& p) {
  switch (p.op) {
    case LossOp::mse_loss: return launch_op<T, LossOp::mse_loss>(p);
    case LossOp::l1_loss: return launch_op<T, LossOp::l1_loss>(p);
    case LossOp::smooth_l1_loss: return launch_op<T, LossOp::smooth_l1_loss>(p);
    case LossOp::huber_loss: return launch_op<T, LossOp::huber_loss>(p);
    case LossOp::binary_cross_entropy: return launch_op<T, LossOp::binary_cross_entropy>(p);
    case LossOp::binary_cross_entropy_with_logits: return launch_op<T, LossOp::binary_cross_entropy_with_logits>(p);
    case LossOp::kl_div: return launch_op<T, LossOp::kl_div>(p);
    case LossOp::margin_ranking_loss: return launch_op<T, LossOp::margin_ranking_loss>(p);
    default: return internal_error("[loss] the vectorized pointwise path got a non-pointwise op");
  }
}

}  // namespace

int pointwise_vector_blocks(DType dtype, int64_t samples, int sm_count) {
  return static_cast<int>(wave_grid(dtype, samples, sm_count, false));
}

Status launch_pointwise_vector(const LaunchParams& p) {
  // The weights (and strided operands) take the scalar kernel: the plan never sets
  // pointwise_vector with them.
  if (p.weight || p.pos_weight || p.strided) return internal_error("[loss] the vectorized pointwise path takes no weights");
  return dispatch_loss_dtype(p.dtype, [&](auto tag) { return launch_typed<typename decltype(tag)::type>(p); });
}

}  // namespace baracuda::loss::cuda
