// CUDA cross_entropy and nll_loss.
//
// cross_entropy never materializes the softmax. Pass 1 reads a row once and keeps an online
// (max, sum of exp(x - max)) pair per thread (plus sum(u) and sum(u x) when label smoothing or
// probability targets need them), combined across the row's threads in a fixed order: that gives
// lse and the loss. Pass 2 (backward and the fused mode) reads the row again, right after pass 1
// so it is still in L2, and writes the gradient coef * exp(x - lse) - u. Rows of [N, C] go to one
// warp (short rows) or one whole block (long rows, e.g. 128k vocabularies) with 16-byte loads and
// stores; the [N, C, d...] layout, whose classes are strided by d, gives one thread per sample so
// that neighbouring threads read neighbouring addresses.
//
// Reductions are deterministic: per-sample losses go to workspace in double and one block sums
// them in a fixed order (loss_common.cuh); mean's denominator (the weights of the non-ignored
// targets) is summed the same way before the gradient pass needs it.
#include <cmath>
#include <cstring>
#include <type_traits>

#include "baracuda/core/workspace.hpp"
#include "kernels/bulk_copy.cuh"
#include "ops/loss/cuda/loss_common.cuh"

namespace baracuda::loss::cuda {
namespace {

// Long rows: one 512-thread block per row, bounded to one block per SM (128 registers a thread).
// The 1024-thread blocks this replaces were capped at 64 registers and spilled in the bf16 loops
// (ptxas: 32 B stores / 76 B loads of local memory); 128 registers hold the software pipeline of
// ce_rows_kernel (the next 4 packs load while the current 4 are folded: up to 128 B per thread,
// 64 KB per SM in flight). About one row per SM is live (two if the kernel ends up at <= 64
// registers): a 128k-vocabulary row is 256 KB in bf16, so the rows in flight (~33 MB) stay in L2
// and the gradient pass re-reads its row from L2 rather than HBM.
constexpr int kLongRowThreads = 512;
constexpr int kForwardRowThreads = 256;  // long rows, forward only, chained (launch_long_rows)
constexpr int kShortRowBlock = 256;  // 8 warps, one row each
constexpr int64_t kLongRowBytes = 16 * 1024;  // rows at least this long get a whole block

struct Layout {
  size_t loss_off = 0, denom_off = 0, total = 0;
  bool per_sample_ws = false, denom_ws = false;
};
Layout class_layout(const LaunchParams& p) {
  Layout l;
  WorkspaceLayout wl;
  l.per_sample_ws = p.write_loss && p.reduction != LossReduction::none;
  l.denom_ws = p.reduction == LossReduction::mean && p.class_indices;
  if (l.per_sample_ws) l.loss_off = wl.book(static_cast<size_t>(p.samples) * sizeof(double));
  if (l.denom_ws) l.denom_off = wl.book(sizeof(double));
  l.total = wl.total();
  return l;
}

template <class T, int V>
struct alignas(sizeof(T) * V) Pack {
  T v[V];
};

// The online softmax state of some elements of a row.
template <class A>
struct Online {
  A m, s;  // running max, sum of exp(x - m)
  A a, b;  // sum(u), sum(u x): label smoothing / probability targets
};

template <class A>
__device__ __forceinline__ A rescaled(A s, A m, A mn) {
  return s == A(0) ? A(0) : s * acc_exp(m - mn);
}

template <class A>
__device__ __forceinline__ void combine(Online<A>& x, const Online<A>& y) {
  const A mn = fmax(x.m, y.m);
  x.s = rescaled(x.s, x.m, mn) + rescaled(y.s, y.m, mn);
  x.m = mn;
  x.a += y.a;
  x.b += y.b;
}

// Folds V values into the state: one rescale per pack, not per element.
template <class A, int V>
__device__ __forceinline__ void fold(Online<A>& st, const A (&x)[V]) {
  A vmax = x[0];
#pragma unroll
  for (int i = 1; i < V; ++i) vmax = fmax(vmax, x[i]);
  const A mn = fmax(st.m, vmax);
  if (mn == -INFINITY) {  // every value so far is -inf (or NaN): nothing to add but NaN
#pragma unroll
    for (int i = 0; i < V; ++i)
      if (x[i] != x[i]) st.s = x[i];
    return;
  }
  A s = mn == st.m ? st.s : rescaled(st.s, st.m, mn);  // the max rarely moves: skip that exp
#pragma unroll
  for (int i = 0; i < V; ++i) s += acc_exp(x[i] - mn);
  st.s = s;
  st.m = mn;
}

template <class A>
__device__ __forceinline__ A shfl(A v, int lane_mask) {
  return __shfl_xor_sync(0xffffffffu, v, lane_mask);
}

// Combines the states of a row's kGroup threads (a warp, or the whole block) in a fixed order;
// every thread gets the result.
template <int kGroup, class A>
__device__ __forceinline__ Online<A> group_reduce(Online<A> st) {
#pragma unroll
  for (int off = 16; off > 0; off /= 2) {
    Online<A> o{shfl(st.m, off), shfl(st.s, off), shfl(st.a, off), shfl(st.b, off)};
    combine(st, o);
  }
  if constexpr (kGroup > 32) {
    // Warp 0 combines the warp states in a shuffle tree (log2 steps, not kGroup/32 - 1 serial
    // combines with two exps each in every thread) and broadcasts the result.
    static_assert(kGroup / 32 <= 32 && (kGroup / 32 & (kGroup / 32 - 1)) == 0, "a power-of-two number of warps");
    __shared__ Online<A> warp_states[kGroup / 32];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (lane == 0) warp_states[warp] = st;
    __syncthreads();
    if (warp == 0) {
      st = lane < kGroup / 32 ? warp_states[lane] : Online<A>{static_cast<A>(-INFINITY), A(0), A(0), A(0)};
#pragma unroll
      for (int off = kGroup / 64; off > 0; off /= 2) {
        Online<A> o{shfl(st.m, off), shfl(st.s, off), shfl(st.a, off), shfl(st.b, off)};
        combine(st, o);
      }
    }
    __syncthreads();  // every warp state is read
    if (threadIdx.x == 0) warp_states[0] = st;
    __syncthreads();
    st = warp_states[0];
    __syncthreads();  // the next row may overwrite warp_states
  }
  return st;
}

// Per-sample view of the row's target and the numbers the loss and the gradient share.
struct SampleTarget {
  int64_t t = 0;
  bool ignored = false, bad = false;
};
__device__ __forceinline__ SampleTarget sample_target(const LaunchParams& p, int64_t s) {
  SampleTarget r;
  if (!p.class_indices) return r;
  r.t = load_index(p.target, p.target_dtype == DType::i64, s);
  r.ignored = r.t == p.ignore_index;
  r.bad = !r.ignored && (r.t < 0 || r.t >= p.C);
  return r;
}

// d loss / d (sample's loss): grad_loss (or 1), divided by mean's denominator.
template <class T>
__device__ __forceinline__ Acc<T> sample_scale(const LaunchParams& p, const double* denom_ws, int64_t s) {
  double g = 1.0;
  if (p.grad_loss) g = static_cast<double>(to_acc(static_cast<const T*>(p.grad_loss)[p.reduction == LossReduction::none ? s : 0]));
  if (p.reduction == LossReduction::mean) g /= p.class_indices ? *denom_ws : static_cast<double>(p.samples);
  return static_cast<Acc<T>>(g);
}

// The loss of one cross_entropy sample and the coefficient of exp(x - lse) in its gradient.
template <class A>
struct SampleResult {
  A loss, coef, wt;
};
template <class T>
__device__ __forceinline__ SampleResult<Acc<T>> ce_sample(const LaunchParams& p, const Online<Acc<T>>& st,
                                                          const SampleTarget& tg, Acc<T> lse, Acc<T> xt) {
  using A = Acc<T>;
  const A eps = static_cast<A>(p.label_smoothing), z = static_cast<A>(p.z_loss), invC = A(1) / static_cast<A>(p.C);
  SampleResult<A> r{A(0), A(0), A(1)};
  if (tg.ignored) return r;
  if (tg.bad) {
    r.loss = r.coef = r.wt = static_cast<A>(NAN);
    return r;
  }
  if (!p.class_indices) {
    r.loss = st.a * lse - st.b + z * lse * lse;
    r.coef = st.a + A(2) * z * lse;
    return r;
  }
  const A wt = p.weight ? to_acc(static_cast<const T*>(p.weight)[tg.t]) : A(1);
  r.wt = wt;
  r.loss = (A(1) - eps) * wt * (lse - xt) + z * wt * lse * lse;
  r.coef = (A(1) - eps) * wt + A(2) * z * wt * lse;
  if (eps != A(0)) {
    r.loss += eps * invC * (st.a * lse - st.b);
    r.coef += eps * invC * st.a;
  }
  return r;
}

// u_c: the weight of class c in sum(u), sum(u x) and the gradient's constant term.
template <class T>
__device__ __forceinline__ Acc<T> class_u(const LaunchParams& p, const T* W, const T* Q, int64_t qi, int64_t c) {
  using A = Acc<T>;
  const A w = W ? to_acc(W[c]) : A(1);
  if (Q) {
    const A eps = static_cast<A>(p.label_smoothing);
    return w * ((A(1) - eps) * to_acc(Q[qi]) + eps / static_cast<A>(p.C));
  }
  return w;
}

// Streams the packs lane, lane + kGroup, ... < npack of a row, kUnroll at a time, and calls
// consume(pack, pi) for each in increasing pi. Software-pipelined: the loads of the next kUnroll
// packs are issued before the current ones are consumed, so a warp keeps memory requests in
// flight while it computes (the exps of a pack take longer than issuing its load).
//
// Chained: on entry `cur` holds this thread's first kUnroll packs of src (prefetch_packs); in the
// thread's last step the "next" loads come from the following stream (next_src, next_npack: the
// same row's gradient pass, or the block's next row; null when there is none), so on return `cur`
// holds that stream's first packs. Those loads are in flight across the block-wide reduction
// between two streams, where an unchained stream would let the memory pipe drain.
template <int kGroup, int kUnroll, class P>
__device__ __forceinline__ void prefetch_packs(P (&cur)[kUnroll], const P* src, int lane, int npack) {
#pragma unroll
  for (int u = 0; u < kUnroll; ++u)
    if (src != nullptr && lane + u * kGroup < npack) cur[u] = src[lane + u * kGroup];
}

template <int kGroup, int kUnroll, class P, class F>
__device__ __forceinline__ void stream_row(P (&cur)[kUnroll], const P* src, int lane, int npack, const P* next_src,
                                           int next_npack, F&& consume) {
  if (lane >= npack) {  // nothing of this row for this thread: only the next stream's prefetch
    prefetch_packs<kGroup>(cur, next_src, lane, next_npack);
    return;
  }
  P nxt[kUnroll];
  for (int base = lane; base < npack; base += kGroup * kUnroll) {
    const bool last = base + kGroup * kUnroll >= npack;
    const P* from = last ? next_src : src;
    const int first = last ? lane : base + kGroup * kUnroll;
    const int limit = last ? next_npack : npack;
#pragma unroll
    for (int u = 0; u < kUnroll; ++u)
      if (from != nullptr && first + u * kGroup < limit) nxt[u] = from[first + u * kGroup];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u)
      if (base + u * kGroup < npack) consume(cur[u], base + u * kGroup);
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) cur[u] = nxt[u];
  }
}

// A gradient pack that is written once and not read again: a streaming (evict-first) store, so
// it does not push out of L2 the rows the other blocks are about to re-read.
template <class P>
__device__ __forceinline__ void store_streaming(P* dst, const P& v) {
  if constexpr (sizeof(P) == 16) {
    uint4 raw;
    memcpy(&raw, &v, 16);
    __stcs(reinterpret_cast<uint4*>(dst), raw);
  } else {
    *dst = v;
  }
}

// [N, C] rows: kGroup threads per row (32, or the whole block of kBlock), V elements per load.
// Pass 1 (the online softmax statistics) runs for every row, ignored or not: the target index
// is loaded at the row's start but nothing waits for it until the row is read, so the row's
// loads start at once instead of one memory latency later. x[target] is loaded before the
// cross-thread combination, which hides its latency behind the shuffles.
//
// Rows are chained (stream_row): pass 1 prefetches the start of pass 2 (the same row, from L2) or,
// forward only, of the block's next row; pass 2 prefetches the next row. With a persistent grid
// (one wave of blocks, each looping over rows) the memory pipe stays full across the reductions.
// 128 registers a thread at most (kBlock * kMinBlocks = 512 threads per SM's 64k registers).
template <class T, int kGroup, int kBlock, int V, bool kExtra>
__global__ void __launch_bounds__(kBlock, 512 / kBlock) ce_rows_kernel(LaunchParams p, const double* denom_ws,
                                                                       double* loss_ws) {
  using A = Acc<T>;
  using P = Pack<T, V>;
  constexpr int kRowsPerBlock = kBlock / kGroup;
  constexpr int kUnroll = 4;  // 16-byte loads per batch; two batches in flight (stream_row)
  const int lane = threadIdx.x % kGroup;
  const int64_t C = p.C;
  // Positions inside a row are 32-bit (the plan refuses rows of 2^30 classes or more): fewer
  // registers in the unrolled loops. Row offsets stay 64-bit.
  const int npack = static_cast<int>(C / V);
  const T* X = static_cast<const T*>(p.input);
  const T* W = static_cast<const T*>(p.weight);
  const T* Q = p.class_indices ? nullptr : static_cast<const T*>(p.target);
  T* G = static_cast<T*>(p.grad_input);
  const A eps_over_c = static_cast<A>(p.label_smoothing) / static_cast<A>(C);
  const int64_t row_step = static_cast<int64_t>(gridDim.x) * kRowsPerBlock;
  auto row_packs = [&](int64_t r) -> const P* {
    return r < p.N ? reinterpret_cast<const P*>(X + r * p.input_row_stride) : nullptr;
  };
  int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kGroup;
  P cur[kUnroll];
  prefetch_packs<kGroup>(cur, row_packs(row), lane, npack);
  for (; row < p.N; row += row_step) {
    const SampleTarget tg = sample_target(p, row);
    const T* xr = X + row * p.input_row_stride;
    const T* qr = Q ? Q + row * C : nullptr;
    const P* this_row = row_packs(row);
    const P* next_row = row_packs(row + row_step);
    Online<A> st{static_cast<A>(-INFINITY), A(0), A(0), A(0)};
    stream_row<kGroup, kUnroll>(cur, this_row, lane, npack, p.write_grad ? this_row : next_row, npack,
                                [&](const P& pk, int pi) {
      A x[V];
#pragma unroll
      for (int i = 0; i < V; ++i) x[i] = to_acc(pk.v[i]);
      fold(st, x);
      if constexpr (kExtra) {
#pragma unroll
        for (int i = 0; i < V; ++i) {
          const A uc = class_u(p, W, qr, pi * V + i, pi * V + i);
          st.a += uc;
          st.b += uc * x[i];
        }
      }
    });
    const bool live = !tg.ignored && !tg.bad;
    const A xt = (p.class_indices && live) ? to_acc(xr[tg.t]) : A(0);
    st = group_reduce<kGroup>(st);
    if (!live) st = Online<A>{static_cast<A>(-INFINITY), A(0), A(0), A(0)};  // as if never read
    const A lse = st.m + acc_log(st.s);
    const SampleResult<A> r = ce_sample<T>(p, st, tg, lse, xt);
    if (p.write_loss && lane == 0) {
      if (p.reduction == LossReduction::none) static_cast<T*>(p.loss)[row] = from_acc<T>(r.loss);
      else loss_ws[row] = static_cast<double>(r.loss);
    }
    if (!p.write_grad) continue;
    P* gr = reinterpret_cast<P*>(G + row * C);
    if (!live) {
      P fill;
#pragma unroll
      for (int i = 0; i < V; ++i) fill.v[i] = from_acc<T>(tg.bad ? static_cast<A>(NAN) : A(0));
      for (int pi = lane; pi < npack; pi += kGroup) store_streaming(gr + pi, fill);
      prefetch_packs<kGroup>(cur, next_row, lane, npack);
      continue;
    }
    const A scale = sample_scale<T>(p, denom_ws, row);
    const A hit = (A(1) - static_cast<A>(p.label_smoothing)) * r.wt;  // extra term at the target class
    const int t_in_row = static_cast<int>(tg.t);
    const bool smooth = p.label_smoothing != 0.0;
    stream_row<kGroup, kUnroll>(cur, this_row, lane, npack, next_row, npack, [&](const P& pk, int pi) {
      P out;
#pragma unroll
      for (int i = 0; i < V; ++i) {
        const int c = pi * V + i;
        A g = r.coef * acc_exp(to_acc(pk.v[i]) - lse);
        if (Q) g -= class_u(p, W, qr, c, c);
        else if (smooth) g -= eps_over_c * (W ? to_acc(W[c]) : A(1));
        if (Q == nullptr && c == t_in_row) g -= hit;
        out.v[i] = from_acc<T>(scale * g);
      }
      store_streaming(gr + pi, out);
    });
  }
}

// fold() for a whole stage of 16-bit values, with fewer instructions per element: the bulk kernel
// is issue-bound once memory keeps up (Nsight Compute on the H200: 74% of cycles issued). The
// max runs on packed pairs (one HMNMX2 per two values), exp(x - m) is one FFMA and one EX2
// (x log2e - m log2e: for 16-bit inputs the cancellation error is far below their precision),
// and four partial sums break the FADD chain. NaN and -inf follow fold(): a NaN value makes the
// sum NaN, an all -inf stage adds nothing.
template <class T, int N>
__device__ __forceinline__ void fold_packed16(Online<float>& st, const T (&v)[N]) {
  static_assert(sizeof(T) == 2 && N % 2 == 0, "16-bit values in pairs");
  using T2 = std::conditional_t<std::is_same_v<T, __half>, __half2, __nv_bfloat162>;
  T2 m2;
  memcpy(&m2, &v[0], sizeof(T2));
#pragma unroll
  for (int i = 2; i < N; i += 2) {
    T2 p2;
    memcpy(&p2, &v[i], sizeof(T2));
    m2 = __hmax2(m2, p2);  // a NaN loses to a number here; the exps below still see it
  }
  const float mn = fmaxf(st.m, fmaxf(to_acc(m2.x), to_acc(m2.y)));
  if (mn == -INFINITY) {  // every value so far is -inf (or NaN): nothing to add but NaN
#pragma unroll
    for (int i = 0; i < N; ++i)
      if (to_acc(v[i]) != to_acc(v[i])) st.s = to_acc(v[i]);
    return;
  }
  constexpr float kLog2e = 1.4426950408889634f;
  const float offset = -mn * kLog2e;
  float part[4] = {mn == st.m ? st.s : rescaled(st.s, st.m, mn), 0.f, 0.f, 0.f};
#pragma unroll
  for (int i = 0; i < N; ++i) {
    float e;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(e) : "f"(fmaf(to_acc(v[i]), kLog2e, offset)));
    part[i % 4] += e;
  }
  st.s = (part[0] + part[1]) + (part[2] + part[3]);
  st.m = mn;
}

// [N, C] rows, class-index targets without label smoothing (nothing read per class but the
// logits), sm_90+: the rows stream through kStages shared-memory stages that thread 0 fills with
// TMA bulk copies. The copies run ahead of the computation across row boundaries (the stream is
// the block's rows back to back), so up to kStages - 1 stages per block stay in flight through the
// row-end reductions; the register-pipelined ce_rows_kernel keeps only what its registers hold
// (~32 KB per SM), which measured 58% of copy on the 128k vocabulary.
//
// Each stage holds kBulkPacksPerThread 16-byte packs per thread. Stage s of item q (the q-th
// chunk of the block's stream) is filled once the warps have arrived on empty[s] for item
// q - kStages; thread 0 refills the stage of the item before the current one, which every warp
// has (nearly always) finished by then, so it rarely waits.
//
// kGrad (backward, fused): the stream holds each row twice, 2 * chunks_per_row items a row. Pass 1
// folds the statistics, pass 2 consumes the same chunks again and writes the gradient. The
// producer does not care which pass an item belongs to: the second pass's copies need no lse, so
// they are in flight while pass 1's reduction runs, as the next row's are in the forward. They
// are meant to hit L2 (the row was read one row-time earlier): hence one block per SM, one row in
// flight each (launch_bulk_rows_instance).
constexpr int kBulkThreads = 256;  // forward: two blocks per SM, one's reduction under the other's stream
// The gradient: one block per SM (L2 residency), so 512 threads rather than 256. A lone block of 8
// warps would leave the SM half the warps the forward (issue-bound at 2 x 256) has to hide the
// shared-memory and exp latencies with, while pass 2 does more per element than pass 1. The
// stage grows with the block (same packs per thread: the same fold code and registers), 32 KB;
// 4 stages = 128 KB of the SM's 228 KB.
constexpr int kBulkGradThreads = 512;
constexpr int kBulkPacksPerThread = 4;
constexpr int bulk_stage_bytes(int threads) { return threads * 16 * kBulkPacksPerThread; }  // 16 / 32 KB

// exp(x - lse) of the gradient pass. kFast (16-bit inputs): one FFMA and one EX2, as in
// fold_packed16 (x log2e - lse log2e; the cancellation error is far below 16-bit precision).
template <bool kFast, class T>
__device__ __forceinline__ float grad_exp(T x, float lse, float neg_lse_log2e) {
  if constexpr (kFast) {
    float e;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(e) : "f"(fmaf(to_acc(x), 1.4426950408889634f, neg_lse_log2e)));
    return e;
  } else {
    (void)neg_lse_log2e;
    return acc_exp(to_acc(x) - lse);
  }
}

template <class T, int kThreads, int kStages, bool kPackedFold, bool kGrad>
__global__ void __launch_bounds__(kThreads, 512 / kThreads)
    ce_rows_bulk_kernel(LaunchParams p, const double* denom_ws, double* loss_ws) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  using A = Acc<T>;
  constexpr int V = 16 / sizeof(T);
  using P = Pack<T, V>;
  constexpr int kStageBytes = bulk_stage_bytes(kThreads);
  constexpr int kStagePacks = kStageBytes / 16;
  constexpr bool kFast16 = sizeof(T) == 2 && kPackedFold;
  extern __shared__ __align__(128) unsigned char stage_mem[];
  __shared__ uint64_t full[kStages], empty[kStages];
  const int tid = static_cast<int>(threadIdx.x);
  const int64_t row_bytes = p.C * static_cast<int64_t>(sizeof(T));
  const int64_t row_stride_bytes = p.input_row_stride * static_cast<int64_t>(sizeof(T));
  const int chunks_per_row = static_cast<int>((row_bytes + kStageBytes - 1) / kStageBytes);
  const int items_per_row = (kGrad ? 2 : 1) * chunks_per_row;
  const int64_t rows_mine = p.N > blockIdx.x ? (p.N - 1 - blockIdx.x) / gridDim.x + 1 : 0;
  const int64_t items = rows_mine * items_per_row;
  const auto* X = static_cast<const unsigned char*>(p.input);
  auto chunk_bytes = [&](int chunk) -> unsigned {
    const int64_t left = row_bytes - static_cast<int64_t>(chunk) * kStageBytes;
    return static_cast<unsigned>(left < kStageBytes ? left : kStageBytes);
  };
  auto issue = [&](int64_t q) {  // thread 0: the copy of item q into its stage
    const int s = static_cast<int>(q % kStages);
    const int in_row = static_cast<int>(q % items_per_row);
    const int chunk = kGrad ? in_row % chunks_per_row : in_row;  // both passes read the same chunks
    const int64_t row = blockIdx.x + (q / items_per_row) * gridDim.x;
    const unsigned bytes = chunk_bytes(chunk);
    kernels::mbarrier_arrive_expect_bytes(&full[s], bytes);
    kernels::bulk_copy_to_shared(stage_mem + s * kStageBytes,
                                 X + row * row_stride_bytes + static_cast<int64_t>(chunk) * kStageBytes, bytes,
                                 &full[s]);
  };
  if (tid == 0) {
    for (int s = 0; s < kStages; ++s) {
      kernels::mbarrier_init(&full[s], 1);
      kernels::mbarrier_init(&empty[s], kThreads / 32);
    }
    kernels::mbarrier_init_fence();
  }
  __syncthreads();
  if (tid == 0)
    for (int64_t q = 0; q < kStages && q < items; ++q) issue(q);

  // Every thread consumes every item, in order (ignored and bad rows too: the ring's phases count
  // items): wait for item q's stage, body(stage, bytes), release it, and (thread 0) refill the
  // previous item's stage.
  int64_t q = 0;
  auto consume = [&](int chunk, auto&& body) {
    const int s = static_cast<int>(q % kStages);
    const unsigned bytes = chunk_bytes(chunk);
    kernels::mbarrier_wait(&full[s], static_cast<unsigned>((q / kStages) & 1));
    body(reinterpret_cast<const P*>(stage_mem + s * kStageBytes), bytes);
    __syncwarp();
    if (tid % 32 == 0) kernels::mbarrier_arrive(&empty[s]);
    if (tid == 0 && q >= 1 && q - 1 + kStages < items) {
      const int64_t done = q - 1;
      kernels::mbarrier_wait(&empty[done % kStages], static_cast<unsigned>((done / kStages) & 1));
      issue(done + kStages);
    }
    ++q;
  };

  for (int64_t i = 0; i < rows_mine; ++i) {
    const int64_t row = blockIdx.x + i * gridDim.x;
    const SampleTarget tg = sample_target(p, row);
    const bool live = !tg.ignored && !tg.bad;
    const T* xr = static_cast<const T*>(p.input) + row * p.input_row_stride;
    const A xt = live ? to_acc(xr[tg.t]) : A(0);  // in flight while the row streams
    // The gradient's scale (grad_loss, mean's denominator) does not need the row: its loads are in
    // flight during pass 1 too.
    [[maybe_unused]] const A scale = kGrad && live ? sample_scale<T>(p, denom_ws, row) : A(0);
    Online<A> st{static_cast<A>(-INFINITY), A(0), A(0), A(0)};
    for (int chunk = 0; chunk < chunks_per_row; ++chunk) {
      consume(chunk, [&](const P* stage, unsigned bytes) {
        if (bytes == kStageBytes) {  // every chunk but a row's last: one max over all the packs
          if constexpr (kFast16) {
            T v[kBulkPacksPerThread * V];
#pragma unroll
            for (int u = 0; u < kBulkPacksPerThread; ++u) {
              const P pk = stage[tid + u * kThreads];
#pragma unroll
              for (int e = 0; e < V; ++e) v[u * V + e] = pk.v[e];
            }
            fold_packed16(st, v);
          } else {
            A x[kBulkPacksPerThread * V];
#pragma unroll
            for (int u = 0; u < kBulkPacksPerThread; ++u) {
              const P pk = stage[tid + u * kThreads];
#pragma unroll
              for (int e = 0; e < V; ++e) x[u * V + e] = to_acc(pk.v[e]);
            }
            fold(st, x);
          }
        } else {
#pragma unroll
          for (int u = 0; u < kBulkPacksPerThread; ++u) {
            const int k = tid + u * kThreads;
            if (static_cast<unsigned>(k) * 16u < bytes) {
              const P pk = stage[k];
              A x[V];
#pragma unroll
              for (int e = 0; e < V; ++e) x[e] = to_acc(pk.v[e]);
              fold(st, x);
            }
          }
        }
      });
    }
    st = group_reduce<kThreads>(st);
    if (!live) st = Online<A>{static_cast<A>(-INFINITY), A(0), A(0), A(0)};
    const A lse = st.m + acc_log(st.s);
    const SampleResult<A> r = ce_sample<T>(p, st, tg, lse, xt);
    if (p.write_loss && tid == 0) {
      if (p.reduction == LossReduction::none) static_cast<T*>(p.loss)[row] = from_acc<T>(r.loss);
      else loss_ws[row] = static_cast<double>(r.loss);
    }
    if constexpr (kGrad) {
      // g = scale (coef exp(x - lse) - hit [c == t]), as ce_rows_kernel's pass 2 with the scale
      // folded into the two coefficients. Ignored rows write 0, bad rows NaN (still consuming
      // their chunks).
      const A coef_s = scale * r.coef;
      const A hit_s = scale * (A(1) - static_cast<A>(p.label_smoothing)) * r.wt;
      const float neg_lse_log2e = -static_cast<float>(lse) * 1.4426950408889634f;
      const int t_pack = live ? static_cast<int>(tg.t) / V : -1;  // the one pack with the target
      const int t_lane = static_cast<int>(tg.t) % V;
      P fill;
#pragma unroll
      for (int e = 0; e < V; ++e) fill.v[e] = from_acc<T>(tg.bad ? static_cast<A>(NAN) : A(0));
      P* gr = reinterpret_cast<P*>(static_cast<T*>(p.grad_input) + row * p.C);
      for (int chunk = 0; chunk < chunks_per_row; ++chunk) {
        consume(chunk, [&](const P* stage, unsigned bytes) {
          P* gc = gr + chunk * kStagePacks;
#pragma unroll
          for (int u = 0; u < kBulkPacksPerThread; ++u) {
            const int k = tid + u * kThreads;
            if (static_cast<unsigned>(k) * 16u < bytes) {
              P out = fill;
              if (live) {
                const P pk = stage[k];
                A g[V];
#pragma unroll
                for (int e = 0; e < V; ++e) g[e] = coef_s * grad_exp<kFast16>(pk.v[e], lse, neg_lse_log2e);
                if (chunk * kStagePacks + k == t_pack) {
#pragma unroll
                  for (int e = 0; e < V; ++e)
                    if (e == t_lane) g[e] -= hit_s;
                }
#pragma unroll
                for (int e = 0; e < V; ++e) out.v[e] = from_acc<T>(g[e]);
              }
              store_streaming(gc + k, out);
            }
          }
        });
      }
    }
  }
#else
  (void)p;
  (void)denom_ws;
  (void)loss_ws;
  __trap();  // the host launches this kernel on sm_90+ only
#endif
}

// [N, C, D] with D > 1: one thread per sample (n, k); class c of it is at (n C + c) D + k.
template <class T>
__global__ void __launch_bounds__(256) ce_inner_kernel(LaunchParams p, const double* denom_ws, double* loss_ws) {
  kernels::pdl_enter();
  using A = Acc<T>;
  const int64_t C = p.C, D = p.D;
  const T* X = static_cast<const T*>(p.input);
  const T* W = static_cast<const T*>(p.weight);
  const T* Q = p.class_indices ? nullptr : static_cast<const T*>(p.target);
  T* G = static_cast<T*>(p.grad_input);
  const bool extra = Q != nullptr || p.label_smoothing != 0.0;
  for (int64_t s = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; s < p.samples;
       s += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t n = s / D, k = s % D;
    const int64_t base = n * C * D + k;
    const SampleTarget tg = sample_target(p, s);
    Online<A> st{static_cast<A>(-INFINITY), A(0), A(0), A(0)};
    if (!tg.ignored && !tg.bad) {
      for (int64_t c = 0; c < C; ++c) {
        const A x[1] = {to_acc(X[base + c * D])};
        fold(st, x);
        if (extra) {
          const A uc = class_u(p, W, Q, base + c * D, c);
          st.a += uc;
          st.b += uc * x[0];
        }
      }
    }
    const A lse = st.m + acc_log(st.s);
    const A xt = (p.class_indices && !tg.ignored && !tg.bad) ? to_acc(X[base + tg.t * D]) : A(0);
    const SampleResult<A> r = ce_sample<T>(p, st, tg, lse, xt);
    if (p.write_loss) {
      if (p.reduction == LossReduction::none) static_cast<T*>(p.loss)[s] = from_acc<T>(r.loss);
      else loss_ws[s] = static_cast<double>(r.loss);
    }
    if (!p.write_grad) continue;
    if (tg.ignored || tg.bad) {
      const T fill = from_acc<T>(tg.bad ? static_cast<A>(NAN) : A(0));
      for (int64_t c = 0; c < C; ++c) G[base + c * D] = fill;
      continue;
    }
    const A scale = sample_scale<T>(p, denom_ws, s);
    const A eps_over_c = static_cast<A>(p.label_smoothing) / static_cast<A>(C);
    const A hit = (A(1) - static_cast<A>(p.label_smoothing)) * r.wt;
    for (int64_t c = 0; c < C; ++c) {
      A g = r.coef * acc_exp(to_acc(X[base + c * D]) - lse);
      if (Q) g -= class_u(p, W, Q, base + c * D, c);
      else if (p.label_smoothing != 0.0) g -= eps_over_c * (W ? to_acc(W[c]) : A(1));
      if (Q == nullptr && c == tg.t) g -= hit;
      G[base + c * D] = from_acc<T>(scale * g);
    }
  }
}

// nll_loss forward: one thread per sample.
template <class T>
__global__ void nll_forward_kernel(LaunchParams p, double* loss_ws) {
  kernels::pdl_enter();
  using A = Acc<T>;
  const T* X = static_cast<const T*>(p.input);
  const T* W = static_cast<const T*>(p.weight);
  for (int64_t s = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; s < p.samples;
       s += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const SampleTarget tg = sample_target(p, s);
    A loss = A(0);
    if (tg.bad) loss = static_cast<A>(NAN);
    else if (!tg.ignored) loss = -(W ? to_acc(W[tg.t]) : A(1)) * to_acc(X[((s / p.D) * p.C + tg.t) * p.D + s % p.D]);
    if (p.reduction == LossReduction::none) static_cast<T*>(p.loss)[s] = from_acc<T>(loss);
    else loss_ws[s] = static_cast<double>(loss);
  }
}

// nll_loss backward: one thread per gradient element; -w[t] * scale at the target class.
template <class T>
__global__ void nll_backward_kernel(LaunchParams p, const double* denom_ws) {
  kernels::pdl_enter();
  using A = Acc<T>;
  const T* W = static_cast<const T*>(p.weight);
  T* G = static_cast<T*>(p.grad_input);
  const int64_t total = p.samples * p.C;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t k = i % p.D, c = (i / p.D) % p.C, n = i / (p.D * p.C);
    const int64_t s = n * p.D + k;
    const SampleTarget tg = sample_target(p, s);
    A g = A(0);
    if (tg.bad) g = static_cast<A>(NAN);
    else if (!tg.ignored && c == tg.t) g = -(W ? to_acc(W[tg.t]) : A(1)) * sample_scale<T>(p, denom_ws, s);
    G[i] = from_acc<T>(g);
  }
}

// mean's denominator for class-index targets: the weights of the non-ignored, in-range targets.
template <class T>
__global__ void __launch_bounds__(kFinishThreads) denominator_kernel(LaunchParams p, double* denom_ws) {
  kernels::pdl_enter();
  const T* W = static_cast<const T*>(p.weight);
  double mine = 0.0;
  for (int64_t s = threadIdx.x; s < p.samples; s += kFinishThreads) {
    const SampleTarget tg = sample_target(p, s);
    if (!tg.ignored && !tg.bad) mine += W ? static_cast<double>(to_acc(W[tg.t])) : 1.0;
  }
  const double total = block_sum_fixed(mine);
  if (threadIdx.x == 0) denom_ws[0] = total;
}

// mean's denominator exactly as denominator_kernel sums it (thread i: samples i, i + 1024, ... in
// order, then the fixed tree), but each thread loads kBatch targets (and their weights) before
// adding any: one memory latency per batch instead of one per sample. The same bits. Used with
// nll_rows_backward_kernel (BARACUDA_LOSS_NLL_GRAD), whose 256 MB store stream it precedes.
template <class T>
__global__ void __launch_bounds__(kFinishThreads) denominator_batched_kernel(LaunchParams p, double* denom_ws) {
  kernels::pdl_enter();
  constexpr int kBatch = 8;  // 1024 threads: 64 registers each
  const T* W = static_cast<const T*>(p.weight);
  double mine = 0.0;
  for (int64_t s0 = threadIdx.x; s0 < p.samples; s0 += int64_t{kBatch} * kFinishThreads) {
    SampleTarget tg[kBatch];
#pragma unroll
    for (int b = 0; b < kBatch; ++b) {
      const int64_t s = s0 + static_cast<int64_t>(b) * kFinishThreads;
      if (s < p.samples) {
        tg[b] = sample_target(p, s);
      } else {
        tg[b].ignored = true;  // past the end: adds nothing
      }
    }
    double w[kBatch];
#pragma unroll
    for (int b = 0; b < kBatch; ++b)
      w[b] = !tg[b].ignored && !tg[b].bad && W ? static_cast<double>(to_acc(W[tg[b].t])) : 1.0;
#pragma unroll
    for (int b = 0; b < kBatch; ++b)
      if (!tg[b].ignored && !tg[b].bad) mine += w[b];
  }
  const double total = block_sum_fixed(mine);
  if (threadIdx.x == 0) denom_ws[0] = total;
}

// nll_loss [N, C] backward (the default; BARACUDA_LOSS_NLL_GRAD=legacy keeps nll_backward_kernel):
// one warp per row. The row's target, weight and scale are read once, then the row, all zeros
// but -w[t] * scale at the target class (all NaN for an out-of-range target), is written in
// V-element packs: a pure store stream, with none of the per-element 64-bit divisions and target
// loads of the one-thread-per-element kernel. The same values as that kernel.
template <class T, int V>
__global__ void __launch_bounds__(256) nll_rows_backward_kernel(LaunchParams p, const double* denom_ws) {
  kernels::pdl_enter();
  using A = Acc<T>;
  constexpr int kWarps = 256 / 32;
  const T* W = static_cast<const T*>(p.weight);
  const int lane = threadIdx.x % 32;
  const int64_t packs = p.C / V;  // V divides C (the launcher checks)
  for (int64_t n = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32; n < p.samples;
       n += static_cast<int64_t>(gridDim.x) * kWarps) {
    const SampleTarget tg = sample_target(p, n);
    A hit = A(0), rest = A(0);
    if (tg.bad) hit = rest = static_cast<A>(NAN);
    else if (!tg.ignored) hit = -(W ? to_acc(W[tg.t]) : A(1)) * sample_scale<T>(p, denom_ws, n);
    const int64_t hit_col = tg.bad || tg.ignored ? -1 : tg.t;
    const T hit_t = from_acc<T>(hit), rest_t = from_acc<T>(rest);
    Pack<T, V>* row = reinterpret_cast<Pack<T, V>*>(static_cast<T*>(p.grad_input) + n * p.C);
    for (int64_t j = lane; j < packs; j += 32) {
      Pack<T, V> pk;
#pragma unroll
      for (int e = 0; e < V; ++e) pk.v[e] = j * V + e == hit_col ? hit_t : rest_t;
      row[j] = pk;
    }
  }
}

unsigned grid_for(int64_t items, int threads, int sm_count) {
  const int64_t want = (items + threads - 1) / threads;
  const int64_t cap = static_cast<int64_t>(sm_count) * 32;
  return static_cast<unsigned>(want < 1 ? 1 : (want < cap ? want : cap));
}

bool aligned16(const void* ptr) {
  return ptr == nullptr || reinterpret_cast<uintptr_t>(ptr) % 16 == 0;
}

// Blocks of one ce_rows_kernel instance resident on an SM (queried once per instance).
template <class T, int kGroup, int kBlock, int V, bool kExtra>
int resident_blocks_per_sm() {
  static const int n = [] {
    int blocks = 0;
    if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, ce_rows_kernel<T, kGroup, kBlock, V, kExtra>, kBlock, 0) !=
        cudaSuccess) {
      (void)cudaGetLastError();  // not the launch's error: check_launch reads it
      return 1;
    }
    return blocks > 0 ? blocks : 1;
  }();
  return n;
}

// blocks: one per kBlock / kGroup rows. Persistent (chained rows): at most one wave of resident
// blocks, each looping over rows, so that every row but a block's first starts from a prefetch.
template <class T, int kGroup, int kBlock, int V, bool kExtra>
void launch_rows_instance(const LaunchParams& p, const double* denom, double* loss_ws, int64_t blocks) {
  int64_t grid = blocks;
  if (p.chained_rows) {
    const int64_t wave = static_cast<int64_t>(resident_blocks_per_sm<T, kGroup, kBlock, V, kExtra>()) * p.sm_count;
    grid = grid < wave ? grid : wave;
  }
  grid = grid < (int64_t{1} << 30) ? grid : (int64_t{1} << 30);
  ce_rows_kernel<T, kGroup, kBlock, V, kExtra><<<static_cast<unsigned>(grid), kBlock, 0, p.stream>>>(p, denom, loss_ws);
}

template <class T, int kGroup, int kBlock, int V>
void launch_rows_v(const LaunchParams& p, const double* denom, double* loss_ws) {
  const bool extra = !p.class_indices || p.label_smoothing != 0.0;
  const int64_t blocks = (p.N + kBlock / kGroup - 1) / (kBlock / kGroup);
  if (extra) launch_rows_instance<T, kGroup, kBlock, V, true>(p, denom, loss_ws, blocks);
  else launch_rows_instance<T, kGroup, kBlock, V, false>(p, denom, loss_ws, blocks);
}

// The bulk kernel's dynamic shared memory and resident blocks per SM (set and queried once per
// instance: the stages exceed the default 48 KB limit).
template <class T, int kThreads, int kStages, bool kPackedFold, bool kGrad>
int bulk_resident_blocks_per_sm() {
  static const int n = [] {
    const auto kernel = ce_rows_bulk_kernel<T, kThreads, kStages, kPackedFold, kGrad>;
    constexpr int bytes = kStages * bulk_stage_bytes(kThreads);
    int blocks = 0;
    if (cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes) != cudaSuccess ||
        cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, kernel, kThreads, bytes) != cudaSuccess) {
      (void)cudaGetLastError();  // not the launch's error: check_launch reads it
      return 0;
    }
    return blocks;
  }();
  return n;
}

// A persistent grid of the bulk kernel: one wave, each block taking rows blockIdx.x + i * grid.
// The gradient variant takes one block per SM whatever would fit: each block has one row in flight
// and re-reads it from L2 (132 x 256 KB for a 128k bf16 vocabulary: 33 MB of the H200's ~50 MB).
// False when the kernel cannot be made resident (the caller falls back to ce_rows_kernel).
template <class T, int kStages, bool kPackedFold, bool kGrad>
bool launch_bulk_rows_instance(const LaunchParams& p, const double* denom, double* loss_ws) {
  constexpr int kThreads = kGrad ? kBulkGradThreads : kBulkThreads;
  const int per_sm = bulk_resident_blocks_per_sm<T, kThreads, kStages, kPackedFold, kGrad>();
  if (per_sm < 1) return false;
  const int64_t wave = static_cast<int64_t>(kGrad ? 1 : per_sm) * p.sm_count;
  const auto grid = static_cast<unsigned>(p.N < wave ? p.N : wave);
  ce_rows_bulk_kernel<T, kThreads, kStages, kPackedFold, kGrad>
      <<<grid, kThreads, kStages * bulk_stage_bytes(kThreads), p.stream>>>(p, denom, loss_ws);
  return true;
}

template <class T, bool kGrad>
bool launch_bulk_rows_pass(const LaunchParams& p, const double* denom, double* loss_ws) {
  if constexpr (sizeof(T) > 4) {
    return false;
  } else if constexpr (sizeof(T) == 2) {
    if (p.bulk_stages == 4)
      return p.bulk_packed_fold ? launch_bulk_rows_instance<T, 4, true, kGrad>(p, denom, loss_ws)
                                : launch_bulk_rows_instance<T, 4, false, kGrad>(p, denom, loss_ws);
    return p.bulk_stages == 3 && launch_bulk_rows_instance<T, 3, true, kGrad>(p, denom, loss_ws);
  } else {
    if (p.bulk_stages == 4) return launch_bulk_rows_instance<T, 4, false, kGrad>(p, denom, loss_ws);
    return p.bulk_stages == 3 && launch_bulk_rows_instance<T, 3, false, kGrad>(p, denom, loss_ws);
  }
}

template <class T>
bool launch_bulk_rows(const LaunchParams& p, const double* denom, double* loss_ws) {
  return p.write_grad ? launch_bulk_rows_pass<T, true>(p, denom, loss_ws)
                      : launch_bulk_rows_pass<T, false>(p, denom, loss_ws);
}

// Long rows, a block per row. The forward alone takes two 256-thread blocks per SM: one block's
// reduction between rows overlaps the other's stream. With the gradient pass, one 512-thread
// block per SM reads a row twice at twice the speed, which halves the rows in flight and keeps
// them in L2 for the second read (132 x 256 KB rows of a 128k bf16 vocabulary: 33 MB).
template <class T, int V>
void launch_long_rows(const LaunchParams& p, const double* denom, double* loss_ws) {
  if (p.chained_rows && !p.write_grad) launch_rows_v<T, kForwardRowThreads, kForwardRowThreads, V>(p, denom, loss_ws);
  else launch_rows_v<T, kLongRowThreads, kLongRowThreads, V>(p, denom, loss_ws);
}

template <class T>
Status launch_typed(const LaunchParams& p) {
  const Layout l = class_layout(p);
  char* ws = static_cast<char*>(p.workspace);
  double* loss_ws = l.per_sample_ws ? reinterpret_cast<double*>(ws + l.loss_off) : nullptr;
  double* denom = l.denom_ws ? reinterpret_cast<double*>(ws + l.denom_off) : nullptr;
  const bool nll = p.op == LossOp::nll_loss;
  // nll_loss [N, C] backward's row kernel (p.nll_rows_grad, set by the plan for nll backward).
  const bool nll_rows = nll && p.nll_rows_grad && p.write_grad && p.D == 1;
  if (denom && p.samples > 0) {
    if (nll_rows) BARACUDA_TRY(launch_loss_kernel(p, "loss denominator_kernel", 1, kFinishThreads, denominator_batched_kernel<T>, p, denom));
    else BARACUDA_TRY(launch_loss_kernel(p, "loss denominator_kernel", 1, kFinishThreads, denominator_kernel<T>, p, denom));
  }
  if (p.samples > 0 && p.C > 0) {
    if (nll) {
      if (p.write_loss)
        BARACUDA_TRY(launch_loss_kernel(p, "nll_loss kernel", grid_for(p.samples, 256, p.sm_count), 256,
                                        nll_forward_kernel<T>, p, loss_ws));
      if (p.write_grad) {
        if (nll_rows) {
          // One wave of 8 blocks (64 warps, a row each at a time) per SM; 16-byte packs when the
          // rows are 16-byte multiples and the gradient is 16-byte aligned.
          constexpr int V = 16 / sizeof(T);
          const int64_t want = (p.samples + 7) / 8, cap = static_cast<int64_t>(p.sm_count) * 8;
          const auto grid = static_cast<unsigned>(want < cap ? want : cap);
          if ((p.C * static_cast<int64_t>(sizeof(T))) % 16 == 0 && aligned16(p.grad_input))
            BARACUDA_TRY(launch_loss_kernel(p, "nll_loss kernel", grid, 256, nll_rows_backward_kernel<T, V>, p,
                                            static_cast<const double*>(denom)));
          else
            BARACUDA_TRY(launch_loss_kernel(p, "nll_loss kernel", grid, 256, nll_rows_backward_kernel<T, 1>, p,
                                            static_cast<const double*>(denom)));
        } else {
          BARACUDA_TRY(launch_loss_kernel(p, "nll_loss kernel", grid_for(p.samples * p.C, 256, p.sm_count), 256,
                                          nll_backward_kernel<T>, p, static_cast<const double*>(denom)));
        }
      }
    } else if (p.D > 1) {
      BARACUDA_TRY(launch_loss_kernel(p, "cross_entropy ce_inner_kernel", grid_for(p.samples, 256, p.sm_count), 256,
                                      ce_inner_kernel<T>, p, static_cast<const double*>(denom), loss_ws));
    } else {
      constexpr int V = 16 / sizeof(T);
      const bool vec = (p.C * static_cast<int64_t>(sizeof(T))) % 16 == 0 &&
                       (p.input_row_stride * static_cast<int64_t>(sizeof(T))) % 16 == 0 && aligned16(p.input) &&
                       aligned16(p.grad_input) && aligned16(p.weight) && (p.class_indices || aligned16(p.target));
      const bool long_rows = p.C * static_cast<int64_t>(sizeof(T)) >= kLongRowBytes;
      if (long_rows && vec && bulk_rows_apply(p) && launch_bulk_rows<T>(p, denom, loss_ws)) {
        // launched: rows streamed through the TMA bulk-copy stages
      } else if (long_rows) {
        if (vec) launch_long_rows<T, V>(p, denom, loss_ws);
        else launch_long_rows<T, 1>(p, denom, loss_ws);
      } else {
        if (vec) launch_rows_v<T, 32, kShortRowBlock, V>(p, denom, loss_ws);
        else launch_rows_v<T, 32, kShortRowBlock, 1>(p, denom, loss_ws);
      }
      BARACUDA_TRY(check_launch("cross_entropy ce_rows_kernel"));
    }
  }
  if (l.per_sample_ws) {
    // No samples: sum 0, mean 0 / 0 = NaN (the denominator kernel did not run).
    BARACUDA_TRY(launch_loss_kernel(p, "loss finish_kernel", 1, kFinishThreads, finish_kernel<T>,
                                    static_cast<const double*>(loss_ws), p.samples, p.reduction == LossReduction::mean,
                                    static_cast<const double*>(p.samples > 0 ? denom : nullptr),
                                    static_cast<double>(p.samples), static_cast<T*>(p.loss)));
  }
  return Status::ok();
}

}  // namespace

size_t class_workspace(const LaunchParams& p) { return class_layout(p).total; }

bool bulk_rows_apply(const LaunchParams& p) {
  // The gradient (backward, fused) only when BARACUDA_CE_BULK_GRAD opts in (bulk_grad).
  return p.bulk_stages > 0 && p.op == LossOp::cross_entropy && p.D == 1 && (p.write_grad ? p.bulk_grad : p.write_loss) &&
         p.class_indices && p.label_smoothing == 0.0 && p.dtype != DType::f64 &&
         p.C * static_cast<int64_t>(dtype_size(p.dtype)) >= kLongRowBytes;
}

Status launch_class(const LaunchParams& p) {
  return dispatch_loss_dtype(p.dtype, [&](auto tag) { return launch_typed<typename decltype(tag)::type>(p); });
}

}  // namespace baracuda::loss::cuda
