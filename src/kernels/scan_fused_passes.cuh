#pragma once
// The passes of the fused scan kernel: each says how to make an element at original position q from
// the operands (make) and what to write there given the exclusive prefix `before` (out). Directions
// are the launcher's business: a "suffix" pass runs opposite to the descriptor's scan order.
//
// Notation (scan order of the descriptor, positions i): P_i = x_0 ... x_{i-1} (exclusive product),
// y = the forward result, dy = its gradient.
#include "kernels/scan_fused_engine.cuh"

namespace baracuda::sc::cuda {

// cumprod backward, suffix pass: the recurrence R_i = dy_i + x_{i+1} R_{i+1} (dx_i = P_i R_i, the
// product of the other factors without any division, exact with zeros) written as an affine scan
// without neighbour access: T_i = x_i R_i = x_i dy_i + x_i T_{i+1}, so R_i = dy_i + T_{i+1} with
// T_{i+1} the exclusive suffix value. Exclusive cumprod: dx_i = P_i E_i with E_i = F_{i+1},
// F_i = dy_i + x_i F_{i+1}. Writes R (or E) into the temporary.
template <class Acc>
struct CumprodSuffixPass {
  using Op = AffineOp<Acc>;
  bool exclusive;
  __device__ Affine<Acc> make(const FusedLine& L, int64_t q) const {
    const Acc x = L.ld_x<Acc>(q), dy = L.ld<Acc>(kDy, q);
    return exclusive ? Affine<Acc>{x, dy} : Affine<Acc>{x, x * dy};
  }
  __device__ void out(const FusedLine& L, int64_t q, Affine<Acc> before, Affine<Acc>) const {
    L.st<Acc>(kTmp, q, exclusive ? before.b : L.ld<Acc>(kDy, q) + before.b);
  }
};

// cumprod backward, scan-order pass: dx_i = P_i * tmp_i.
template <class Acc>
struct CumprodApplyPass {
  using Op = ProdOp<Acc>;
  __device__ Acc make(const FusedLine& L, int64_t q) const { return L.ld_x<Acc>(q); }
  __device__ void out(const FusedLine& L, int64_t q, Acc before, Acc) const {
    L.st<Acc>(kOut, q, before * L.ld<Acc>(kTmp, q));
  }
};

// cummax/cummin backward, scan-order pass: flag the positions that replace the running value (the
// positions some output takes its index from), with the forward kernel's exact tie/NaN rule.
template <class Acc, bool kMax>
struct MaxMinFlagPass {
  using Op = MaxMinOp<Acc, kMax>;
  __device__ ValueIndex<Acc> make(const FusedLine& L, int64_t q) const {
    return {L.ld_x<Acc>(q), static_cast<long long>(q)};
  }
  __device__ void out(const FusedLine& L, int64_t q, ValueIndex<Acc> before, ValueIndex<Acc> e) const {
    static_cast<unsigned char*>(const_cast<void*>(L.data[kTmp]))[L.at(kTmp, q)] = Op::combine(before, e).i == q ? 1 : 0;
  }
};

// cummax/cummin backward, suffix pass: a flagged position k receives dy summed over k and the
// positions after it up to the next flagged one (exactly the outputs whose index is k); the others
// receive 0. A segmented sum: a flagged element restarts the sum for the positions before it.
template <class Acc>
struct MaxMinBackwardPass {
  using Op = SegSumOp<Acc>;
  __device__ bool flagged(const FusedLine& L, int64_t q) const {
    return static_cast<const unsigned char*>(L.data[kTmp])[L.at(kTmp, q)] != 0;
  }
  __device__ SegSum<Acc> make(const FusedLine& L, int64_t q) const {
    return flagged(L, q) ? SegSum<Acc>{Acc(0), 1} : SegSum<Acc>{L.ld<Acc>(kDy, q), 0};
  }
  __device__ void out(const FusedLine& L, int64_t q, SegSum<Acc> before, SegSum<Acc>) const {
    L.st<Acc>(kOut, q, flagged(L, q) ? before.s + L.ld<Acc>(kDy, q) : Acc(0));
  }
};

// logcumsumexp backward, scan-order pass: the forward result (inclusive or exclusive) into tmp.
template <class Acc>
struct LseForwardPass {
  using Op = LogAddExpOp<Acc>;
  bool exclusive;
  __device__ Acc make(const FusedLine& L, int64_t q) const { return L.ld_x<Acc>(q); }
  __device__ void out(const FusedLine& L, int64_t q, Acc before, Acc e) const {
    L.st<Acc>(kTmp, q, exclusive ? before : Op::combine(before, e));
  }
};

// logcumsumexp backward, suffix pass: dx_i = sum_{j >= i} dy_j exp(x_i - y_j) (j > i when
// exclusive), split by the sign of dy into two suffix log-sum-exps of log|dy_j| - y_j, so nothing
// overflows; a NaN dy poisons both (as the reference).
template <class Acc>
struct LseBackwardPass {
  using Op = LsePairOp<Acc>;
  bool exclusive;
  __device__ LsePair<Acc> make(const FusedLine& L, int64_t q) const {
    const Acc dy = L.ld<Acc>(kDy, q), y = L.ld<Acc>(kTmp, q);
    const Acc ninf = -static_cast<Acc>(INFINITY);
    if (dy != dy) return {dy, dy};
    if (dy > Acc(0)) return {log(dy) - y, ninf};
    if (dy < Acc(0)) return {ninf, log(-dy) - y};
    return {ninf, ninf};
  }
  __device__ void out(const FusedLine& L, int64_t q, LsePair<Acc> before, LsePair<Acc> e) const {
    const LsePair<Acc> s = exclusive ? before : Op::combine(before, e);
    const Acc x = L.ld_x<Acc>(q);
    L.st<Acc>(kOut, q, exp(x + s.pos) - exp(x + s.neg));
  }
};

// cumsum backward when dy's dtype differs from x's (dtype=): the suffix sum of dy, rounded to x's.
template <class Acc>
struct SumBackwardPass {
  using Op = SumOp<Acc>;
  bool exclusive;
  __device__ Acc make(const FusedLine& L, int64_t q) const { return L.ld<Acc>(kDy, q); }
  __device__ void out(const FusedLine& L, int64_t q, Acc before, Acc e) const {
    L.st<Acc>(kOut, q, exclusive ? before : before + e);
  }
};

// dtype= forward with a floating compute dtype: x rounded through it, accumulated in Acc.
template <class ScanOp_, class Acc>
struct ConvertFloatPass {
  using Op = ScanOp_;
  bool exclusive;
  __device__ Acc make(const FusedLine& L, int64_t q) const { return L.ld_x<Acc>(q); }
  __device__ void out(const FusedLine& L, int64_t q, Acc before, Acc e) const {
    L.st<Acc>(kOut, q, exclusive ? before : Op::combine(before, e));
  }
};

// dtype= forward with an integer compute dtype: x read as int64 (floats truncated, as the
// reference), wrapping 64-bit math, stored wrapped to the output dtype.
template <class ScanOp_>
struct ConvertIntPass {
  using Op = ScanOp_;
  bool exclusive;
  __device__ unsigned long long make(const FusedLine& L, int64_t q) const {
    return static_cast<unsigned long long>(load_as_int64_dev(L.data[kX], L.dtype[kX], L.at(kX, q)));
  }
  __device__ void out(const FusedLine& L, int64_t q, unsigned long long before, unsigned long long e) const {
    store_int_dev(const_cast<void*>(L.data[kOut]), L.dtype[kOut], L.at(kOut, q), exclusive ? before : Op::combine(before, e));
  }
};

}  // namespace baracuda::sc::cuda
