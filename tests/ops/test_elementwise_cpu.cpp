// The elementwise family through ElementwisePlan on the CPU stream: known values per op family,
// casts, broadcasting, strides, in-place, empty tensors, type promotion, and the backward of every
// differentiable op against central finite differences of the forward plan (f64).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include "gtest_helpers.hpp"
#include "baracuda/baracuda.hpp"
#include "test_support.hpp"

namespace {

using namespace baracuda;
using bt::HostTensor;


constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Runs `d` on the CPU stream. `ins` in kernel order (nullptr for a scalar operand's slot).
Status run(const ElementwiseDescriptor& d, std::vector<const HostTensor*> ins, std::vector<HostTensor*> outs,
           std::array<Scalar, ElementwiseArgs::kMaxInputs> scalars = {}) {
  auto plan = ElementwisePlan::select(Stream::cpu(), d);
  if (!plan) return plan.status();
  ElementwiseArgs a;
  a.scalars = scalars;
  for (size_t i = 0; i < ins.size(); ++i)
    if (ins[i]) a.inputs[i] = ins[i]->ref();
  for (size_t i = 0; i < outs.size(); ++i)
    if (outs[i]) a.outputs[i] = outs[i]->mut();
  return plan->run(Stream::cpu(), {}, a);
}

ElementwiseDescriptor desc(ElementwiseOp op, std::vector<Operand> inputs, Direction dir = Direction::forward) {
  ElementwiseDescriptor d;
  d.op = op;
  d.direction = dir;
  d.inputs = std::move(inputs);
  return d;
}

// Forward of a binary op on two same-shape tensors; returns the output.
HostTensor binary(ElementwiseOp op, const HostTensor& a, const HostTensor& b, ElementwiseAttrs attrs = {}) {
  auto d = desc(op, {a.operand(), b.operand()});
  d.attrs = attrs;
  auto sig = infer_signature(d);
  EXPECT_TRUE(sig) << sig.status().to_string();
  if (!sig) return {};
  HostTensor y(sig->outputs[0].dtype, sig->outputs[0].shape);
  Status s = run(d, {&a, &b}, {&y});
  EXPECT_TRUE(s.is_ok()) << op_info(op).name << ": " << s.to_string();
  return y;
}

HostTensor unary(ElementwiseOp op, const HostTensor& x, ElementwiseAttrs attrs = {}) {
  auto d = desc(op, {x.operand()});
  d.attrs = attrs;
  auto sig = infer_signature(d);
  EXPECT_TRUE(sig) << sig.status().to_string();
  if (!sig) return {};
  HostTensor y(sig->outputs[0].dtype, sig->outputs[0].shape);
  Status s = run(d, {&x}, {&y});
  EXPECT_TRUE(s.is_ok()) << op_info(op).name << ": " << s.to_string();
  return y;
}

// Element-by-element equality with NaN == NaN.
void expect_values(const HostTensor& t, const std::vector<double>& want, double tol = 0.0, const std::string& what = "") {
  ASSERT_EQ(t.numel(), static_cast<int64_t>(want.size())) << what;
  for (int64_t i = 0; i < t.numel(); ++i) {
    double g = t.get(i), w = want[static_cast<size_t>(i)];
    if (std::isnan(w)) {
      EXPECT_TRUE(std::isnan(g)) << what << " element " << i << ": got " << g << ", want NaN";
    } else if (tol == 0.0 || std::isinf(w)) {
      EXPECT_EQ(g, w) << what << " element " << i;
    } else {
      EXPECT_NEAR(g, w, tol * (1 + std::fabs(w))) << what << " element " << i;
    }
  }
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double gelu(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }
double gelu_tanh(double x) {
  return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / std::numbers::pi) * (x + 0.044715 * x * x * x)));
}

// ---------------------------------------------------------------------------------------------
// Op table

TEST(ElementwiseCpu, OpTable) {
  auto ops = all_elementwise_ops();
  ASSERT_GT(ops.size(), 100u);
  for (size_t i = 0; i < ops.size(); ++i) {
    EXPECT_EQ(static_cast<size_t>(ops[i].op), i);
    EXPECT_EQ(&op_info(ops[i].op), &ops[i]);
    auto back = elementwise_op_from_name(ops[i].name);
    ASSERT_TRUE(back.has_value()) << ops[i].name;
    EXPECT_EQ(*back, ops[i].op);
    EXPECT_GE(ops[i].arity, 1);
    EXPECT_LE(ops[i].arity, 3);
    EXPECT_FALSE(ops[i].torch_name.empty()) << ops[i].name;
  }
  EXPECT_FALSE(elementwise_op_from_name("no_such_op").has_value());
  EXPECT_EQ(op_info(ElementwiseOp::gelu_tanh).name, "gelu_tanh");
  EXPECT_EQ(op_info(ElementwiseOp::where).arity, 3);
  EXPECT_EQ(op_info(ElementwiseOp::glu).category, ElementwiseCategory::gated);
  EXPECT_FALSE(op_info(ElementwiseOp::eq).differentiable);
  EXPECT_TRUE(op_info(ElementwiseOp::floor).differentiable);
  EXPECT_EQ(op_info(static_cast<ElementwiseOp>(9999)).name, "invalid");
}

// ---------------------------------------------------------------------------------------------
// Known values

TEST(ElementwiseCpu, AddSubWithAlpha) {
  auto a = bt::host(DType::f32, {3}, {1, 2, 3}), b = bt::host(DType::f32, {3}, {10, 20, 30});
  ElementwiseAttrs at;
  at.alpha = 2.0;
  expect_values(binary(ElementwiseOp::add, a, b, at), {21, 42, 63});
  at.alpha = 0.5;
  expect_values(binary(ElementwiseOp::sub, a, b, at), {-4, -8, -12});
  auto ai = bt::host(DType::i32, {3}, {1, -2, 2147483647}), bi = bt::host(DType::i32, {3}, {10, 20, 1});
  at.alpha = 2.0;
  HostTensor yi = binary(ElementwiseOp::add, ai, bi, at);
  EXPECT_EQ(yi.dtype(), DType::i32);
  EXPECT_EQ(yi.get_int(0), 21);
  EXPECT_EQ(yi.get_int(1), 38);
  EXPECT_EQ(yi.get_int(2), -2147483647);  // wraps like two's complement
  expect_values(binary(ElementwiseOp::mul, a, b), {10, 40, 90});
}

TEST(ElementwiseCpu, DivisionRoundingModes) {
  auto a = bt::host(DType::f32, {5}, {7, -7, 7, -7, 7.5}), b = bt::host(DType::f32, {5}, {2, 2, -2, -2, 2});
  expect_values(binary(ElementwiseOp::div, a, b), {3.5, -3.5, -3.5, 3.5, 3.75});
  expect_values(binary(ElementwiseOp::div_trunc, a, b), {3, -3, -3, 3, 3});
  expect_values(binary(ElementwiseOp::div_floor, a, b), {3, -4, -4, 3, 3});
  expect_values(binary(ElementwiseOp::fmod, a, b), {1, -1, 1, -1, 1.5});
  expect_values(binary(ElementwiseOp::remainder, a, b), {1, 1, -1, -1, 1.5});
  auto ai = bt::host(DType::i32, {4}, {7, -7, 7, -7}), bi = bt::host(DType::i32, {4}, {2, 2, -2, -2});
  HostTensor q = binary(ElementwiseOp::div, ai, bi);
  EXPECT_EQ(q.dtype(), DType::f32);  // true division promotes integers to the default float
  expect_values(q, {3.5, -3.5, -3.5, 3.5});
  expect_values(binary(ElementwiseOp::div_trunc, ai, bi), {3, -3, -3, 3});
  expect_values(binary(ElementwiseOp::div_floor, ai, bi), {3, -4, -4, 3});
  expect_values(binary(ElementwiseOp::fmod, ai, bi), {1, -1, 1, -1});
  expect_values(binary(ElementwiseOp::remainder, ai, bi), {1, 1, -1, -1});
  // Float division by zero follows IEEE.
  auto z = bt::host(DType::f32, {3}, {0, 0, 0}), n = bt::host(DType::f32, {3}, {1, -1, 0});
  expect_values(binary(ElementwiseOp::div, n, z), {kInf, -kInf, kNaN});
}

TEST(ElementwiseCpu, IntegerDivisionByZeroIsZero) {
  for (DType dt : {DType::i64, DType::i32, DType::i16, DType::i8, DType::u8}) {
    auto a = bt::host(dt, {3}, {5, 100, 0}), z = bt::host(dt, {3}, {0, 0, 0});
    for (ElementwiseOp op : {ElementwiseOp::div_floor, ElementwiseOp::div_trunc, ElementwiseOp::fmod, ElementwiseOp::remainder}) {
      HostTensor y = binary(op, a, z);
      EXPECT_EQ(y.dtype(), dt);
      expect_values(y, {0, 0, 0}, 0.0, std::string(op_info(op).name) + " " + std::string(dtype_name(dt)));
    }
  }
  // INT64_MIN / -1 does not trap.
  auto m = bt::host(DType::i64, {1}, {-1}), n1 = bt::host(DType::i64, {1}, {-1});
  m.set_int(0, std::numeric_limits<int64_t>::min());
  EXPECT_EQ(binary(ElementwiseOp::div_trunc, m, n1).get_int(0), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(binary(ElementwiseOp::remainder, m, n1).get_int(0), 0);
}

TEST(ElementwiseCpu, ComparisonsGiveBool) {
  auto a = bt::host(DType::f32, {4}, {1, 2, kNaN, 3}), b = bt::host(DType::f32, {4}, {2, 2, kNaN, 1});
  struct Row {
    ElementwiseOp op;
    std::vector<double> want;
  };
  const Row rows[] = {{ElementwiseOp::eq, {0, 1, 0, 0}}, {ElementwiseOp::ne, {1, 0, 1, 1}},
                      {ElementwiseOp::lt, {1, 0, 0, 0}}, {ElementwiseOp::le, {1, 1, 0, 0}},
                      {ElementwiseOp::gt, {0, 0, 0, 1}}, {ElementwiseOp::ge, {0, 1, 0, 1}},
                      {ElementwiseOp::logical_and, {1, 1, 1, 1}}, {ElementwiseOp::logical_xor, {0, 0, 0, 0}}};
  for (const Row& r : rows) {
    HostTensor y = binary(r.op, a, b);
    EXPECT_EQ(y.dtype(), DType::boolean) << op_info(r.op).name;
    expect_values(y, r.want, 0.0, std::string(op_info(r.op).name));
  }
  // Mixed dtypes compare in the promoted dtype.
  auto i = bt::host(DType::i32, {2}, {1, 2}), f = bt::host(DType::f32, {2}, {1.5, 2});
  expect_values(binary(ElementwiseOp::lt, i, f), {1, 0});
  expect_values(binary(ElementwiseOp::eq, i, f), {0, 1});
  auto z = bt::host(DType::f32, {3}, {0, 1, -0.0}), o = bt::host(DType::i8, {3}, {0, 0, 3});
  expect_values(binary(ElementwiseOp::logical_or, z, o), {0, 1, 1});
  expect_values(unary(ElementwiseOp::logical_not, z), {1, 0, 1});
  auto sp = bt::host(DType::f32, {4}, {kNaN, kInf, -kInf, 1});
  expect_values(unary(ElementwiseOp::isnan, sp), {1, 0, 0, 0});
  expect_values(unary(ElementwiseOp::isinf, sp), {0, 1, 1, 0});
  expect_values(unary(ElementwiseOp::isfinite, sp), {0, 0, 0, 1});
  EXPECT_EQ(unary(ElementwiseOp::isfinite, i).dtype(), DType::boolean);
  expect_values(unary(ElementwiseOp::isfinite, i), {1, 1});
}

TEST(ElementwiseCpu, BitwiseAndShifts) {
  auto a = bt::host(DType::i8, {4}, {0x0F, -1, 5, -128}), b = bt::host(DType::i8, {4}, {0x3C, 0x70, 3, 1});
  expect_values(binary(ElementwiseOp::bitwise_and, a, b), {0x0C, 0x70, 1, 0});
  expect_values(binary(ElementwiseOp::bitwise_or, a, b), {0x3F, -1, 7, -127});
  expect_values(binary(ElementwiseOp::bitwise_xor, a, b), {0x33, -113, 6, -127});
  expect_values(unary(ElementwiseOp::bitwise_not, a), {-16, 0, -6, 127});
  auto ua = bt::host(DType::u8, {3}, {0xF0, 0x0F, 0x81}), ub = bt::host(DType::u8, {3}, {0x3C, 0xFF, 1});
  expect_values(binary(ElementwiseOp::bitwise_and, ua, ub), {0x30, 0x0F, 1});
  expect_values(unary(ElementwiseOp::bitwise_not, ua), {0x0F, 0xF0, 0x7E});
  expect_values(binary(ElementwiseOp::shift_left, ua, ub), {0, 0, 2});  // shifts >= the width give 0; 0x102 wraps
  auto s = bt::host(DType::i32, {4}, {1, -1, -16, 256}), sh = bt::host(DType::i32, {4}, {3, 4, 2, 4});
  expect_values(binary(ElementwiseOp::shift_left, s, sh), {8, -16, -64, 4096});
  expect_values(binary(ElementwiseOp::shift_right, s, sh), {0, -1, -4, 16});
  auto s8 = bt::host(DType::i8, {2}, {64, -128}), one8 = bt::host(DType::i8, {2}, {1, 7});
  expect_values(binary(ElementwiseOp::shift_left, s8, one8), {-128, 0});
  expect_values(binary(ElementwiseOp::shift_right, s8, one8), {32, -1});
  auto u = bt::host(DType::u8, {1}, {0x80}), seven = bt::host(DType::u8, {1}, {7});
  expect_values(binary(ElementwiseOp::shift_right, u, seven), {1});
  auto bt1 = bt::host(DType::boolean, {2}, {1, 0}), bt2 = bt::host(DType::boolean, {2}, {1, 1});
  HostTensor bx = binary(ElementwiseOp::bitwise_xor, bt1, bt2);
  EXPECT_EQ(bx.dtype(), DType::boolean);
  expect_values(bx, {0, 1});
  HostTensor bn = unary(ElementwiseOp::bitwise_not, bt1);  // on bool: logical not (PyTorch)
  EXPECT_EQ(bn.dtype(), DType::boolean);
  expect_values(bn, {0, 1});
}

TEST(ElementwiseCpu, Where) {
  auto c = bt::host(DType::boolean, {3}, {1, 0, 1});
  auto a = bt::host(DType::f32, {3}, {1, 2, 3}), b = bt::host(DType::f32, {3}, {10, 20, 30});
  auto d = desc(ElementwiseOp::where, {c.operand(), a.operand(), b.operand()});
  HostTensor y(DType::f32, {3});
  ASSERT_OK(run(d, {&c, &a, &b}, {&y}));
  expect_values(y, {1, 20, 3});
  // u8 condition, i32 and f32 values promote to f32; scalar b.
  auto cu = bt::host(DType::u8, {3}, {0, 7, 0});
  auto ai = bt::host(DType::i32, {3}, {1, 2, 3});
  auto d2 = desc(ElementwiseOp::where, {cu.operand(), ai.operand(), Operand::scalar(DType::f64)});
  auto sig = infer_signature(d2);
  ASSERT_TRUE(sig);
  EXPECT_EQ(sig->outputs[0].dtype, DType::f32);
  HostTensor y2(DType::f32, {3});
  ASSERT_OK(run(d2, {&cu, &ai, nullptr}, {&y2}, {Scalar{}, Scalar{}, Scalar::of(-0.5)}));
  expect_values(y2, {-0.5, 2, -0.5});
  // Integer where stays integer.
  auto bi = bt::host(DType::i32, {3}, {-1, -2, -3});
  auto d3 = desc(ElementwiseOp::where, {c.operand(), ai.operand(), bi.operand()});
  HostTensor y3(DType::i32, {3});
  ASSERT_OK(run(d3, {&c, &ai, &bi}, {&y3}));
  expect_values(y3, {1, -2, 3});
}

TEST(ElementwiseCpu, Lerp) {
  auto a = bt::host(DType::f32, {2}, {0, 10}), b = bt::host(DType::f32, {2}, {4, 20});
  auto d = desc(ElementwiseOp::lerp, {a.operand(), b.operand(), Operand::scalar(DType::f64)});
  HostTensor y(DType::f32, {2});
  ASSERT_OK(run(d, {&a, &b, nullptr}, {&y}, {Scalar{}, Scalar{}, Scalar::of(0.25)}));
  expect_values(y, {1, 12.5});
  auto w = bt::host(DType::f32, {2}, {0.5, 1.5});
  auto dt = desc(ElementwiseOp::lerp, {a.operand(), b.operand(), w.operand()});
  ASSERT_OK(run(dt, {&a, &b, &w}, {&y}));
  expect_values(y, {2, 25});
}

TEST(ElementwiseCpu, Clamp) {
  auto x = bt::host(DType::f32, {4}, {-3, 0, 5, kNaN});
  auto d = desc(ElementwiseOp::clamp, {x.operand(), Operand::scalar(DType::f64), Operand::scalar(DType::f64)});
  HostTensor y(DType::f32, {4});
  ASSERT_OK(run(d, {&x, nullptr, nullptr}, {&y}, {Scalar{}, Scalar::of(-1.0), Scalar::of(2.0)}));
  expect_values(y, {-1, 0, 2, kNaN});
  auto xt = bt::host(DType::f32, {3}, {-1, 3, 4}), lo = bt::host(DType::f32, {3}, {0, 1, 2}),
       hi = bt::host(DType::f32, {3}, {1, 1, 5});
  auto dt = desc(ElementwiseOp::clamp, {xt.operand(), lo.operand(), hi.operand()});
  HostTensor yt(DType::f32, {3});
  ASSERT_OK(run(dt, {&xt, &lo, &hi}, {&yt}));
  expect_values(yt, {0, 1, 4});
  // Integer clamp with integer scalars stays integer.
  auto xi = bt::host(DType::i16, {3}, {-300, 7, 300});
  auto di = desc(ElementwiseOp::clamp, {xi.operand(), Operand::scalar(DType::i64), Operand::scalar(DType::i64)});
  HostTensor yi(DType::i16, {3});
  ASSERT_OK(run(di, {&xi, nullptr, nullptr}, {&yi}, {Scalar{}, Scalar::of(-5), Scalar::of(100)}));
  expect_values(yi, {-5, 7, 100});
  // clamp_min / clamp_max; maximum propagates NaN, fmax ignores it.
  auto p = bt::host(DType::f32, {3}, {-1, kNaN, 2}), q = bt::host(DType::f32, {3}, {0, 1, kNaN});
  expect_values(binary(ElementwiseOp::clamp_min, p, q), {0, kNaN, kNaN});
  expect_values(binary(ElementwiseOp::maximum, p, q), {0, kNaN, kNaN});
  expect_values(binary(ElementwiseOp::fmax, p, q), {0, 1, 2});
  expect_values(binary(ElementwiseOp::fmin, p, q), {-1, 1, 2});
  expect_values(binary(ElementwiseOp::clamp_max, p, q), {-1, kNaN, kNaN});
}

TEST(ElementwiseCpu, UnaryKnownValues) {
  auto x = bt::host(DType::f64, {5}, {-2.5, -0.5, 0.0, 0.5, 2.5});
  expect_values(unary(ElementwiseOp::round, x), {-2, -0.0, 0, 0, 2});  // half to even
  expect_values(unary(ElementwiseOp::floor, x), {-3, -1, 0, 0, 2});
  expect_values(unary(ElementwiseOp::ceil, x), {-2, -0.0, 0, 1, 3});
  expect_values(unary(ElementwiseOp::trunc, x), {-2, -0.0, 0, 0, 2});
  expect_values(unary(ElementwiseOp::frac, x), {-0.5, -0.5, 0, 0.5, 0.5});
  expect_values(unary(ElementwiseOp::sign, x), {-1, -1, 0, 1, 1});
  expect_values(unary(ElementwiseOp::relu, x), {0, 0, 0, 0.5, 2.5});
  expect_values(unary(ElementwiseOp::exp, x), {std::exp(-2.5), std::exp(-0.5), 1, std::exp(0.5), std::exp(2.5)}, 1e-15);
  expect_values(unary(ElementwiseOp::sigmoid, x), {sigmoid(-2.5), sigmoid(-0.5), 0.5, sigmoid(0.5), sigmoid(2.5)}, 1e-15);
  expect_values(unary(ElementwiseOp::gelu, x), {gelu(-2.5), gelu(-0.5), 0, gelu(0.5), gelu(2.5)}, 1e-14);
  expect_values(unary(ElementwiseOp::gelu_tanh, x),
                {gelu_tanh(-2.5), gelu_tanh(-0.5), 0, gelu_tanh(0.5), gelu_tanh(2.5)}, 1e-14);
  ElementwiseAttrs lr;
  lr.negative_slope = 0.2;
  expect_values(unary(ElementwiseOp::leaky_relu, x, lr), {-0.5, -0.1, 0, 0.5, 2.5}, 1e-15);
  expect_values(unary(ElementwiseOp::hardtanh, x), {-1, -0.5, 0, 0.5, 1});
  expect_values(unary(ElementwiseOp::hardsigmoid, x), {0.5 / 6, 2.5 / 6, 0.5, 3.5 / 6, 5.5 / 6}, 1e-15);
  // Integer inputs of float math promote to f32.
  auto xi = bt::host(DType::i32, {2}, {0, 1});
  HostTensor e = unary(ElementwiseOp::exp, xi);
  EXPECT_EQ(e.dtype(), DType::f32);
  expect_values(e, {1.0, static_cast<double>(static_cast<float>(std::exp(1.0)))});
  // abs / neg on integers keep the dtype and wrap.
  auto m = bt::host(DType::i8, {3}, {-128, -5, 7});
  expect_values(unary(ElementwiseOp::abs, m), {-128, 5, 7});
  expect_values(unary(ElementwiseOp::neg, m), {-128, 5, -7});
  expect_values(unary(ElementwiseOp::square, m), {0, 25, 49});
  // NaN propagation.
  auto nan = bt::host(DType::f32, {1}, {kNaN});
  for (ElementwiseOp op : {ElementwiseOp::relu, ElementwiseOp::relu6, ElementwiseOp::hardtanh, ElementwiseOp::exp,
                           ElementwiseOp::sigmoid, ElementwiseOp::softshrink, ElementwiseOp::abs})
    EXPECT_TRUE(std::isnan(unary(op, nan).get(0))) << op_info(op).name;
}

TEST(ElementwiseCpu, GatedOps) {
  // x: [2, 4] split along the last dim into a = x[:, :2], b = x[:, 2:].
  auto x = bt::host(DType::f64, {2, 4}, {-1.5, 0.5, 2.0, -0.25, 1.25, -2.0, 0.75, 3.0});
  const double a[4] = {-1.5, 0.5, 1.25, -2.0}, b[4] = {2.0, -0.25, 0.75, 3.0};
  struct Row {
    ElementwiseOp op;
    double (*f)(double, double);
  };
  const Row rows[] = {
      {ElementwiseOp::glu, [](double p, double q) { return p * sigmoid(q); }},
      {ElementwiseOp::swiglu, [](double p, double q) { return p * sigmoid(p) * q; }},
      {ElementwiseOp::geglu, [](double p, double q) { return gelu(p) * q; }},
      {ElementwiseOp::geglu_tanh, [](double p, double q) { return gelu_tanh(p) * q; }},
      {ElementwiseOp::reglu, [](double p, double q) { return (p > 0 ? p : 0.0) * q; }},
  };
  for (const Row& r : rows) {
    HostTensor y = unary(r.op, x);
    ASSERT_EQ(y.shape(), (std::vector<int64_t>{2, 2})) << op_info(r.op).name;
    std::vector<double> want;
    for (int i = 0; i < 4; ++i) want.push_back(r.f(a[i], b[i]));
    expect_values(y, want, 1e-14, std::string(op_info(r.op).name));
  }
  // dim = 0: halves are rows.
  auto d = desc(ElementwiseOp::glu, {x.operand()});
  d.attrs.dim = 0;
  HostTensor y0(DType::f64, {1, 4});
  ASSERT_OK(run(d, {&x}, {&y0}));
  expect_values(y0, {-1.5 * sigmoid(1.25), 0.5 * sigmoid(-2.0), 2.0 * sigmoid(0.75), -0.25 * sigmoid(3.0)}, 1e-14);
}

TEST(ElementwiseCpu, PreluForwardBackward) {
  // x: [N=2, C=3, L=2], per-channel weight.
  auto x = bt::host(DType::f64, {2, 3, 2}, {1, -1, -2, 2, -3, 0.5, -1, -1, 4, -0.5, -2, 3});
  auto w = bt::host(DType::f64, {3}, {0.1, 0.2, 0.3});
  auto d = desc(ElementwiseOp::prelu, {x.operand(), w.operand()});
  HostTensor y(DType::f64, {2, 3, 2});
  ASSERT_OK(run(d, {&x, &w}, {&y}));
  std::vector<double> want_y, want_dx, dyv;
  double want_dw[3] = {0, 0, 0};
  for (int64_t i = 0; i < 12; ++i) {
    int c = static_cast<int>((i / 2) % 3);
    double xv = x.get(i), wv = w.get(c), dy = 0.5 + 0.25 * static_cast<double>(i);
    dyv.push_back(dy);
    want_y.push_back(xv > 0 ? xv : wv * xv);
    want_dx.push_back(xv > 0 ? dy : wv * dy);
    if (xv <= 0) want_dw[c] += xv * dy;
  }
  expect_values(y, want_y, 1e-15);
  auto bwd = d;
  bwd.direction = Direction::backward;
  HostTensor dy(DType::f64, {2, 3, 2});
  for (int64_t i = 0; i < 12; ++i) dy.set(i, dyv[static_cast<size_t>(i)]);
  HostTensor dx(DType::f64, {2, 3, 2}), dw(DType::f64, {3});
  ASSERT_OK(run(bwd, {&dy, &x, &w}, {&dx, &dw}));
  expect_values(dx, want_dx, 1e-15);
  expect_values(dw, {want_dw[0], want_dw[1], want_dw[2]}, 1e-14);
  // A single shared weight.
  auto w1 = bt::host(DType::f64, {1}, {0.25});
  auto b1 = desc(ElementwiseOp::prelu, {x.operand(), w1.operand()}, Direction::backward);
  HostTensor dw1(DType::f64, {1});
  ASSERT_OK(run(b1, {&dy, &x, &w1}, {&dx, &dw1}));
  EXPECT_NEAR(dw1.get(0), want_dw[0] + want_dw[1] + want_dw[2], 1e-13);
  // Only the weight gradient wanted.
  HostTensor dw2(DType::f64, {3});
  ASSERT_OK(run(bwd, {&dy, &x, &w}, {nullptr, &dw2}));
  expect_values(dw2, {want_dw[0], want_dw[1], want_dw[2]}, 1e-14);
  // Empty x: the weight gradient is zero.
  HostTensor xe(DType::f64, {0, 3}), dye(DType::f64, {0, 3}), dxe(DType::f64, {0, 3});
  HostTensor dwe = bt::host(DType::f64, {3}, {7, 7, 7});
  auto be = desc(ElementwiseOp::prelu, {xe.operand(), w.operand()}, Direction::backward);
  ASSERT_OK(run(be, {&dye, &xe, &w}, {&dxe, &dwe}));
  expect_values(dwe, {0, 0, 0});
}

// ---------------------------------------------------------------------------------------------
// Casts

const DType kRealDTypes[] = {DType::f64, DType::f32,  DType::f16, DType::bf16, DType::f8e4m3, DType::f8e5m2,
                             DType::i64, DType::i32,  DType::i16, DType::i8,   DType::u8,     DType::boolean};

// The value `v` stored in `src` and converted to `dst`, computed independently where possible.
double expected_cast(double v, DType src, DType dst) {
  HostTensor s(src, {1});
  s.set(0, v);
  const double sv = s.get(0);
  if (dst == DType::boolean) return sv != 0.0 ? 1.0 : 0.0;  // NaN is true
  if (is_floating(dst)) {
    if (dst == DType::f64) return sv;
    if (dst == DType::f32) return static_cast<float>(sv);
    HostTensor t(dst, {1});
    t.set(0, sv);  // RNE / saturation checked separately in ScalarConvert
    return t.get(0);
  }
  const int bits = static_cast<int>(dtype_size(dst)) * 8;
  const bool is_signed = dst != DType::u8;
  if (is_floating(src)) {
    if (std::isnan(sv)) return 0.0;
    double t = std::trunc(sv);
    double lo = is_signed ? -std::ldexp(1.0, bits - 1) : 0.0;
    double hi = is_signed ? std::ldexp(1.0, bits - 1) - 1 : std::ldexp(1.0, bits) - 1;
    return std::min(std::max(t, lo), hi);
  }
  // Integer -> integer wraps.
  auto iv = static_cast<int64_t>(sv);
  if (bits == 64) return static_cast<double>(iv);
  uint64_t mask = (uint64_t{1} << bits) - 1;
  uint64_t u = static_cast<uint64_t>(iv) & mask;
  if (is_signed && (u >> (bits - 1))) return static_cast<double>(static_cast<int64_t>(u) - (int64_t{1} << bits));
  return static_cast<double>(u);
}

TEST(ElementwiseCpu, CastEveryPair) {
  const std::vector<double> values = {0, 1, -2.5, 3.75, 100, 300, -300, 1000, 65, -1};
  int pairs = 0;
  for (DType src : kRealDTypes) {
    for (DType dst : kRealDTypes) {
      HostTensor x(src, {static_cast<int64_t>(values.size())});
      for (size_t i = 0; i < values.size(); ++i) x.set(static_cast<int64_t>(i), values[i]);
      auto d = desc(ElementwiseOp::cast, {x.operand()});
      d.output_dtype = dst;
      HostTensor y(dst, x.shape());
      Status s = run(d, {&x}, {&y});
      ASSERT_TRUE(s.is_ok()) << dtype_name(src) << "->" << dtype_name(dst) << ": " << s.to_string();
      const std::string what = std::string(dtype_name(src)) + "->" + std::string(dtype_name(dst));
      std::vector<double> want;
      for (double v : values) want.push_back(expected_cast(v, src, dst));
      expect_values(y, want, 0.0, what);
      ++pairs;
    }
  }
  EXPECT_EQ(pairs, 144);
}

TEST(ElementwiseCpu, CastSpotChecks) {
  auto cast = [](const HostTensor& x, DType dst, double scale = 1.0) {
    auto d = desc(ElementwiseOp::cast, {x.operand()});
    d.output_dtype = dst;
    d.attrs.scale = scale;
    HostTensor y(dst, x.shape());
    Status s = run(d, {&x}, {&y});
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    return y;
  };
  const double e8 = std::ldexp(1.0, -8);
  auto f = bt::host(DType::f32, {3}, {1 + e8, 1 + 3 * e8, -(1 + e8)});
  expect_values(cast(f, DType::bf16), {1.0, 1 + 4 * e8, -1.0});  // ties to even
  auto big = bt::host(DType::f32, {5}, {1000, -1000, kNaN, kInf, 1e5});
  expect_values(cast(big, DType::f8e4m3), {448, -448, kNaN, 448, 448});
  expect_values(cast(big, DType::f8e5m2), {1024, -1024, kNaN, 57344, 57344});
  expect_values(cast(big, DType::f16), {1000, -1000, kNaN, kInf, kInf});
  auto toi = bt::host(DType::f32, {5}, {300, -300, kNaN, -2.9, 2.9});
  expect_values(cast(toi, DType::i8), {127, -128, 0, -2, 2});
  expect_values(cast(toi, DType::u8), {255, 0, 0, 0, 2});
  expect_values(cast(toi, DType::boolean), {1, 1, 1, 1, 1});
  auto wrap = bt::host(DType::i32, {3}, {300, -1, 200});
  expect_values(cast(wrap, DType::i8), {44, -1, -56});
  expect_values(cast(wrap, DType::u8), {44, 255, 200});
  auto scaled = bt::host(DType::f32, {3}, {1, -3, 0.015625});
  expect_values(cast(scaled, DType::f8e4m3, 100.0), {96, -288, 1.5});  // 100 -> 96, 300 -> 288 (RNE)
}

TEST(ElementwiseCpu, CastWithScaleAndAmax) {
  auto x = bt::host(DType::f32, {4}, {1, -3, 2.5, 0.5});
  auto d = desc(ElementwiseOp::cast, {x.operand()});
  d.output_dtype = DType::bf16;
  d.attrs.scale = 2.0;
  d.attrs.amax = true;
  HostTensor y(DType::bf16, {4}), amax = bt::host(DType::f32, {1}, {-7});
  ASSERT_OK(run(d, {&x}, {&y, &amax}));
  expect_values(y, {2, -6, 5, 1});
  EXPECT_EQ(amax.get(0), 3.0);  // max |x| before scaling
  auto xn = bt::host(DType::f32, {3}, {1, kNaN, -2});
  HostTensor yn(DType::bf16, {3});
  auto dn = d;
  dn.inputs = {xn.operand()};
  ASSERT_OK(run(dn, {&xn}, {&yn, &amax}));
  EXPECT_TRUE(std::isnan(amax.get(0)));
  // Empty input: amax is 0.
  HostTensor xe(DType::f32, {0}), ye(DType::bf16, {0});
  auto de = d;
  de.inputs = {xe.operand()};
  ASSERT_OK(run(de, {&xe}, {&ye, &amax}));
  EXPECT_EQ(amax.get(0), 0.0);
}

// ---------------------------------------------------------------------------------------------
// Layouts

TEST(ElementwiseCpu, Broadcasting) {
  auto a = bt::host(DType::f32, {2, 3}, {1, 2, 3, 4, 5, 6});
  auto b = bt::host(DType::f32, {3}, {10, 20, 30});  // rank-mismatched
  auto d = desc(ElementwiseOp::add, {a.operand(), b.operand()});
  HostTensor y(DType::f32, {2, 3});
  ASSERT_OK(run(d, {&a, &b}, {&y}));
  expect_values(y, {11, 22, 33, 14, 25, 36});
  // The same with an explicit stride-0 view.
  HostTensor b0(DType::f32, {2, 3}, {0, 1});
  for (int64_t i = 0; i < 3; ++i) b0.set(i, b.get(i));
  auto d0 = desc(ElementwiseOp::add, {a.operand(), b0.operand()});
  HostTensor y0(DType::f32, {2, 3});
  ASSERT_OK(run(d0, {&a, &b0}, {&y0}));
  expect_values(y0, {11, 22, 33, 14, 25, 36});
  // Size-1 dims on both sides: an outer product.
  auto col = bt::host(DType::f64, {2, 1}, {2, 3}), row = bt::host(DType::f64, {1, 3}, {1, 10, 100});
  auto dm = desc(ElementwiseOp::mul, {col.operand(), row.operand()});
  HostTensor ym(DType::f64, {2, 3});
  ASSERT_OK(run(dm, {&col, &row}, {&ym}));
  expect_values(ym, {2, 20, 200, 3, 30, 300});
  // Rank 3 against rank 1 with a size-1 leading dim.
  auto r3 = bt::host(DType::f64, {1, 2, 1}, {5, 7});
  auto dr = desc(ElementwiseOp::sub, {r3.operand(), row.operand()});
  HostTensor yr(DType::f64, {1, 2, 3});
  ASSERT_OK(run(dr, {&r3, &row}, {&yr}));
  expect_values(yr, {4, -5, -95, 6, -3, -93});
}

TEST(ElementwiseCpu, NegativeAndArbitraryStrides) {
  // A view going backwards over 1..6.
  HostTensor rev(DType::f32, {6}, {-1});
  for (int64_t i = 0; i < 6; ++i) rev.set(i, static_cast<double>(6 - i));
  const float* storage = reinterpret_cast<const float*>(rev.storage().data());
  EXPECT_EQ(storage[0], 1.0f);  // the view's first element is the storage's last
  EXPECT_EQ(static_cast<const float*>(rev.data()), storage + 5);
  auto d = desc(ElementwiseOp::neg, {rev.operand()});
  d.alignment = 4;  // the view starts 20 bytes into its storage
  HostTensor y(DType::f32, {6});
  ASSERT_OK(run(d, {&rev}, {&y}));
  expect_values(y, {-6, -5, -4, -3, -2, -1});
  // 2-D: rows backwards, every other column.
  HostTensor v(DType::f64, {2, 3}, {-6, 2});
  for (int64_t i = 0; i < 6; ++i) v.set(i, static_cast<double>(i));
  auto w = bt::host(DType::f64, {2, 3}, {10, 10, 10, 20, 20, 20});
  auto d2 = desc(ElementwiseOp::mul, {v.operand(), w.operand()});
  d2.alignment = 8;
  HostTensor y2(DType::f64, {2, 3});
  ASSERT_OK(run(d2, {&v, &w}, {&y2}));
  expect_values(y2, {0, 10, 20, 60, 80, 100});
  // A negative-stride output.
  auto x = bt::host(DType::f64, {4}, {1, 2, 3, 4});
  auto d3 = desc(ElementwiseOp::square, {x.operand()});
  d3.outputs = {Operand::tensor(DType::f64, {4}, {-1})};
  d3.alignment = 8;
  HostTensor yr(DType::f64, {4}, {-1});
  ASSERT_OK(run(d3, {&x}, {&yr}));
  expect_values(yr, {1, 4, 9, 16});
  const double* ys = reinterpret_cast<const double*>(yr.storage().data());
  EXPECT_EQ(ys[0], 16.0);
  EXPECT_EQ(ys[3], 1.0);
}

TEST(ElementwiseCpu, TransposedOutput) {
  auto x = bt::host(DType::f32, {2, 3}, {1, 2, 3, 4, 5, 6});
  auto d = desc(ElementwiseOp::mul, {x.operand(), Operand::scalar(DType::i64)});
  d.outputs = {Operand::tensor(DType::f32, {2, 3}, {1, 2})};
  HostTensor y(DType::f32, {2, 3}, {1, 2});
  ASSERT_OK(run(d, {&x, nullptr}, {&y}, {Scalar{}, Scalar::of(3)}));
  expect_values(y, {3, 6, 9, 12, 15, 18});
  const float* s = reinterpret_cast<const float*>(y.storage().data());
  EXPECT_EQ(std::vector<float>(s, s + 6), (std::vector<float>{3, 12, 6, 15, 9, 18}));  // column-major storage
}

TEST(ElementwiseCpu, InPlace) {
  auto a = bt::host(DType::f32, {4}, {1, 2, 3, 4}), b = bt::host(DType::f32, {4}, {10, 20, 30, 40});
  auto d = desc(ElementwiseOp::add, {a.operand(), b.operand()});
  ElementwiseArgs args;
  args.inputs[0] = a.ref();
  args.inputs[1] = b.ref();
  args.outputs[0] = a.mut();
  auto p = ElementwisePlan::select(Stream::cpu(), d);
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->run(Stream::cpu(), {}, args).is_ok());
  expect_values(a, {11, 22, 33, 44});
  // In-place on a strided view.
  HostTensor v(DType::f64, {3}, {2});
  for (int64_t i = 0; i < 3; ++i) v.set(i, static_cast<double>(i + 1));
  auto ds = desc(ElementwiseOp::exp2, {v.operand()});
  ds.outputs = {v.operand()};
  ElementwiseArgs as;
  as.inputs[0] = v.ref();
  as.outputs[0] = v.mut();
  auto ps = ElementwisePlan::select(Stream::cpu(), ds);
  ASSERT_TRUE(ps) << ps.status().to_string();
  ASSERT_TRUE(ps->run(Stream::cpu(), {}, as).is_ok());
  expect_values(v, {2, 4, 8});
}

TEST(ElementwiseCpu, EmptyTensors) {
  for (std::vector<int64_t> shape : {std::vector<int64_t>{0}, std::vector<int64_t>{3, 0, 2}}) {
    HostTensor a(DType::f32, shape), b(DType::f32, shape), y(DType::f32, shape);
    auto d = desc(ElementwiseOp::atan2, {a.operand(), b.operand()});
    EXPECT_OK(run(d, {&a, &b}, {&y}));
    auto bwd = desc(ElementwiseOp::atan2, {a.operand(), b.operand()}, Direction::backward);
    HostTensor dy(DType::f32, shape), da(DType::f32, shape), db(DType::f32, shape);
    EXPECT_OK(run(bwd, {&dy, &a, &b}, {&da, &db}));
  }
  // Broadcasting against an empty dim gives an empty result.
  HostTensor e(DType::f32, {0, 3}), r = bt::host(DType::f32, {3}, {1, 2, 3});
  auto d = desc(ElementwiseOp::add, {e.operand(), r.operand()});
  auto sig = infer_signature(d);
  ASSERT_TRUE(sig);
  EXPECT_EQ(sig->outputs[0].shape, (std::vector<int64_t>{0, 3}));
  HostTensor y(DType::f32, {0, 3});
  EXPECT_OK(run(d, {&e, &r}, {&y}));
}

TEST(ElementwiseCpu, TypePromotionWithScalars) {
  auto xi = bt::host(DType::i32, {2}, {1, 2});
  auto d = desc(ElementwiseOp::mul, {xi.operand(), Operand::scalar(DType::f64)});
  auto sig = infer_signature(d);
  ASSERT_TRUE(sig);
  ASSERT_EQ(sig->outputs[0].dtype, DType::f32);
  EXPECT_EQ(sig->compute, DType::f32);
  HostTensor y(DType::f32, {2});
  ASSERT_OK(run(d, {&xi, nullptr}, {&y}, {Scalar{}, Scalar::of(2.5)}));
  expect_values(y, {2.5, 5});
  // u8 + int scalar stays u8 and wraps.
  auto u = bt::host(DType::u8, {2}, {1, 250});
  auto du = desc(ElementwiseOp::add, {u.operand(), Operand::scalar(DType::i64)});
  HostTensor yu(DType::u8, {2});
  ASSERT_OK(run(du, {&u, nullptr}, {&yu}, {Scalar{}, Scalar::of(300)}));
  expect_values(yu, {45, 38});
  // The scalar may come first.
  auto ds = desc(ElementwiseOp::sub, {Operand::scalar(DType::i64), xi.operand()});
  HostTensor ys(DType::i32, {2});
  ASSERT_OK(run(ds, {nullptr, &xi}, {&ys}, {Scalar::of(10), Scalar{}}));
  expect_values(ys, {9, 8});
  // bf16 tensor * Python float stays bf16; f16 tensor + 0-dim f64 tensor stays f16.
  auto h = bt::host(DType::bf16, {2}, {1.5, -2});
  auto dh = desc(ElementwiseOp::mul, {h.operand(), Operand::scalar(DType::f64)});
  ASSERT_EQ(infer_signature(dh)->outputs[0].dtype, DType::bf16);
  HostTensor yh(DType::bf16, {2});
  ASSERT_OK(run(dh, {&h, nullptr}, {&yh}, {Scalar{}, Scalar::of(0.5)}));
  expect_values(yh, {0.75, -1});
  auto f16 = bt::host(DType::f16, {2}, {1, 2}), zd = bt::host(DType::f64, {}, {0.25});
  auto dz = desc(ElementwiseOp::add, {f16.operand(), zd.operand()});
  ASSERT_EQ(infer_signature(dz)->outputs[0].dtype, DType::f16);
  HostTensor yz(DType::f16, {2});
  ASSERT_OK(run(dz, {&f16, &zd}, {&yz}));
  expect_values(yz, {1.25, 2.25});
  // bool tensor + bool scalar stays bool (nonzero -> true).
  auto bb = bt::host(DType::boolean, {2}, {1, 0});
  auto db = desc(ElementwiseOp::add, {bb.operand(), Operand::scalar(DType::boolean)});
  ASSERT_EQ(infer_signature(db)->outputs[0].dtype, DType::boolean);
  HostTensor yb(DType::boolean, {2});
  ASSERT_OK(run(db, {&bb, nullptr}, {&yb}, {Scalar{}, Scalar::of(true)}));
  expect_values(yb, {1, 1});
  // An output dtype override widens.
  auto a32 = bt::host(DType::f32, {1}, {0.1f});
  auto dw = desc(ElementwiseOp::add, {a32.operand(), a32.operand()});
  dw.output_dtype = DType::f64;
  HostTensor y64(DType::f64, {1});
  ASSERT_OK(run(dw, {&a32, &a32}, {&y64}));
  EXPECT_EQ(y64.get(0), 2.0 * static_cast<double>(0.1f));
}

TEST(ElementwiseCpu, BackwardKnownValues) {
  // maximum ties split the gradient; clamp sends it to the active bound.
  auto a = bt::host(DType::f64, {3}, {1, 2, 3}), b = bt::host(DType::f64, {3}, {1, 5, 0});
  auto dy = bt::host(DType::f64, {3}, {2, 2, 2});
  auto d = desc(ElementwiseOp::maximum, {a.operand(), b.operand()}, Direction::backward);
  HostTensor da(DType::f64, {3}), db(DType::f64, {3});
  ASSERT_OK(run(d, {&dy, &a, &b}, {&da, &db}));
  expect_values(da, {1, 0, 2});
  expect_values(db, {1, 2, 0});
  auto t = desc(ElementwiseOp::tanh, {a.operand()}, Direction::backward);
  HostTensor dx(DType::f64, {3});
  ASSERT_OK(run(t, {&dy, &a}, {&dx}));
  expect_values(dx, {2 * (1 - std::pow(std::tanh(1), 2)), 2 * (1 - std::pow(std::tanh(2), 2)),
                     2 * (1 - std::pow(std::tanh(3), 2))}, 1e-14);
  // A grad_output of another dtype than the result.
  auto g = desc(ElementwiseOp::square, {a.operand()}, Direction::backward);
  g.grad_output = Operand::tensor(DType::f32, {3});
  auto dy32 = bt::host(DType::f32, {3}, {1, 0.5, -1});
  ASSERT_OK(run(g, {&dy32, &a}, {&dx}));
  expect_values(dx, {2, 2, -6});
}

// ---------------------------------------------------------------------------------------------
// Backward of every differentiable op vs central finite differences (f64).

struct FdStats {
  int cases = 0;
  int gradients = 0;
};

// y = forward(case inputs with one input replaced), from a backward case.
HostTensor forward_of(const bt::Case& c, int replaced, const HostTensor* with) {
  ElementwiseDescriptor f = c.desc;
  f.direction = Direction::forward;
  f.grad_output.reset();
  f.outputs.clear();
  auto sig = infer_signature(f);
  EXPECT_TRUE(sig) << sig.status().to_string();
  HostTensor y(sig->outputs[0].dtype, sig->outputs[0].shape);
  auto p = ElementwisePlan::select(Stream::cpu(), f);
  EXPECT_TRUE(p) << p.status().to_string();
  ElementwiseArgs a;
  a.scalars = c.scalars;
  for (size_t k = 1; k < c.inputs.size(); ++k) {
    if (c.input_is_scalar[k]) continue;
    a.inputs[k - 1] = (static_cast<int>(k - 1) == replaced ? *with : c.inputs[k]).ref();
  }
  a.outputs[0] = y.mut();
  Status s = p->run(Stream::cpu(), {}, a);
  EXPECT_TRUE(s.is_ok()) << s.to_string();
  return y;
}

// Copy of `x` with logical elements selected by `pick` shifted by `h` (idempotent for stride-0 views).
template <class Pick>
HostTensor shifted(const HostTensor& x, double h, Pick pick) {
  HostTensor out = x;
  for (int64_t i = 0; i < x.numel(); ++i)
    if (pick(i)) out.set(i, x.get(i) + h);
  return out;
}

void check_backward_fd(bt::Case& c, FdStats& stats) {
  SCOPED_TRACE(c.name);
  const ElementwiseOpInfo& info = op_info(c.desc.op);
  ASSERT_TRUE(bt::run_case_cpu(c).is_ok()) << bt::run_case_cpu(c).to_string();
  ++stats.cases;
  const double h = 1e-6;
  const HostTensor& dy = c.inputs[0];
  const bool gated = info.category == ElementwiseCategory::gated;
  const bool prelu = info.category == ElementwiseCategory::prelu;
  for (size_t o = 0; o < c.outputs.size(); ++o) {
    if (!c.output_wanted[o]) continue;
    const int in = static_cast<int>(o);
    const HostTensor& x = c.inputs[o + 1];
    const HostTensor& g = c.outputs[o];
    ++stats.gradients;
    if (prelu && o == 1) {
      // dweight[k] = sum over elements of dy * dy/dw[k].
      for (int64_t k = 0; k < x.numel(); ++k) {
        auto is_k = [k](int64_t i) { return i == k; };
        HostTensor wp = shifted(x, h, is_k), wm = shifted(x, -h, is_k);
        HostTensor yp = forward_of(c, in, &wp), ym = forward_of(c, in, &wm);
        double fd = 0;
        for (int64_t e = 0; e < yp.numel(); ++e) fd += dy.get(e) * (yp.get(e) - ym.get(e)) / (2 * h);
        EXPECT_NEAR(g.get(k), fd, 1e-6 * (1 + std::fabs(fd))) << "dweight[" << k << "]";
      }
      continue;
    }
    if (gated) {
      const int64_t width = x.shape().back(), half = width / 2;
      for (int side = 0; side < 2; ++side) {
        auto pick = [&](int64_t i) { return (i % width) / half == side; };
        HostTensor xp = shifted(x, h, pick), xm = shifted(x, -h, pick);
        HostTensor yp = forward_of(c, in, &xp), ym = forward_of(c, in, &xm);
        for (int64_t i = 0; i < x.numel(); ++i) {
          if (!pick(i)) continue;
          int64_t e = (i / width) * half + (i % half);
          double fd = dy.get(e) * (yp.get(e) - ym.get(e)) / (2 * h);
          ASSERT_NEAR(g.get(i), fd, 1e-6 * (1 + std::fabs(fd))) << "grad " << o << " element " << i;
        }
      }
      continue;
    }
    auto all = [](int64_t) { return true; };
    HostTensor xp = shifted(x, h, all), xm = shifted(x, -h, all);
    HostTensor yp = forward_of(c, in, &xp), ym = forward_of(c, in, &xm);
    ASSERT_EQ(g.numel(), yp.numel());
    for (int64_t e = 0; e < g.numel(); ++e) {
      double fd = dy.get(e) * (yp.get(e) - ym.get(e)) / (2 * h);
      ASSERT_NEAR(g.get(e), fd, 1e-6 * (1 + std::fabs(fd)))
          << "grad " << o << " element " << e;
    }
  }
  // Unwanted gradients are skipped: dropping the first wanted gradient leaves the others unchanged.
  int wanted = 0;
  for (bool w : c.output_wanted) wanted += w;
  if (wanted >= 2) {
    bt::Case partial = c;
    size_t drop = 0;
    while (!partial.output_wanted[drop]) ++drop;
    partial.output_wanted[drop] = false;
    for (size_t o = 0; o < partial.outputs.size(); ++o) partial.outputs[o].fill_bytes(0xFF);
    ASSERT_TRUE(bt::run_case_cpu(partial).is_ok());
    for (size_t o = 0; o < c.outputs.size(); ++o) {
      if (!partial.output_wanted[o]) continue;
      auto cmp = bt::compare(partial.outputs[o], c.outputs[o], {0.0, 0.0});
      EXPECT_EQ(cmp.mismatches, 0) << "output " << o << ": " << cmp.to_string();
    }
    // The dropped output's buffer was not given, so it still holds the poison.
    const auto* bytes = reinterpret_cast<const uint8_t*>(partial.outputs[drop].storage().data());
    EXPECT_EQ(bytes[0], 0xFF);
  }
}

TEST(ElementwiseCpu, BackwardOfEveryOpMatchesFiniteDifferences) {
  FdStats stats;
  int ops = 0;
  for (const ElementwiseOpInfo& info : all_elementwise_ops()) {
    if (!info.differentiable) continue;
    ++ops;
    if (info.category == ElementwiseCategory::cast) {
      for (double scale : {1.0, 2.5}) {
        bt::CaseOptions opt;
        opt.n = 16;
        auto c = bt::make_cast_case(DType::f64, DType::f64, Direction::backward, bt::Variant::contiguous, opt, scale);
        ASSERT_TRUE(c) << c.status().to_string();
        check_backward_fd(*c, stats);
      }
      continue;
    }
    for (bt::Variant v : {bt::Variant::contiguous, bt::Variant::broadcast, bt::Variant::strided, bt::Variant::scalar}) {
      if (v == bt::Variant::scalar && (info.arity < 2 || info.category == ElementwiseCategory::prelu)) continue;
      bt::CaseOptions opt;
      opt.n = 16;
      opt.gated_half = 3;
      opt.seed = 1000 + static_cast<uint64_t>(info.op) * 7 + static_cast<uint64_t>(v);
      auto c = bt::make_case(info.op, DType::f64, Direction::backward, v, opt);
      ASSERT_TRUE(c) << info.name << " " << bt::variant_name(v) << ": " << c.status().to_string();
      check_backward_fd(*c, stats);
      if (HasFatalFailure()) return;
    }
  }
  EXPECT_GT(ops, 90);
  EXPECT_GT(stats.cases, 3 * ops);
  EXPECT_GT(stats.gradients, stats.cases);
}

// The CPU plan agrees with itself across layouts: strided/broadcast cases equal the same values
// computed contiguously (a check of bind/odometer logic independent of the math).
TEST(ElementwiseCpu, LayoutsAgreeWithContiguous) {
  int checked = 0;
  for (const ElementwiseOpInfo& info : all_elementwise_ops()) {
    if (info.category == ElementwiseCategory::cast) continue;
    for (bt::Variant v : {bt::Variant::strided, bt::Variant::broadcast}) {
      bt::CaseOptions opt;
      opt.seed = 77;
      auto c = bt::make_case(info.op, DType::f64, Direction::forward, v, opt);
      if (!c) {
        ASSERT_TRUE(info.category == ElementwiseCategory::integer) << info.name << ": " << c.status().to_string();
        continue;
      }
      ASSERT_TRUE(bt::run_case_cpu(*c).is_ok()) << c->name;
      // Same values, densely laid out (gated ops: the dense copy keeps the split dim).
      bt::Case dense = *c;
      dense.desc.outputs.clear();
      for (size_t k = 0; k < dense.inputs.size(); ++k) {
        if (dense.input_is_scalar[k]) continue;
        HostTensor t(c->inputs[k].dtype(), c->inputs[k].shape());
        for (int64_t i = 0; i < t.numel(); ++i) t.set(i, c->inputs[k].get(i));
        dense.desc.inputs[k] = t.operand();
        dense.inputs[k] = std::move(t);
      }
      dense.outputs[0] = HostTensor(c->outputs[0].dtype(), c->outputs[0].shape());
      ASSERT_TRUE(bt::run_case_cpu(dense).is_ok()) << c->name;
      auto cmp = bt::compare(c->outputs[0], dense.outputs[0], {0.0, 0.0});
      EXPECT_EQ(cmp.mismatches, 0) << c->name << ": " << cmp.to_string();
      ++checked;
    }
  }
  EXPECT_GT(checked, 200);
}

}  // namespace
