// The norm family through NormPlan on the CPU stream: closed forms for every op, torch's
// running-stat update, the fused residual-add variants against their unfused composition, strided
// operands, empty inputs, every error path, and each backward (dx, dweight, dbias) against central
// finite differences of the forward plan in f64.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "baracuda/baracuda.hpp"
#include "gtest_helpers.hpp"
#include "norm_cases.hpp"
#include "test_support.hpp"

namespace {

using namespace baracuda;
using bt::Close;
using bt::HostTensor;
using bt::NormCase;

NormDescriptor desc(NormOp op, DType t, std::vector<int64_t> shape, std::vector<int64_t> normalized = {}) {
  NormDescriptor d;
  d.op = op;
  d.input = Operand::tensor(t, std::move(shape));
  d.normalized_shape = std::move(normalized);
  return d;
}

NormCase make(const NormDescriptor& d, uint64_t seed = 7) {
  auto c = bt::make_norm_case(d, seed);
  EXPECT_TRUE(c.has_value()) << c.status().to_string();
  return std::move(c).value();
}

TEST(NormCpu, LayerNormClosedForm) {
  NormDescriptor d = desc(NormOp::layer_norm, DType::f64, {2, 4}, {4});
  d.eps = 0.0;
  NormCase c = make(d);
  c.in(NormRole::x).set_all({1, 2, 3, 4, -1, -1, 1, 1});
  c.in(NormRole::weight).set_all({1, 2, 1, 1});
  c.in(NormRole::bias).set_all({0, 0, 0.5, 0});
  ASSERT_OK(bt::run_norm_cpu(d, c.args()));
  const double s = 1.0 / std::sqrt(1.25);  // var of 1..4 is 1.25
  const double want[] = {-1.5 * s, -0.5 * s * 2, 0.5 * s + 0.5, 1.5 * s, -1, -2, 1.5, 1};
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(Close(c.out(NormRole::y).get(i), want[i], 1e-14, 1e-15)) << i;
  EXPECT_TRUE(Close(c.out(NormRole::mean).get(0), 2.5));
  EXPECT_TRUE(Close(c.out(NormRole::mean).get(1), 0.0, 0, 1e-15));
  EXPECT_TRUE(Close(c.out(NormRole::rstd).get(0), s));
  EXPECT_TRUE(Close(c.out(NormRole::rstd).get(1), 1.0));
}

TEST(NormCpu, RmsNormClosedFormAndDefaultEps) {
  NormDescriptor d = desc(NormOp::rms_norm, DType::f32, {1, 2}, {2});
  d.weight = false;
  auto sig = infer_signature(d);
  ASSERT_TRUE(sig.has_value());
  EXPECT_EQ(sig->eps, std::numeric_limits<float>::epsilon());  // torch: finfo(dtype).eps
  EXPECT_EQ(infer_signature(desc(NormOp::rms_norm, DType::bf16, {1, 2}, {2}))->eps, 0x1p-23);  // f32 eps (opmath), as PyTorch
  EXPECT_EQ(infer_signature(desc(NormOp::layer_norm, DType::bf16, {1, 2}, {2}))->eps, 1e-5);
  NormCase c = make(d);
  c.in(NormRole::x).set_all({3, 4});
  ASSERT_OK(bt::run_norm_cpu(d, c.args()));
  const double r = 1.0 / std::sqrt(12.5 + sig->eps);
  EXPECT_TRUE(Close(c.out(NormRole::y).get(0), 3 * r, 1e-6));
  EXPECT_TRUE(Close(c.out(NormRole::y).get(1), 4 * r, 1e-6));
  EXPECT_TRUE(Close(c.out(NormRole::rstd).get(0), r, 1e-6));
}

TEST(NormCpu, MultiDimNormalizedShape) {
  // normalized_shape (2, 3) over x (2, 2, 3): each [2, 3] block is one group, weight is [2, 3].
  NormDescriptor d = desc(NormOp::layer_norm, DType::f64, {2, 2, 3}, {2, 3});
  NormCase c = make(d);
  ASSERT_OK(bt::run_norm_cpu(d, c.args()));
  EXPECT_EQ(c.sig.outputs[1].shape, (std::vector<int64_t>{2}));
  for (int g = 0; g < 2; ++g) {
    double m = 0, v = 0;
    for (int i = 0; i < 6; ++i) m += c.in(NormRole::x).get(g * 6 + i) / 6;
    for (int i = 0; i < 6; ++i) v += std::pow(c.in(NormRole::x).get(g * 6 + i) - m, 2) / 6;
    for (int i = 0; i < 6; ++i) {
      const double want = (c.in(NormRole::x).get(g * 6 + i) - m) / std::sqrt(v + 1e-5) * c.in(NormRole::weight).get(i) +
                          c.in(NormRole::bias).get(i);
      EXPECT_TRUE(Close(c.out(NormRole::y).get(g * 6 + i), want, 1e-12, 1e-12));
    }
  }
}

TEST(NormCpu, FusedAddMatchesUnfusedComposition) {
  for (NormOp op : {NormOp::add_layer_norm, NormOp::add_rms_norm}) {
    for (DType t : {DType::f32, DType::bf16}) {
      NormDescriptor d = desc(op, t, {3, 33}, {33});
      NormCase c = make(d);
      ASSERT_OK(bt::run_norm_cpu(d, c.args()));
      // Unfused: s = x + residual rounded to t, then the plain norm of s.
      NormDescriptor p = d;
      p.op = op == NormOp::add_layer_norm ? NormOp::layer_norm : NormOp::rms_norm;
      NormCase u = make(p);
      HostTensor& s = u.in(NormRole::x);
      for (int64_t i = 0; i < s.numel(); ++i) s.set(i, c.in(NormRole::x).get(i) + c.in(NormRole::residual).get(i));
      u.in(NormRole::weight) = c.in(NormRole::weight);
      if (op == NormOp::add_layer_norm) u.in(NormRole::bias) = c.in(NormRole::bias);
      ASSERT_OK(bt::run_norm_cpu(p, u.args()));
      for (int64_t i = 0; i < s.numel(); ++i) {
        EXPECT_EQ(c.out(NormRole::sum).get(i), s.get(i)) << i;
        EXPECT_EQ(c.out(NormRole::y).get(i), u.out(NormRole::y).get(i)) << i;
      }
    }
  }
}

TEST(NormCpu, GroupAndInstanceNormClosedForm) {
  // x (1, 4, 2), G = 2: groups are channels {0,1} and {2,3}.
  NormDescriptor d = desc(NormOp::group_norm, DType::f64, {1, 4, 2});
  d.num_groups = 2;
  d.eps = 0.0;
  NormCase c = make(d);
  c.in(NormRole::x).set_all({0, 1, 2, 3, 10, 10, 10, 14});
  c.in(NormRole::weight).set_all({1, 1, 2, 1});
  c.in(NormRole::bias).set_all({0, 1, 0, 0});
  ASSERT_OK(bt::run_norm_cpu(d, c.args()));
  const double s0 = 1 / std::sqrt(1.25), s1 = 1 / std::sqrt(3.0);  // var(0..3) = 1.25; var(10,10,10,14) = 3
  const double want[] = {-1.5 * s0, -0.5 * s0, 0.5 * s0 + 1, 1.5 * s0 + 1, -2 * s1, -2 * s1, -1 * s1, 3 * s1};
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(Close(c.out(NormRole::y).get(i), want[i], 1e-14, 1e-14)) << i;
  EXPECT_EQ(c.sig.outputs[1].shape, (std::vector<int64_t>{1, 2}));
  EXPECT_TRUE(Close(c.out(NormRole::mean).get(1), 11.0));

  // instance_norm == group_norm with one group per channel.
  NormDescriptor in = desc(NormOp::instance_norm, DType::f64, {2, 3, 5});
  NormDescriptor gn = in;
  gn.op = NormOp::group_norm;
  gn.num_groups = 3;
  NormCase a = make(in), b = make(gn);
  ASSERT_OK(bt::run_norm_cpu(in, a.args()));
  ASSERT_OK(bt::run_norm_cpu(gn, b.args()));
  for (int64_t i = 0; i < 30; ++i) EXPECT_TRUE(Close(a.out(NormRole::y).get(i), b.out(NormRole::y).get(i), 1e-13));
}

TEST(NormCpu, BatchNormTrainingUpdatesRunningStatsLikeTorch) {
  NormDescriptor d = desc(NormOp::batch_norm, DType::f64, {2, 2, 2});
  d.momentum = 0.25;
  d.eps = 0.0;
  NormCase c = make(d);
  // channel 0: {1, 2, 3, 6} (n=0: 1,2; n=1: 3,6); channel 1: {0, 0, 4, 4}
  c.in(NormRole::x).set_all({1, 2, 0, 0, 3, 6, 4, 4});
  c.out(NormRole::running_mean).set_all({1, 0});
  c.out(NormRole::running_var).set_all({1, 2});
  ASSERT_OK(bt::run_norm_cpu(d, c.args()));
  EXPECT_TRUE(Close(c.out(NormRole::mean).get(0), 3.0));
  EXPECT_TRUE(Close(c.out(NormRole::rstd).get(0), 1 / std::sqrt(3.5)));   // biased var (4+1+0+9)/4
  EXPECT_TRUE(Close(c.out(NormRole::running_mean).get(0), 0.75 * 1 + 0.25 * 3));
  EXPECT_TRUE(Close(c.out(NormRole::running_var).get(0), 0.75 * 1 + 0.25 * (14.0 / 3)));  // unbiased
  EXPECT_TRUE(Close(c.out(NormRole::running_mean).get(1), 0.25 * 2));
  EXPECT_TRUE(Close(c.out(NormRole::running_var).get(1), 0.75 * 2 + 0.25 * (16.0 / 3)));
  EXPECT_TRUE(Close(c.out(NormRole::y).get(0), (1 - 3) / std::sqrt(3.5) * c.in(NormRole::weight).get(0) +
                                                  c.in(NormRole::bias).get(0)));

  NormDescriptor e = desc(NormOp::batch_norm, DType::f64, {1, 2, 1});
  e.training = false;
  NormCase ev = make(e);
  ev.in(NormRole::x).set_all({5, 7});
  ev.in(NormRole::running_mean).set_all({1, 2});
  ev.in(NormRole::running_var).set_all({4, 1});
  ev.in(NormRole::weight).set_all({1, 3});
  ev.in(NormRole::bias).set_all({0, 1});
  ASSERT_OK(bt::run_norm_cpu(e, ev.args()));
  EXPECT_TRUE(Close(ev.out(NormRole::y).get(0), 4 / std::sqrt(4 + 1e-5)));
  EXPECT_TRUE(Close(ev.out(NormRole::y).get(1), 5 * 3 / std::sqrt(1 + 1e-5) + 1));
}

TEST(NormCpu, StridedOperandsMatchContiguous) {
  for (NormOp op : {NormOp::layer_norm, NormOp::add_rms_norm}) {
    NormDescriptor d = desc(op, DType::f32, {5, 7}, {7});
    NormDescriptor s = d;
    s.input.strides = {1, 5};  // x transposed
    s.strides = {{NormRole::y, bt::padded_strides({5, 7}, 3)}};
    if (op == NormOp::add_rms_norm) s.strides.push_back({NormRole::residual, bt::padded_strides({5, 7}, 1)});
    NormCase a = make(d, 3), b = make(s, 3);
    for (size_t i = 0; i < a.inputs.size(); ++i)
      for (int64_t j = 0; j < a.inputs[i].numel(); ++j) b.inputs[i].set(j, a.inputs[i].get(j));
    ASSERT_OK(bt::run_norm_cpu(d, a.args()));
    ASSERT_OK(bt::run_norm_cpu(s, b.args()));
    for (size_t o = 0; o < a.outputs.size(); ++o)
      for (int64_t j = 0; j < a.outputs[o].numel(); ++j) EXPECT_EQ(a.outputs[o].get(j), b.outputs[o].get(j));
  }
}

TEST(NormCpu, EmptyInputs) {
  NormDescriptor d = desc(NormOp::layer_norm, DType::f32, {0, 8}, {8});
  NormCase c = make(d);
  EXPECT_OK(bt::run_norm_cpu(d, c.args()));
  d.direction = Direction::backward;
  NormCase b = make(d);
  ASSERT_OK(bt::run_norm_cpu(d, b.args()));
  for (int i = 0; i < 8; ++i) {  // nothing to sum: zero gradients for the parameters
    EXPECT_EQ(b.out(NormRole::dweight).get(i), 0.0);
    EXPECT_EQ(b.out(NormRole::dbias).get(i), 0.0);
  }
}

TEST(NormCpu, Errors) {
  auto msg = [](const NormDescriptor& d) { return infer_signature(d).status().to_string(); };
  NormDescriptor d = desc(NormOp::layer_norm, DType::f32, {4, 8}, {6});
  EXPECT_NE(msg(d).find("normalized_shape [6] does not match the trailing dims of the input [4, 8]"), std::string::npos)
      << msg(d);
  d.normalized_shape = {};
  EXPECT_NE(msg(d).find("normalized_shape is empty"), std::string::npos);
  d.normalized_shape = {2, 4, 8};
  EXPECT_NE(msg(d).find("does not match"), std::string::npos);
  d = desc(NormOp::layer_norm, DType::bf16, {4, 8}, {8});
  d.param_dtype = DType::f16;
  EXPECT_NE(msg(d).find("weight/bias dtype must be x's dtype (bf16) or f32, got f16"), std::string::npos) << msg(d);
  d.param_dtype = DType::f32;
  EXPECT_TRUE(infer_signature(d).has_value());
  d.eps = -1.0;
  EXPECT_NE(msg(d).find("eps must be finite and >= 0"), std::string::npos);
  d.eps = std::nan("");
  EXPECT_NE(msg(d).find("eps"), std::string::npos);
  d = desc(NormOp::rms_norm, DType::i32, {4, 8}, {8});
  EXPECT_NE(msg(d).find("needs a floating input"), std::string::npos);
  d = desc(NormOp::group_norm, DType::f32, {2, 6, 3});
  d.num_groups = 4;
  EXPECT_NE(msg(d).find("num_channels 6 is not divisible by num_groups 4"), std::string::npos) << msg(d);
  d.num_groups = 0;
  EXPECT_NE(msg(d).find("num_groups must be positive"), std::string::npos);
  d = desc(NormOp::batch_norm, DType::f32, {1, 3});
  EXPECT_NE(msg(d).find("more than 1 value per channel"), std::string::npos);
  d = desc(NormOp::instance_norm, DType::f32, {3});
  EXPECT_NE(msg(d).find("rank >= 2"), std::string::npos);
  d = desc(NormOp::layer_norm, DType::f32, {4, 8}, {8});
  d.strides = {{NormRole::weight, {1}}};
  EXPECT_NE(msg(d).find("not for weight"), std::string::npos);

  // Run-time arguments: a weight of the wrong size, a missing operand, an extra one, aliasing.
  d = desc(NormOp::layer_norm, DType::f32, {4, 8}, {8});
  NormCase c = make(d);
  HostTensor bad(DType::f32, {7});
  NormArgs a = c.args();
  a.inputs[1] = bad.ref();
  Status s = bt::run_norm_cpu(d, a);
  EXPECT_EQ(s.code(), StatusCode::invalid_argument);
  EXPECT_NE(s.message().find("(weight)"), std::string::npos) << s.to_string();
  a = c.args();
  a.inputs[2] = {};
  EXPECT_EQ(bt::run_norm_cpu(d, a).code(), StatusCode::invalid_argument);
  a = c.args();
  a.inputs[3] = bad.ref();
  EXPECT_EQ(bt::run_norm_cpu(d, a).code(), StatusCode::invalid_argument);
  a = c.args();
  a.outputs[0] = c.in(NormRole::x).mut();  // y aliasing x
  EXPECT_NE(bt::run_norm_cpu(d, a).message().find("overlaps input"), std::string::npos);
  HostTensor wrong_dtype(DType::f64, {4, 8});
  a = c.args();
  a.inputs[0] = wrong_dtype.ref();
  EXPECT_NE(bt::run_norm_cpu(d, a).message().find("dtype"), std::string::npos);
}

// ---- backward vs finite differences -------------------------------------------------------------
// loss = sum(y * gy) (+ sum(sum_out * gs) for the fused ops); the backward's dx/dweight/dbias must
// match the central differences of the forward plan with respect to x (and residual), weight, bias.
void check_backward(NormDescriptor fwd) {
  SCOPED_TRACE(NormFamily::describe(fwd));
  const bool add = fwd.op == NormOp::add_layer_norm || fwd.op == NormOp::add_rms_norm;
  fwd.save_stats = true;
  if (fwd.op == NormOp::batch_norm) fwd.track_running_stats = false;
  NormCase f = make(fwd, 11);
  ASSERT_OK(bt::run_norm_cpu(fwd, f.args()));
  std::mt19937_64 rng(5);
  HostTensor gy(DType::f64, fwd.input.shape), gs(DType::f64, fwd.input.shape);
  bt::fill_uniform(gy, rng, -1, 1);
  bt::fill_uniform(gs, rng, -1, 1);
  auto loss = [&]() {
    NormCase g = f;
    EXPECT_OK(bt::run_norm_cpu(fwd, g.args()));
    double l = 0;
    for (int64_t i = 0; i < gy.numel(); ++i) {
      l += g.out(NormRole::y).get(i) * gy.get(i);
      if (add) l += g.out(NormRole::sum).get(i) * gs.get(i);
    }
    return l;
  };
  auto fd = [&](HostTensor& t, int64_t i) {
    const double v = t.get(i), h = 1e-6 * std::max(1.0, std::fabs(v));
    t.set(i, v + h);
    const double up = loss();
    t.set(i, v - h);
    const double down = loss();
    t.set(i, v);
    return (up - down) / (2 * h);
  };

  NormDescriptor bwd = fwd;
  bwd.direction = Direction::backward;
  auto bs = infer_signature(bwd);
  ASSERT_TRUE(bs.has_value()) << bs.status().to_string();
  NormCase b = make(bwd, 13);
  for (size_t i = 0; i < b.inputs.size(); ++i) {
    switch (bs->input_roles[i]) {
      case NormRole::dy: b.inputs[i] = gy; break;
      case NormRole::dsum: b.inputs[i] = gs; break;
      case NormRole::x: b.inputs[i] = add ? f.out(NormRole::sum) : f.in(NormRole::x); break;
      case NormRole::mean: b.inputs[i] = f.out(NormRole::mean); break;
      case NormRole::rstd: b.inputs[i] = f.out(NormRole::rstd); break;
      case NormRole::weight: b.inputs[i] = f.in(NormRole::weight); break;
      case NormRole::running_mean: b.inputs[i] = f.in(NormRole::running_mean); break;
      case NormRole::running_var: b.inputs[i] = f.in(NormRole::running_var); break;
      default: FAIL() << "unexpected role";
    }
  }
  ASSERT_OK(bt::run_norm_cpu(bwd, b.args()));
  for (int64_t i = 0; i < f.in(NormRole::x).numel(); ++i) {
    EXPECT_TRUE(Close(b.out(NormRole::dx).get(i), fd(f.in(NormRole::x), i), 1e-6, 1e-7)) << "dx " << i;
    if (add) {
      EXPECT_TRUE(Close(b.out(NormRole::dx).get(i), fd(f.in(NormRole::residual), i), 1e-6, 1e-7)) << "dres " << i;
    }
  }
  if (bs->output_index(NormRole::dweight) >= 0) {
    for (int64_t i = 0; i < f.in(NormRole::weight).numel(); ++i) {
      EXPECT_TRUE(Close(b.out(NormRole::dweight).get(i), fd(f.in(NormRole::weight), i), 1e-6, 1e-7)) << "dw " << i;
    }
  }
  if (bs->output_index(NormRole::dbias) >= 0) {
    for (int64_t i = 0; i < f.in(NormRole::bias).numel(); ++i) {
      EXPECT_TRUE(Close(b.out(NormRole::dbias).get(i), fd(f.in(NormRole::bias), i), 1e-6, 1e-7)) << "db " << i;
    }
  }
}

TEST(NormCpu, BackwardMatchesFiniteDifferences) {
  for (NormOp op : {NormOp::layer_norm, NormOp::rms_norm, NormOp::add_layer_norm, NormOp::add_rms_norm}) {
    check_backward(desc(op, DType::f64, {3, 5}, {5}));
    NormDescriptor nw = desc(op, DType::f64, {2, 2, 3}, {2, 3});
    nw.weight = false;
    check_backward(nw);
  }
  NormDescriptor g = desc(NormOp::group_norm, DType::f64, {2, 4, 3});
  g.num_groups = 2;
  check_backward(g);
  check_backward(desc(NormOp::instance_norm, DType::f64, {2, 3, 4}));
  check_backward(desc(NormOp::batch_norm, DType::f64, {3, 2, 2}));
  NormDescriptor e = desc(NormOp::batch_norm, DType::f64, {3, 2, 2});
  e.training = false;
  check_backward(e);
  NormDescriptor nb = desc(NormOp::layer_norm, DType::f64, {2, 4}, {4});
  nb.bias = false;
  check_backward(nb);
}

}  // namespace
