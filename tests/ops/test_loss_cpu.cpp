// The loss family's CPU reference: values computed by hand (or by independent closed forms in the
// test), every error path, strided and [N, C, d] layouts, and backward against f64 central finite
// differences for every op, reduction and option.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "baracuda/baracuda.hpp"
#include "gtest_helpers.hpp"
#include "loss_test_support.hpp"
#include "test_support.hpp"

namespace {

using namespace baracuda;
using bt::Close;
using bt::HostTensor;
using bt::LossInputs;

const LossReduction kReductions[] = {LossReduction::none, LossReduction::mean, LossReduction::sum};

Result<HostTensor> forward(const LossDescriptor& base, const LossInputs& in) {
  const LossDescriptor d = bt::loss_desc(base, in);
  BARACUDA_ASSIGN_OR_RETURN(auto sig, infer_signature(d));
  BARACUDA_ASSIGN_OR_RETURN(auto plan, LossPlan::select(Stream::cpu(), d));
  HostTensor loss(d.input.dtype, sig.loss_shape);
  LossArgs a = bt::loss_input_args(in);
  a.loss = loss.mut();
  BARACUDA_TRY(plan.run(Stream::cpu(), {}, a));
  return loss;
}

struct Grads {
  HostTensor input, other;
};
Result<Grads> backward(LossDescriptor base, const LossInputs& in, const HostTensor& grad_loss) {
  base.direction = Direction::backward;
  const LossDescriptor d = bt::loss_desc(base, in);
  BARACUDA_ASSIGN_OR_RETURN(auto plan, LossPlan::select(Stream::cpu(), d));
  Grads g{HostTensor(d.input.dtype, d.input.shape), HostTensor(d.input.dtype, d.input.shape)};
  LossArgs a = bt::loss_input_args(in);
  a.grad_loss = grad_loss.ref();
  a.grad_input = g.input.mut();
  if (in.other) a.grad_other = g.other.mut();
  BARACUDA_TRY(plan.run(Stream::cpu(), {}, a));
  return g;
}

double scalar_loss(const LossDescriptor& d, const LossInputs& in) {
  auto l = forward(d, in);
  EXPECT_TRUE(l.has_value()) << l.status().to_string();
  return l ? l->get(0) : std::numeric_limits<double>::quiet_NaN();
}

LossDescriptor opts(LossOp op, LossReduction r = LossReduction::mean) {
  LossDescriptor d;
  d.op = op;
  d.reduction = r;
  return d;
}

// ---------------------------------------------------------------------------------------------
// Hand-computed values.

// -log softmax(x)[t], written independently of the reference (plain sum of exps).
double nll_of(const std::vector<double>& x, int t) {
  double s = 0.0;
  for (double v : x) s += std::exp(v);
  return std::log(s) - x[t];
}

TEST(LossCpu, CrossEntropyIndicesByHand) {
  LossInputs in{bt::host(DType::f64, {2, 3}, {1.0, 2.0, 3.0, 0.5, -1.0, 2.0}), {}, {}, {},
                bt::HostTensor(DType::i64, {2})};
  in.target.set_int(0, 2);
  in.target.set_int(1, 0);
  const double l0 = nll_of({1, 2, 3}, 2), l1 = nll_of({0.5, -1, 2}, 0);
  EXPECT_TRUE(Close(scalar_loss(opts(LossOp::cross_entropy), in), (l0 + l1) / 2, 1e-14));
  EXPECT_TRUE(Close(scalar_loss(opts(LossOp::cross_entropy, LossReduction::sum), in), l0 + l1, 1e-14));
  auto none = forward(opts(LossOp::cross_entropy, LossReduction::none), in);
  ASSERT_OK(none.status());
  EXPECT_EQ(none->shape(), (std::vector<int64_t>{2}));
  EXPECT_TRUE(Close(none->get(0), l0, 1e-14));
  EXPECT_TRUE(Close(none->get(1), l1, 1e-14));
  // i32 targets give the same.
  LossInputs in32 = in;
  in32.target = bt::HostTensor(DType::i32, {2});
  in32.target.set_int(0, 2);
  in32.target.set_int(1, 0);
  EXPECT_TRUE(Close(scalar_loss(opts(LossOp::cross_entropy), in32), (l0 + l1) / 2, 1e-14));
}

TEST(LossCpu, CrossEntropyWeightsAndIgnoreIndex) {
  LossInputs in{bt::host(DType::f64, {3, 3}, {1, 2, 3, 0.5, -1, 2, 0, 0, 0}), {}, bt::host(DType::f64, {3}, {0.5, 2.0, 3.0}),
                {}, bt::HostTensor(DType::i64, {3})};
  in.target.set_int(0, 2);
  in.target.set_int(1, 0);
  in.target.set_int(2, -100);  // ignored
  const double l0 = 3.0 * nll_of({1, 2, 3}, 2), l1 = 0.5 * nll_of({0.5, -1, 2}, 0);
  // Weighted mean: divided by the weights of the non-ignored targets (3 + 0.5).
  EXPECT_TRUE(Close(scalar_loss(opts(LossOp::cross_entropy), in), (l0 + l1) / 3.5, 1e-14));
  EXPECT_TRUE(Close(scalar_loss(opts(LossOp::cross_entropy, LossReduction::sum), in), l0 + l1, 1e-14));
  auto none = forward(opts(LossOp::cross_entropy, LossReduction::none), in);
  ASSERT_OK(none.status());
  EXPECT_EQ(none->get(2), 0.0);
  // Another ignore_index value.
  LossDescriptor d = opts(LossOp::cross_entropy);
  d.ignore_index = 0;  // now sample 1 is ignored and sample 2's -100 is out of range
  auto bad = forward(d, in);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.status().code(), StatusCode::invalid_argument);
  EXPECT_NE(bad.status().message().find("-100"), std::string::npos) << bad.status().message();
  // Every sample ignored: mean is 0/0 = NaN (PyTorch), sum is 0.
  for (int64_t i = 0; i < 3; ++i) in.target.set_int(i, -100);
  EXPECT_TRUE(std::isnan(scalar_loss(opts(LossOp::cross_entropy), in)));
  EXPECT_EQ(scalar_loss(opts(LossOp::cross_entropy, LossReduction::sum), in), 0.0);
}

TEST(LossCpu, CrossEntropyLabelSmoothingAndZLoss) {
  LossInputs in{bt::host(DType::f64, {1, 4}, {0.3, -1.2, 2.0, 0.7}), {}, {}, {}, bt::HostTensor(DType::i64, {1})};
  in.target.set_int(0, 1);
  const std::vector<double> x{0.3, -1.2, 2.0, 0.7};
  double lse = 0.0;
  for (double v : x) lse += std::exp(v);
  lse = std::log(lse);
  // eps = 0.2: (1 - eps) nll + eps/C sum_c (lse - x_c); z = 1e-3: + z lse^2.
  double smooth = 0.0;
  for (double v : x) smooth += lse - v;
  LossDescriptor d = opts(LossOp::cross_entropy);
  d.label_smoothing = 0.2;
  d.z_loss = 1e-3;
  EXPECT_TRUE(Close(scalar_loss(d, in), 0.8 * (lse - x[1]) + 0.2 / 4 * smooth + 1e-3 * lse * lse, 1e-14));
  // With class weights: every term weighted (PyTorch's formula), z weighted by w[t].
  in.weight = bt::host(DType::f64, {4}, {1.0, 2.0, 0.5, 4.0});
  const double w[] = {1.0, 2.0, 0.5, 4.0};
  double wsmooth = 0.0;
  for (int c = 0; c < 4; ++c) wsmooth += w[c] * (lse - x[c]);
  const double per = 0.8 * 2.0 * (lse - x[1]) + 0.2 / 4 * wsmooth + 1e-3 * 2.0 * lse * lse;
  d.reduction = LossReduction::sum;
  EXPECT_TRUE(Close(scalar_loss(d, in), per, 1e-14));
  d.reduction = LossReduction::mean;
  EXPECT_TRUE(Close(scalar_loss(d, in), per / 2.0, 1e-14));
}

TEST(LossCpu, CrossEntropyProbabilityTargets) {
  LossInputs in{bt::host(DType::f64, {2, 3}, {1, 2, 3, 0.5, -1, 2}), {}, {}, {},
                bt::host(DType::f64, {2, 3}, {0.2, 0.3, 0.5, 1.0, 0.0, 0.0})};
  const double l0 = 0.2 * nll_of({1, 2, 3}, 0) + 0.3 * nll_of({1, 2, 3}, 1) + 0.5 * nll_of({1, 2, 3}, 2);
  const double l1 = nll_of({0.5, -1, 2}, 0);
  EXPECT_TRUE(Close(scalar_loss(opts(LossOp::cross_entropy), in), (l0 + l1) / 2, 1e-14));
  // One-hot probabilities equal index targets, with smoothing too.
  LossInputs idx{in.input, {}, {}, {}, bt::HostTensor(DType::i64, {2})};
  idx.target.set_int(0, 2);
  idx.target.set_int(1, 0);
  LossInputs hot = in;
  hot.target = bt::host(DType::f64, {2, 3}, {0, 0, 1, 1, 0, 0});
  LossDescriptor d = opts(LossOp::cross_entropy);
  d.label_smoothing = 0.1;
  EXPECT_TRUE(Close(scalar_loss(d, hot), scalar_loss(d, idx), 1e-13));
}

TEST(LossCpu, CrossEntropySpatialLayoutMatchesRows) {
  // [N, C, d] equals the [N*d, C] problem of its transposed rows.
  LossInputs sp = bt::random_loss_inputs(LossOp::cross_entropy, DType::f64, 2, 5, {3}, DType::i64, true, -100, 7);
  LossInputs rows{HostTensor(DType::f64, {6, 5}), {}, {}, {}, HostTensor(DType::i64, {6})};
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t k = 0; k < 3; ++k) {
      for (int64_t c = 0; c < 5; ++c) rows.input.set((n * 3 + k) * 5 + c, sp.input.get((n * 5 + c) * 3 + k));
      rows.target.set_int(n * 3 + k, sp.target.get_int(n * 3 + k));
    }
  LossDescriptor d = opts(LossOp::cross_entropy);
  d.label_smoothing = 0.1;
  EXPECT_TRUE(Close(scalar_loss(d, sp), scalar_loss(d, rows), 1e-14));
  auto none = forward(opts(LossOp::cross_entropy, LossReduction::none), sp);
  ASSERT_OK(none.status());
  EXPECT_EQ(none->shape(), (std::vector<int64_t>{2, 3}));
}

TEST(LossCpu, StridedInputsMatchContiguous) {
  LossInputs in = bt::random_loss_inputs(LossOp::cross_entropy, DType::f32, 6, 9, {}, DType::i64, true, -100, 3);
  LossInputs tr = in;
  tr.input = HostTensor(DType::f32, {6, 9}, {1, 6});  // column-major storage of the same values
  for (int64_t i = 0; i < 54; ++i) tr.input.set(i, in.input.get(i));
  for (LossReduction r : kReductions) {
    auto a = forward(opts(LossOp::cross_entropy, r), in), b = forward(opts(LossOp::cross_entropy, r), tr);
    ASSERT_OK(a.status());
    ASSERT_OK(b.status());
    for (int64_t i = 0; i < a->numel(); ++i) EXPECT_EQ(a->get(i), b->get(i));
  }
}

TEST(LossCpu, NllLossByHand) {
  LossInputs in{bt::host(DType::f32, {2, 3}, {-1.0, -2.0, -0.5, -0.25, -3.0, -1.5}), {}, bt::host(DType::f32, {3}, {1, 2, 4}),
                {}, HostTensor(DType::i64, {2})};
  in.target.set_int(0, 1);
  in.target.set_int(1, 2);
  EXPECT_TRUE(Close(scalar_loss(opts(LossOp::nll_loss), in), (2 * 2.0 + 4 * 1.5) / 6.0, 1e-7));
  EXPECT_TRUE(Close(scalar_loss(opts(LossOp::nll_loss, LossReduction::sum), in), 10.0, 1e-7));
}

TEST(LossCpu, PointwiseByHand) {
  auto x = bt::host(DType::f64, {4}, {0.5, -1.0, 3.0, 0.2});
  auto t = bt::host(DType::f64, {4}, {0.0, 1.0, 0.5, 0.2});
  auto run = [&](LossDescriptor d) { return scalar_loss(d, LossInputs{x, {}, {}, {}, t}); };
  // Differences: 0.5, -2, 2.5, 0.
  EXPECT_TRUE(Close(run(opts(LossOp::mse_loss)), (0.25 + 4 + 6.25 + 0) / 4, 1e-15));
  EXPECT_TRUE(Close(run(opts(LossOp::l1_loss, LossReduction::sum)), 5.0, 1e-15));
  LossDescriptor s = opts(LossOp::smooth_l1_loss, LossReduction::sum);
  s.beta = 1.0;
  EXPECT_TRUE(Close(run(s), 0.5 * 0.25 + 1.5 + 2.0 + 0.0, 1e-15));
  s.beta = 0.0;  // l1
  EXPECT_TRUE(Close(run(s), 5.0, 1e-15));
  LossDescriptor h = opts(LossOp::huber_loss, LossReduction::sum);
  h.delta = 2.0;
  EXPECT_TRUE(Close(run(h), 0.125 + 2.0 * (2.0 - 1.0) + 2.0 * (2.5 - 1.0), 1e-15));
  LossDescriptor kl = opts(LossOp::kl_div, LossReduction::sum);
  auto lx = bt::host(DType::f64, {2}, {std::log(0.25), std::log(0.75)});
  auto q = bt::host(DType::f64, {2}, {0.5, 0.5});
  EXPECT_TRUE(Close(scalar_loss(kl, LossInputs{lx, {}, {}, {}, q}), 0.5 * std::log(0.5 / 0.25) + 0.5 * std::log(0.5 / 0.75), 1e-15));
  kl.log_target = true;
  auto lq = bt::host(DType::f64, {2}, {std::log(0.5), std::log(0.5)});
  EXPECT_TRUE(Close(scalar_loss(kl, LossInputs{lx, {}, {}, {}, lq}), 0.5 * std::log(0.5 / 0.25) + 0.5 * std::log(0.5 / 0.75), 1e-14));
}

TEST(LossCpu, BinaryCrossEntropyByHand) {
  auto p = bt::host(DType::f64, {3}, {0.9, 0.2, 0.0});
  auto y = bt::host(DType::f64, {3}, {1.0, 0.0, 1.0});
  // log(0) is clamped to -100.
  EXPECT_TRUE(Close(scalar_loss(opts(LossOp::binary_cross_entropy, LossReduction::sum), LossInputs{p, {}, {}, {}, y}),
                    -std::log(0.9) - std::log(0.8) + 100.0, 1e-14));
  LossInputs wi{p, {}, bt::host(DType::f64, {3}, {2.0, 1.0, 0.0}), {}, y};
  EXPECT_TRUE(Close(scalar_loss(opts(LossOp::binary_cross_entropy, LossReduction::sum), wi), -2 * std::log(0.9) - std::log(0.8), 1e-14));
  // With logits: log(1 + e^-x) for y = 1, log(1 + e^x) for y = 0; pos_weight scales the y = 1 part.
  auto z = bt::host(DType::f64, {2}, {0.7, -30.0});
  auto t = bt::host(DType::f64, {2}, {1.0, 0.0});
  LossInputs li{z, {}, {}, bt::host(DType::f64, {1}, {3.0}), t};
  EXPECT_TRUE(Close(scalar_loss(opts(LossOp::binary_cross_entropy_with_logits, LossReduction::sum), li),
                    3.0 * std::log1p(std::exp(-0.7)) + std::log1p(std::exp(-30.0)), 1e-14));
}

TEST(LossCpu, CosineAndMarginRankingByHand) {
  auto a = bt::host(DType::f64, {2, 2}, {1, 0, 1, 1});
  auto b = bt::host(DType::f64, {2, 2}, {0, 1, 1, 1});
  auto y = bt::host(DType::f64, {2}, {-1, 1});
  LossDescriptor d = opts(LossOp::cosine_embedding_loss, LossReduction::none);
  d.margin = -0.5;
  auto l = forward(d, LossInputs{a, b, {}, {}, y});
  ASSERT_OK(l.status());
  EXPECT_TRUE(Close(l->get(0), 0.5, 1e-12));   // cos 0, y -1: max(0, 0 + 0.5)
  EXPECT_TRUE(Close(l->get(1), 0.0, 0, 1e-12));  // cos 1, y 1: 1 - 1
  auto x1 = bt::host(DType::f32, {3}, {1, 2, 3});
  auto x2 = bt::host(DType::f32, {3}, {2, 2, 1});
  auto yy = bt::host(DType::f32, {3}, {1, -1, -1});
  LossDescriptor m = opts(LossOp::margin_ranking_loss, LossReduction::sum);
  m.margin = 0.5;
  // max(0, -y (x1 - x2) + margin): 1.5, 0.5, 2.5.
  EXPECT_TRUE(Close(scalar_loss(m, LossInputs{x1, x2, {}, {}, yy}), 4.5, 1e-7));
}

TEST(LossCpu, EmptyInputs) {
  LossInputs in{HostTensor(DType::f32, {0, 5}), {}, {}, {}, HostTensor(DType::i64, {0})};
  EXPECT_TRUE(std::isnan(scalar_loss(opts(LossOp::cross_entropy), in)));
  EXPECT_EQ(scalar_loss(opts(LossOp::cross_entropy, LossReduction::sum), in), 0.0);
  LossInputs pw{HostTensor(DType::f32, {0}), {}, {}, {}, HostTensor(DType::f32, {0})};
  EXPECT_TRUE(std::isnan(scalar_loss(opts(LossOp::mse_loss), pw)));
}

// ---------------------------------------------------------------------------------------------
// Errors.

Status select_status(const LossDescriptor& base, const LossInputs& in) {
  return LossPlan::select(Stream::cpu(), bt::loss_desc(base, in)).status();
}

void expect_error(const Status& s, const std::string& fragment) {
  EXPECT_EQ(s.code(), StatusCode::invalid_argument) << s.to_string();
  EXPECT_NE(s.message().find(fragment), std::string::npos) << "'" << fragment << "' not in: " << s.message();
}

TEST(LossCpu, Errors) {
  const LossInputs ok = bt::random_loss_inputs(LossOp::cross_entropy, DType::f32, 4, 7, {}, DType::i64, false, -100, 1);
  const LossDescriptor ce = opts(LossOp::cross_entropy);
  EXPECT_OK(select_status(ce, ok));
  LossInputs in = ok;
  in.target = HostTensor(DType::i64, {5});
  expect_error(select_status(ce, in), "[5]");
  in.target = HostTensor(DType::f16, {4});
  expect_error(select_status(ce, in), "f16");
  in.target = HostTensor(DType::i16, {4});
  expect_error(select_status(ce, in), "i16");
  in.target = HostTensor(DType::f32, {4, 8});  // probabilities with the wrong class count
  expect_error(select_status(ce, in), "[4, 8]");
  in = ok;
  in.weight = HostTensor(DType::f32, {6});
  expect_error(select_status(ce, in), "[6]");
  in.weight = HostTensor(DType::f16, {7});
  expect_error(select_status(ce, in), "f16[7]");
  in = ok;
  in.input = HostTensor(DType::i64, {4, 7});
  expect_error(select_status(ce, in), "i64");
  LossDescriptor d = ce;
  d.label_smoothing = 1.5;
  expect_error(select_status(d, ok), "1.5");
  d = ce;
  d.z_loss = -1.0;
  expect_error(select_status(d, ok), "z_loss");
  d = opts(LossOp::mse_loss);
  d.fused_backward = true;
  expect_error(select_status(d, bt::random_loss_inputs(LossOp::mse_loss, DType::f32, 2, 3, {}, DType::f32, false, 0, 1)),
               "fused_backward");
  // Pointwise shape and dtype mismatches.
  LossInputs pw = bt::random_loss_inputs(LossOp::mse_loss, DType::f32, 2, 3, {}, DType::f32, false, 0, 1);
  pw.target = HostTensor(DType::f32, {3, 2});
  expect_error(select_status(opts(LossOp::mse_loss), pw), "[3, 2]");
  pw.target = HostTensor(DType::f64, {2, 3});
  expect_error(select_status(opts(LossOp::mse_loss), pw), "f64");
  LossInputs bce = bt::random_loss_inputs(LossOp::binary_cross_entropy, DType::f32, 2, 3, {}, DType::f32, false, 0, 1);
  bce.weight = HostTensor(DType::f32, {2});
  expect_error(select_status(opts(LossOp::binary_cross_entropy), bce), "[2]");
  LossInputs mr = bt::random_loss_inputs(LossOp::margin_ranking_loss, DType::f32, 2, 3, {}, DType::f32, false, 0, 1);
  mr.other.reset();
  expect_error(select_status(opts(LossOp::margin_ranking_loss), mr), "second input");
  // Out-of-range targets are reported at run time, quoting the value.
  in = ok;
  in.target.set_int(2, 7);
  auto r = forward(ce, in);
  ASSERT_FALSE(r.has_value());
  expect_error(r.status(), "target 7 at position 2");
  in.target.set_int(2, -3);
  expect_error(forward(ce, in).status(), "target -3");
  // Missing or extra arguments at run time.
  auto plan = LossPlan::select(Stream::cpu(), bt::loss_desc(ce, ok));
  ASSERT_OK(plan.status());
  HostTensor loss(DType::f32, {});
  LossArgs a = bt::loss_input_args(ok);
  EXPECT_EQ(plan->run(Stream::cpu(), {}, a).code(), StatusCode::invalid_argument);  // no loss output
  a.loss = loss.mut();
  EXPECT_OK(plan->run(Stream::cpu(), {}, a));
  HostTensor extra(DType::f32, {7});
  a.weight = extra.ref();
  expect_error(plan->run(Stream::cpu(), {}, a), "weight is given");
}

// ---------------------------------------------------------------------------------------------
// Backward against central finite differences in f64: d/dx of sum_i G_i loss_i (G = grad_loss).

struct FdCase {
  std::string name;
  LossDescriptor d;
  LossInputs in;
};

void check_fd(const FdCase& c) {
  SCOPED_TRACE(c.name + " reduction " + std::string(loss_reduction_name(c.d.reduction)));
  auto sig = infer_signature(bt::loss_desc(c.d, c.in));
  ASSERT_OK(sig.status());
  HostTensor G(DType::f64, sig->loss_shape);
  std::mt19937_64 rng(11);
  bt::fill_uniform(G, rng, 0.5, 1.5);
  auto objective = [&](const LossInputs& in) {
    auto l = forward(c.d, in);
    EXPECT_TRUE(l.has_value()) << l.status().to_string();
    double f = 0.0;
    for (int64_t i = 0; l && i < l->numel(); ++i) f += G.get(i) * l->get(i);
    return f;
  };
  auto g = backward(c.d, c.in, G);
  ASSERT_OK(g.status());
  const double h = 1e-6;
  for (int which = 0; which < (c.in.other ? 2 : 1); ++which) {
    const int64_t n = c.in.input.numel();
    for (int64_t i = 0; i < n; ++i) {
      LossInputs p = c.in, m = c.in;
      HostTensor& tp = which == 0 ? p.input : *p.other;
      HostTensor& tm = which == 0 ? m.input : *m.other;
      tp.set(i, tp.get(i) + h);
      tm.set(i, tm.get(i) - h);
      const double fd = (objective(p) - objective(m)) / (2 * h);
      const double got = which == 0 ? g->input.get(i) : g->other.get(i);
      EXPECT_TRUE(Close(got, fd, 1e-6, 1e-7)) << (which ? "grad_other" : "grad_input") << " element " << i;
    }
  }
}

std::vector<FdCase> fd_cases() {
  std::vector<FdCase> cases;
  auto add = [&](std::string name, LossDescriptor d, LossInputs in) {
    for (LossReduction r : kReductions) {
      d.reduction = r;
      cases.push_back({name, d, in});
    }
  };
  auto ce_in = [](std::vector<int64_t> inner, DType tdt, bool ignore, uint64_t seed) {
    return bt::random_loss_inputs(LossOp::cross_entropy, DType::f64, 3, 5, std::move(inner), tdt, ignore, -100, seed);
  };
  LossDescriptor ce = opts(LossOp::cross_entropy);
  add("ce", ce, ce_in({}, DType::i64, true, 1));
  add("ce [N,C,d]", ce, ce_in({2}, DType::i32, true, 2));
  LossDescriptor ces = ce;
  ces.label_smoothing = 0.15;
  ces.z_loss = 0.01;
  LossInputs wi = ce_in({}, DType::i64, true, 3);
  wi.weight = bt::host(DType::f64, {5}, {0.5, 1.0, 2.0, 1.5, 0.25});
  add("ce smoothing z_loss weight", ces, wi);
  add("ce probs smoothing z_loss", ces, ce_in({}, DType::f64, false, 4));
  LossInputs pw = ce_in({2}, DType::f64, false, 5);
  pw.weight = bt::host(DType::f64, {5}, {0.5, 1.0, 2.0, 1.5, 0.25});
  add("ce probs weight [N,C,d]", ce, pw);
  LossInputs nl = bt::random_loss_inputs(LossOp::nll_loss, DType::f64, 4, 3, {}, DType::i64, true, -100, 6);
  nl.weight = bt::host(DType::f64, {3}, {0.5, 1.0, 2.0});
  add("nll", opts(LossOp::nll_loss), nl);
  for (LossOp op : {LossOp::mse_loss, LossOp::l1_loss, LossOp::smooth_l1_loss, LossOp::huber_loss, LossOp::binary_cross_entropy,
                    LossOp::binary_cross_entropy_with_logits, LossOp::kl_div, LossOp::margin_ranking_loss,
                    LossOp::cosine_embedding_loss}) {
    LossDescriptor d = opts(op);
    d.beta = 0.7;
    d.delta = 1.3;
    d.margin = op == LossOp::cosine_embedding_loss ? -0.3 : 0.4;
    LossInputs in = bt::random_loss_inputs(op, DType::f64, 3, 4, {}, DType::f64, false, 0, 20 + static_cast<int>(op));
    add(std::string(loss_op_info(op).name), d, in);
    if (op == LossOp::binary_cross_entropy || op == LossOp::binary_cross_entropy_with_logits) {
      in.weight = bt::host(DType::f64, {4}, {0.5, 1.0, 2.0, 3.0});
      if (op == LossOp::binary_cross_entropy_with_logits) in.pos_weight = bt::host(DType::f64, {3, 1}, {2.0, 0.5, 1.5});
      add(std::string(loss_op_info(op).name) + " weights", d, in);
    }
    if (op == LossOp::kl_div) {
      d.log_target = true;
      std::mt19937_64 rng(5);
      bt::fill_uniform(in.target, rng, -3.0, 0.0);
      add("kl_div log_target", d, in);
    }
  }
  return cases;
}

TEST(LossCpu, BackwardMatchesFiniteDifferences) {
  for (const FdCase& c : fd_cases()) check_fd(c);
}

TEST(LossCpu, FusedForwardBackwardMatchesSeparatePasses) {
  LossInputs in = bt::random_loss_inputs(LossOp::cross_entropy, DType::f64, 4, 6, {}, DType::i64, true, -100, 9);
  for (LossReduction r : kReductions) {
    LossDescriptor d = opts(LossOp::cross_entropy, r);
    d.label_smoothing = 0.1;
    d.fused_backward = true;
    const LossDescriptor fd = bt::loss_desc(d, in);
    auto sig = infer_signature(fd);
    ASSERT_OK(sig.status());
    auto plan = LossPlan::select(Stream::cpu(), fd);
    ASSERT_OK(plan.status());
    HostTensor loss(DType::f64, sig->loss_shape), grad(DType::f64, {4, 6});
    LossArgs a = bt::loss_input_args(in);
    a.loss = loss.mut();
    a.grad_input = grad.mut();
    ASSERT_OK(plan->run(Stream::cpu(), {}, a));  // no grad_loss: 1
    d.fused_backward = false;
    auto want_loss = forward(d, in);
    ASSERT_OK(want_loss.status());
    HostTensor ones(DType::f64, sig->loss_shape);
    for (int64_t i = 0; i < ones.numel(); ++i) ones.set(i, 1.0);
    auto want_grad = backward(d, in, ones);
    ASSERT_OK(want_grad.status());
    for (int64_t i = 0; i < loss.numel(); ++i) EXPECT_EQ(loss.get(i), want_loss->get(i));
    for (int64_t i = 0; i < grad.numel(); ++i) EXPECT_EQ(grad.get(i), want_grad->input.get(i));
  }
}

TEST(LossCpu, OpTableIsComplete) {
  EXPECT_EQ(all_loss_ops().size(), 11u);
  for (const LossOpInfo& info : all_loss_ops()) {
    EXPECT_EQ(loss_op_info(info.op).name, info.name);
    EXPECT_FALSE(info.torch_name.empty());
  }
}

}  // namespace
