// The scan family through ScanPlan on the CPU stream: closed forms, an independent O(n^2)
// definition over every axis / exclusive / reverse combination, torch's cummax/cummin tie and NaN
// rule, dtype rules (integers -> i64, dtype=), strided / transposed / 0-d / empty tensors, every
// error status, and the backward of every op against central finite differences (f64).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "baracuda/baracuda.hpp"
#include "gtest_helpers.hpp"
#include "test_support.hpp"

namespace {

using namespace baracuda;
using bt::HostTensor;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr ScanOp kAllOps[] = {ScanOp::cumsum, ScanOp::cumprod, ScanOp::cummax, ScanOp::cummin, ScanOp::logcumsumexp};

ScanDescriptor desc(ScanOp op, const HostTensor& x, int axis, bool exclusive = false, bool reverse = false) {
  ScanDescriptor d;
  d.op = op;
  d.input = x.operand();
  d.axis = axis;
  d.exclusive = exclusive;
  d.reverse = reverse;
  return d;
}

Status run(const ScanDescriptor& d, std::vector<const HostTensor*> ins, std::vector<HostTensor*> outs) {
  auto plan = ScanPlan::select(Stream::cpu(), d);
  if (!plan) return plan.status();
  ScanArgs a;
  for (size_t i = 0; i < ins.size(); ++i) a.inputs[i] = ins[i]->ref();
  for (size_t i = 0; i < outs.size(); ++i) a.outputs[i] = outs[i]->mut();
  return plan->run(Stream::cpu(), {}, a);
}

std::vector<HostTensor> forward(const ScanDescriptor& d, const HostTensor& x) {
  auto sig = infer_signature(d);
  EXPECT_TRUE(sig) << sig.status().to_string();
  if (!sig) return {};
  std::vector<HostTensor> outs;
  for (const Operand& o : sig->outputs) {
    outs.emplace_back(o.dtype, o.shape, o.strides);
    outs.back().fill_bytes(0xA5);  // every element must be written
  }
  std::vector<HostTensor*> po;
  for (auto& o : outs) po.push_back(&o);
  Status s = run(d, {&x}, po);
  EXPECT_TRUE(s.is_ok()) << ScanFamily::describe(d) << ": " << s.to_string();
  if (!s.is_ok()) return {};
  return outs;
}

HostTensor backward(const ScanDescriptor& fwd, const HostTensor& dy, const HostTensor& x) {
  ScanDescriptor d = fwd;
  d.direction = Direction::backward;
  HostTensor dx(x.dtype(), x.shape());
  dx.fill_bytes(0xA5);
  Status s = run(d, {&dy, &x}, {&dx});
  EXPECT_TRUE(s.is_ok()) << ScanFamily::describe(d) << ": " << s.to_string();
  return dx;
}

HostTensor make(DType t, std::vector<int64_t> shape, std::vector<double> v) {
  HostTensor x(t, std::move(shape));
  for (size_t i = 0; i < v.size(); ++i) x.set(static_cast<int64_t>(i), v[i]);
  return x;
}

void expect_values(const HostTensor& t, const std::vector<double>& want, double rtol = 1e-14) {
  ASSERT_EQ(t.numel(), static_cast<int64_t>(want.size()));
  for (int64_t i = 0; i < t.numel(); ++i) EXPECT_TRUE(bt::Close(t.get(i), want[static_cast<size_t>(i)], rtol, 1e-14)) << "element " << i;
}

// ---- the independent definition: for output position i of a line, fold the elements it covers --
struct Expected {
  std::vector<double> values;
  std::vector<double> indices;
};

Expected define(ScanOp op, const HostTensor& x, int axis, bool exclusive, bool reverse) {
  const auto& shape = x.shape();
  const int rank = static_cast<int>(shape.size());
  const int ax = (axis % std::max(rank, 1) + std::max(rank, 1)) % std::max(rank, 1);
  const int64_t n = rank == 0 ? 1 : shape[ax];
  int64_t inner = 1;
  for (int i = ax + 1; i < rank; ++i) inner *= shape[i];
  Expected e;
  e.values.resize(static_cast<size_t>(x.numel()));
  e.indices.resize(e.values.size());
  for (int64_t lin = 0; lin < x.numel(); ++lin) {
    const int64_t i = (lin / inner) % n;
    const int64_t line0 = lin - i * inner;
    // Elements covered by output i, in scan order.
    std::vector<int64_t> pos;
    if (!reverse) {
      for (int64_t j = 0; j < i + (exclusive ? 0 : 1); ++j) pos.push_back(j);
    } else {
      for (int64_t j = n - 1; j > i - (exclusive ? 0 : 1); --j) pos.push_back(j);
    }
    double acc = op == ScanOp::cumprod ? 1.0 : op == ScanOp::cumsum ? 0.0 : 0.0;
    double idx = -1;
    if (op == ScanOp::logcumsumexp) {
      double s = 0;
      for (int64_t j : pos) s += std::exp(x.get(line0 + j * inner));
      acc = std::log(s);
    } else {
      for (int64_t j : pos) {
        const double v = x.get(line0 + j * inner);
        if (op == ScanOp::cumsum) acc += v;
        else if (op == ScanOp::cumprod) acc *= v;
        else {
          const bool better = op == ScanOp::cummax ? v >= acc : v <= acc;
          if (idx < 0 || std::isnan(v) || (!std::isnan(acc) && better)) acc = v, idx = static_cast<double>(j);
        }
      }
    }
    e.values[static_cast<size_t>(lin)] = acc;
    e.indices[static_cast<size_t>(lin)] = idx;
  }
  return e;
}

void fill(HostTensor& t, std::mt19937_64& rng, double lo, double hi) {
  std::uniform_real_distribution<double> u(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.set(i, u(rng));
}

// ---- forward -------------------------------------------------------------------------------------

TEST(ScanCpu, ClosedForms) {
  HostTensor x = make(DType::f64, {2, 5}, {1, 2, 3, 4, 5, 1, 1, 1, 1, 1});
  expect_values(forward(desc(ScanOp::cumsum, x, 1), x)[0], {1, 3, 6, 10, 15, 1, 2, 3, 4, 5});
  expect_values(forward(desc(ScanOp::cumsum, x, 0), x)[0], {1, 2, 3, 4, 5, 2, 3, 4, 5, 6});
  expect_values(forward(desc(ScanOp::cumprod, x, -1), x)[0], {1, 2, 6, 24, 120, 1, 1, 1, 1, 1});
  expect_values(forward(desc(ScanOp::cumsum, x, 1, /*exclusive=*/true), x)[0], {0, 1, 3, 6, 10, 0, 1, 2, 3, 4});
  expect_values(forward(desc(ScanOp::cumsum, x, 1, false, /*reverse=*/true), x)[0], {15, 14, 12, 9, 5, 5, 4, 3, 2, 1});
  expect_values(forward(desc(ScanOp::cumsum, x, 1, true, true), x)[0], {14, 12, 9, 5, 0, 4, 3, 2, 1, 0});
  expect_values(forward(desc(ScanOp::cumprod, x, 1, true), x)[0], {1, 1, 2, 6, 24, 1, 1, 1, 1, 1});
  // logcumsumexp of log(k): log(1 + ... + k); exclusive starts at -inf.
  HostTensor l = make(DType::f64, {4}, {0, std::log(2.0), std::log(3.0), std::log(4.0)});
  expect_values(forward(desc(ScanOp::logcumsumexp, l, 0), l)[0], {0, std::log(3.0), std::log(6.0), std::log(10.0)});
  expect_values(forward(desc(ScanOp::logcumsumexp, l, 0, true), l)[0], {-kInf, 0, std::log(3.0), std::log(6.0)});
  // Large values do not overflow.
  HostTensor big = make(DType::f32, {3}, {1000, 1000, -kInf});
  expect_values(forward(desc(ScanOp::logcumsumexp, big, 0), big)[0], {1000, 1000 + std::log(2.0), 1000 + std::log(2.0)}, 1e-7);
}

TEST(ScanCpu, CummaxTiesTakeTheLastIndexLikeTorch) {
  // torch.cummax(torch.tensor([1., 3., 3., 2., 3.]), 0) -> values [1,3,3,3,3], indices [0,1,2,2,4].
  HostTensor x = make(DType::f32, {5}, {1, 3, 3, 2, 3});
  auto mx = forward(desc(ScanOp::cummax, x, 0), x);
  expect_values(mx[0], {1, 3, 3, 3, 3});
  expect_values(mx[1], {0, 1, 2, 2, 4});
  auto mn = forward(desc(ScanOp::cummin, x, 0), x);
  expect_values(mn[0], {1, 1, 1, 1, 1});
  expect_values(mn[1], {0, 0, 0, 0, 0});
  HostTensor y = make(DType::i32, {5}, {2, 1, 1, 5, 1});
  auto mn2 = forward(desc(ScanOp::cummin, y, 0), y);
  EXPECT_EQ(mn2[0].dtype(), DType::i32);
  expect_values(mn2[0], {2, 1, 1, 1, 1});
  expect_values(mn2[1], {0, 1, 2, 2, 4});
  // Reverse: the scan runs from the end, indices stay original positions, the later element in
  // scan order (the smaller position) wins ties.
  auto rv = forward(desc(ScanOp::cummax, x, 0, false, true), x);
  expect_values(rv[0], {3, 3, 3, 3, 3});
  expect_values(rv[1], {1, 1, 2, 4, 4});
}

TEST(ScanCpu, NaNPropagatesLikeTorch) {
  // torch.cummax([1, nan, 5, nan, 0]) -> values [1, nan, nan, nan, nan], indices [0, 1, 1, 3, 3].
  HostTensor x = make(DType::f32, {5}, {1, kNaN, 5, kNaN, 0});
  auto mx = forward(desc(ScanOp::cummax, x, 0), x);
  expect_values(mx[0], {1, kNaN, kNaN, kNaN, kNaN});
  expect_values(mx[1], {0, 1, 1, 3, 3});
  auto mn = forward(desc(ScanOp::cummin, x, 0), x);
  expect_values(mn[1], {0, 1, 1, 3, 3});
  expect_values(forward(desc(ScanOp::cumsum, x, 0), x)[0], {1, kNaN, kNaN, kNaN, kNaN});
  expect_values(forward(desc(ScanOp::logcumsumexp, x, 0), x)[0], {1, kNaN, kNaN, kNaN, kNaN});
  HostTensor inf = make(DType::f32, {3}, {kInf, kInf, 1});
  expect_values(forward(desc(ScanOp::logcumsumexp, inf, 0), inf)[0], {kInf, kInf, kInf});
}

TEST(ScanCpu, MatchesDefinitionOnEveryAxisAndOption) {
  std::mt19937_64 rng(7);
  HostTensor x(DType::f64, {3, 4, 5});
  fill(x, rng, 0.5, 1.5);
  // Ties for cummax/cummin along axis 1 ([0, 0, 2] and [0, 1, 2]) and axis 0 ([1, 0, 2]).
  x.set(7, x.get(2));
  x.set(22, x.get(2));
  for (ScanOp op : kAllOps)
    for (int axis : {0, 1, 2, -1, -3})
      for (bool exclusive : {false, true})
        for (bool reverse : {false, true}) {
          if (exclusive && (op == ScanOp::cummax || op == ScanOp::cummin)) continue;
          ScanDescriptor d = desc(op, x, axis, exclusive, reverse);
          SCOPED_TRACE(ScanFamily::describe(d));
          auto outs = forward(d, x);
          ASSERT_FALSE(outs.empty());
          Expected e = define(op, x, axis, exclusive, reverse);
          expect_values(outs[0], e.values, 1e-12);
          if (outs.size() == 2) expect_values(outs[1], e.indices);
        }
}

TEST(ScanCpu, StridedAndTransposed) {
  std::mt19937_64 rng(11);
  // A transposed view ([5, 4] with strides [1, 5]) and a view with gaps.
  HostTensor t(DType::f32, {5, 4}, {1, 5});
  fill(t, rng, -2, 2);
  HostTensor g(DType::f32, {3, 6}, {14, 2});
  fill(g, rng, -2, 2);
  for (const HostTensor* x : {&t, &g})
    for (ScanOp op : kAllOps)
      for (int axis : {0, 1}) {
        ScanDescriptor d = desc(op, *x, axis, false, true);
        SCOPED_TRACE(ScanFamily::describe(d));
        auto outs = forward(d, *x);
        ASSERT_FALSE(outs.empty());
        Expected e = define(op, *x, axis, false, true);
        expect_values(outs[0], e.values, 1e-6);
      }
  // Strided outputs.
  HostTensor x = make(DType::f64, {2, 3}, {1, 2, 3, 4, 5, 6});
  ScanDescriptor d = desc(ScanOp::cumsum, x, 1);
  d.outputs = {Operand::tensor(DType::f64, {2, 3}, {1, 2})};
  auto outs = forward(d, x);
  ASSERT_EQ(outs.size(), 1u);
  expect_values(outs[0], {1, 3, 6, 4, 9, 15});
}

TEST(ScanCpu, DtypeRules) {
  HostTensor b = make(DType::boolean, {4}, {1, 0, 1, 1});
  auto s = forward(desc(ScanOp::cumsum, b, 0), b);
  EXPECT_EQ(s[0].dtype(), DType::i64);
  expect_values(s[0], {1, 1, 2, 3});
  HostTensor i = make(DType::i8, {3}, {100, 100, 100});
  auto si = forward(desc(ScanOp::cumsum, i, 0), i);
  EXPECT_EQ(si[0].dtype(), DType::i64);  // no int8 overflow: accumulates in int64
  expect_values(si[0], {100, 200, 300});
  auto pi = forward(desc(ScanOp::cumprod, i, 0), i);
  expect_values(pi[0], {100, 10000, 1000000});
  // dtype= converts first: f32 2.7 -> i32 2 before summing (torch.cumsum(x, 0, dtype=torch.int32)).
  HostTensor f = make(DType::f32, {3}, {2.7, -1.5, 3.9});
  ScanDescriptor d = desc(ScanOp::cumsum, f, 0);
  d.output_dtype = DType::i32;
  auto sf = forward(d, f);
  EXPECT_EQ(sf[0].dtype(), DType::i32);
  expect_values(sf[0], {2, 1, 4});
  d.output_dtype = DType::f64;
  const double f0 = 2.7f, f1 = -1.5f, f2 = 3.9f;  // the f32 inputs, summed in f64
  expect_values(forward(d, f)[0], {f0, f0 + f1, f0 + f1 + f2}, 1e-15);
  // 16-bit floats keep their dtype.
  HostTensor h = make(DType::bf16, {3}, {1, 2, 3});
  auto sh = forward(desc(ScanOp::cumsum, h, 0), h);
  EXPECT_EQ(sh[0].dtype(), DType::bf16);
  expect_values(sh[0], {1, 3, 6});
  // Integer wrap-around like torch's int64.
  HostTensor w = make(DType::i64, {2}, {0, 0});
  w.set_int(0, std::numeric_limits<int64_t>::max());
  w.set_int(1, 1);
  auto sw = forward(desc(ScanOp::cumsum, w, 0), w);
  EXPECT_EQ(sw[0].get_int(1), std::numeric_limits<int64_t>::min());
}

TEST(ScanCpu, ZeroDimAndEmpty) {
  HostTensor s = make(DType::f32, {}, {4});
  for (int axis : {0, -1}) {
    expect_values(forward(desc(ScanOp::cumsum, s, axis), s)[0], {4});
    auto m = forward(desc(ScanOp::cummax, s, axis), s);
    expect_values(m[1], {0});
    expect_values(forward(desc(ScanOp::cumsum, s, axis, true), s)[0], {0});
  }
  for (std::vector<int64_t> shape : {std::vector<int64_t>{0}, {3, 0}, {0, 4}}) {
    HostTensor e(DType::f32, shape);
    for (ScanOp op : kAllOps) {
      auto outs = forward(desc(op, e, -1), e);
      ASSERT_FALSE(outs.empty());
      EXPECT_EQ(outs[0].numel(), 0);
      EXPECT_EQ(outs[0].shape(), shape);
    }
  }
}

// ---- errors --------------------------------------------------------------------------------------

void expect_error(const ScanDescriptor& d, StatusCode code, const std::string& needle) {
  auto plan = ScanPlan::select(Stream::cpu(), d);
  ASSERT_FALSE(plan) << ScanFamily::describe(d);
  EXPECT_EQ(plan.status().code(), code) << plan.status().to_string();
  EXPECT_NE(plan.status().message().find(needle), std::string::npos) << plan.status().to_string();
}

TEST(ScanCpu, DescriptorErrors) {
  HostTensor x(DType::f32, {2, 3});
  expect_error(desc(ScanOp::cumsum, x, 2), StatusCode::invalid_argument, "dim 2 is out of range for rank 2");
  expect_error(desc(ScanOp::cumsum, x, -3), StatusCode::invalid_argument, "dim -3 is out of range");
  HostTensor s(DType::f32, {});
  expect_error(desc(ScanOp::cumsum, s, 1), StatusCode::invalid_argument, "dim 1 is out of range for rank 0");
  expect_error(desc(ScanOp::cummax, x, 0, /*exclusive=*/true), StatusCode::invalid_argument, "exclusive cummax");
  HostTensor i(DType::i32, {4});
  expect_error(desc(ScanOp::logcumsumexp, i, 0), StatusCode::invalid_argument, "needs a floating input");
  ScanDescriptor d = desc(ScanOp::cummax, x, 0);
  d.output_dtype = DType::f64;
  expect_error(d, StatusCode::invalid_argument, "output_dtype is an option of cumsum and cumprod only");
  d = desc(ScanOp::cumsum, x, 0);
  d.output_dtype = DType::boolean;
  expect_error(d, StatusCode::not_supported, "output dtype bool");
  HostTensor f8(DType::f8e4m3, {4});
  expect_error(desc(ScanOp::cumsum, f8, 0), StatusCode::not_supported, "is not supported by scans");
  d = desc(ScanOp::cumsum, i, 0);
  d.direction = Direction::backward;
  expect_error(d, StatusCode::invalid_argument, "backward needs a floating input");
  d = desc(ScanOp::cumsum, x, 0);
  d.direction = Direction::backward;
  d.grad_output = Operand::tensor(DType::f32, {3, 2});
  expect_error(d, StatusCode::invalid_argument, "grad_output must be f32[2, 3]");
  d = desc(ScanOp::cumsum, x, 0);
  d.outputs = {Operand::tensor(DType::f64, {2, 3})};
  expect_error(d, StatusCode::invalid_argument, "output 0 must be f32[2, 3]");
  d = desc(ScanOp::cummax, x, 0);
  d.outputs = {Operand::tensor(DType::f32, {2, 3})};
  expect_error(d, StatusCode::invalid_argument, "expects 2 output layouts, got 1");
  ScanDescriptor bad = desc(ScanOp::cumsum, x, 0);
  bad.op = static_cast<ScanOp>(99);
  expect_error(bad, StatusCode::invalid_argument, "unknown op id 99");
}

TEST(ScanCpu, ArgumentErrors) {
  HostTensor x = make(DType::f32, {2, 3}, {1, 2, 3, 4, 5, 6});
  HostTensor y(DType::f32, {2, 3});
  ScanDescriptor d = desc(ScanOp::cumsum, x, 1);
  auto plan = ScanPlan::select(Stream::cpu(), d);
  ASSERT_TRUE(plan);
  ScanArgs a;
  a.inputs[0] = x.ref();
  Status s = plan->run(Stream::cpu(), {}, a);  // output missing
  EXPECT_EQ(s.code(), StatusCode::invalid_argument) << s.to_string();
  HostTensor wrong(DType::f32, {3, 2});
  a.outputs[0] = wrong.mut();
  s = plan->run(Stream::cpu(), {}, a);
  EXPECT_EQ(s.code(), StatusCode::invalid_argument) << s.to_string();
  a.outputs[0] = TensorMut{const_cast<void*>(x.ref().data), x.ref().dtype, x.ref().device, x.ref().layout};
  s = plan->run(Stream::cpu(), {}, a);  // in place: output overlaps the input
  EXPECT_EQ(s.code(), StatusCode::invalid_argument) << s.to_string();
  EXPECT_NE(s.message().find("overlaps input 0"), std::string::npos) << s.to_string();
  a.outputs[0] = y.mut();
  a.outputs[1] = y.mut();
  s = plan->run(Stream::cpu(), {}, a);  // an extra output
  EXPECT_EQ(s.code(), StatusCode::invalid_argument) << s.to_string();
  a.outputs[1] = {};
  a.inputs[0].data = nullptr;
  s = plan->run(Stream::cpu(), {}, a);
  EXPECT_FALSE(s.is_ok());
}

// ---- backward ------------------------------------------------------------------------------------

// Central finite differences of sum(dy * forward(x)) in f64.
std::vector<double> numeric_grad(const ScanDescriptor& d, HostTensor x, const HostTensor& dy) {
  std::vector<double> g(static_cast<size_t>(x.numel()));
  const double h = 1e-6;
  auto loss = [&](const HostTensor& xx) {
    auto outs = forward(d, xx);
    double l = 0;
    for (int64_t i = 0; i < xx.numel(); ++i)  // exclusive logcumsumexp starts at a constant -inf
      if (std::isfinite(outs[0].get(i))) l += dy.get(i) * outs[0].get(i);
    return l;
  };
  for (int64_t i = 0; i < x.numel(); ++i) {
    const double v = x.get(i);
    x.set(i, v + h);
    const double lp = loss(x);
    x.set(i, v - h);
    const double lm = loss(x);
    x.set(i, v);
    g[static_cast<size_t>(i)] = (lp - lm) / (2 * h);
  }
  return g;
}

TEST(ScanCpu, BackwardMatchesFiniteDifferences) {
  std::mt19937_64 rng(3);
  HostTensor x(DType::f64, {3, 5, 2});
  fill(x, rng, -1.5, 1.5);  // distinct values: cummax/cummin are differentiable there
  HostTensor dy(DType::f64, {3, 5, 2});
  fill(dy, rng, -1, 1);
  for (ScanOp op : kAllOps)
    for (int axis : {0, 1, -1})
      for (bool exclusive : {false, true})
        for (bool reverse : {false, true}) {
          if (exclusive && (op == ScanOp::cummax || op == ScanOp::cummin)) continue;
          ScanDescriptor d = desc(op, x, axis, exclusive, reverse);
          SCOPED_TRACE(ScanFamily::describe(d));
          HostTensor dx = backward(d, dy, x);
          auto want = numeric_grad(d, x, dy);
          for (int64_t i = 0; i < x.numel(); ++i)
            EXPECT_TRUE(bt::Close(dx.get(i), want[static_cast<size_t>(i)], 1e-6, 1e-7)) << "element " << i;
        }
}

TEST(ScanCpu, CumprodBackwardWithZerosIsExact) {
  // x = [2, 0, 3, 0, 5], dy = 1: dx_i = sum_{j>=i} prod_{k<=j, k!=i} x_k.
  HostTensor x = make(DType::f64, {5}, {2, 0, 3, 0, 5});
  HostTensor dy = make(DType::f64, {5}, {1, 1, 1, 1, 1});
  HostTensor dx = backward(desc(ScanOp::cumprod, x, 0), dy, x);
  // dx0 = 1 + 0 + ... = 1; dx1 = 2 + 2*3 + 0 + 0 = 8; dx2 = 0; dx3 = 2*0*3 = 0 ... = 0; dx4 = 0.
  expect_values(dx, {1, 8, 0, 0, 0});
  auto want = numeric_grad(desc(ScanOp::cumprod, x, 0), x, dy);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(bt::Close(dx.get(i), want[i], 1e-6, 1e-7)) << i;
}

TEST(ScanCpu, CummaxBackwardScattersOntoTheIndices) {
  // indices [0, 1, 2, 2, 4] for [1, 3, 3, 2, 3]: dx = [dy0, dy1, dy2 + dy3, 0, dy4].
  HostTensor x = make(DType::f32, {5}, {1, 3, 3, 2, 3});
  HostTensor dy = make(DType::f32, {5}, {1, 2, 4, 8, 16});
  expect_values(backward(desc(ScanOp::cummax, x, 0), dy, x), {1, 2, 12, 0, 16});
}

TEST(ScanCpu, LogcumsumexpBackwardIsStableForLargeInputs) {
  HostTensor x = make(DType::f64, {3}, {1000, 1000, -1000});
  HostTensor dy = make(DType::f64, {3}, {1, 1, 1});
  // y = [1000, 1000+ln2, 1000+ln2]; dx_i = sum_{j>=i} exp(x_i - y_j).
  HostTensor dx = backward(desc(ScanOp::logcumsumexp, x, 0), dy, x);
  expect_values(dx, {2.0, 1.0, 0.0}, 1e-12);
  EXPECT_GE(dx.get(2), 0.0);
}

}  // namespace
