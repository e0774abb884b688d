#pragma once
// Helpers of the loss tests (CPU and GPU): a problem's host tensors, the descriptor built from
// them, random inputs per op, and running a loss plan on host tensors.
#include <optional>
#include <random>
#include <vector>

#include "baracuda/baracuda.hpp"
#include "test_support.hpp"

namespace bt {

struct LossInputs {
  HostTensor input;
  std::optional<HostTensor> other, weight, pos_weight;
  HostTensor target;
};

// The descriptor's operands taken from the tensors' layouts (op options left at `base`'s values).
inline LossDescriptor loss_desc(LossDescriptor base, const LossInputs& in) {
  base.input = in.input.operand();
  base.target = in.target.operand();
  base.other = in.other ? std::optional<Operand>(in.other->operand()) : std::nullopt;
  base.weight = in.weight ? std::optional<Operand>(in.weight->operand()) : std::nullopt;
  base.pos_weight = in.pos_weight ? std::optional<Operand>(in.pos_weight->operand()) : std::nullopt;
  return base;
}

inline LossArgs loss_input_args(const LossInputs& in) {
  LossArgs a;
  a.input = in.input.ref();
  a.target = in.target.ref();
  if (in.other) a.other = in.other->ref();
  if (in.weight) a.weight = in.weight->ref();
  if (in.pos_weight) a.pos_weight = in.pos_weight->ref();
  return a;
}

// Random inputs for `op` in `dtype`: class ops [N, C, inner...] (inner empty: [N, C]) with targets
// of `target_dtype` (floating: probabilities), some equal to ignore_index when `ignore` is set;
// pointwise ops of shape {N, C}; cosine {N, C}. Values are drawn so that every op is smooth at them.
inline LossInputs random_loss_inputs(LossOp op, DType dtype, int64_t N, int64_t C, std::vector<int64_t> inner,
                                     DType target_dtype, bool ignore, int64_t ignore_index, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  LossInputs in;
  const bool class_op = op == LossOp::cross_entropy || op == LossOp::nll_loss;
  if (class_op) {
    std::vector<int64_t> shape{N, C}, tshape{N};
    for (int64_t d : inner) {
      shape.push_back(d);
      tshape.push_back(d);
    }
    in.input = HostTensor(dtype, shape);
    fill_uniform(in.input, rng, op == LossOp::nll_loss ? -5.0 : -4.0, op == LossOp::nll_loss ? 0.0 : 4.0);
    if (target_dtype == DType::i64 || target_dtype == DType::i32) {
      in.target = HostTensor(target_dtype, tshape);
      std::uniform_int_distribution<int64_t> cls(0, C - 1);
      for (int64_t i = 0; i < in.target.numel(); ++i)
        in.target.set_int(i, ignore && i % 5 == 3 ? ignore_index : cls(rng));
    } else {
      in.target = HostTensor(dtype, shape);
      // Rows of probabilities: normalized along the class dim.
      const int64_t D = in.input.numel() / std::max<int64_t>(N * C, 1);
      for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < D; ++k) {
          std::vector<double> q(C);
          double s = 0.0;
          for (auto& v : q) s += (v = u01(rng) + 0.05);
          for (int64_t c = 0; c < C; ++c) in.target.set((n * C + c) * D + k, q[c] / s);
        }
    }
    return in;
  }
  const std::vector<int64_t> shape{N, C};
  in.input = HostTensor(dtype, shape);
  in.target = HostTensor(dtype, op == LossOp::cosine_embedding_loss ? std::vector<int64_t>{N} : shape);
  switch (op) {
    case LossOp::binary_cross_entropy:
      fill_uniform(in.input, rng, 0.05, 0.95);
      fill_uniform(in.target, rng, 0.0, 1.0);
      break;
    case LossOp::kl_div:
      fill_uniform(in.input, rng, -3.0, 0.0);
      fill_uniform(in.target, rng, 0.05, 1.0);
      break;
    case LossOp::margin_ranking_loss:
    case LossOp::cosine_embedding_loss:
      in.other = HostTensor(dtype, shape);
      fill_uniform(in.input, rng, -2.0, 2.0);
      fill_uniform(*in.other, rng, -2.0, 2.0);
      for (int64_t i = 0; i < in.target.numel(); ++i) in.target.set(i, u01(rng) < 0.5 ? -1.0 : 1.0);
      break;
    default:
      fill_uniform(in.input, rng, -3.0, 3.0);
      fill_uniform(in.target, rng, -3.0, 3.0);
      break;
  }
  return in;
}

}  // namespace bt
