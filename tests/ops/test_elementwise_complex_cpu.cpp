// Complex dtypes (c64, c128) in the elementwise family on the CPU stream: closed forms of every
// complex op, casts between complex and every other dtype, type promotion, strides, broadcasting,
// Python scalars, refusals of the ops without complex math, and the backward against central
// finite differences in c128 under PyTorch's convention (grad = dy * conj(f'(z)), i.e. the
// gradient of L = Re(sum conj(dy) f(z)) as dL/dRe(z) + i dL/dIm(z)).
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <cstring>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include "baracuda/baracuda.hpp"
#include "gtest_helpers.hpp"
#include "test_support.hpp"

namespace {

using namespace baracuda;
using bt::HostTensor;
using cd = std::complex<double>;
using Op = ElementwiseOp;

constexpr double kPi = std::numbers::pi;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

HostTensor ctensor(DType dt, std::vector<cd> values, std::vector<int64_t> shape = {}) {
  if (shape.empty()) shape = {static_cast<int64_t>(values.size())};
  HostTensor t(dt, shape);
  for (size_t i = 0; i < values.size(); ++i) t.set_c(static_cast<int64_t>(i), values[i]);
  return t;
}

ElementwiseDescriptor desc(Op op, std::vector<Operand> inputs, Direction dir = Direction::forward) {
  ElementwiseDescriptor d;
  d.op = op;
  d.direction = dir;
  d.inputs = std::move(inputs);
  return d;
}

// Runs `d` on the CPU with `ins` in kernel order (nullptr: a scalar's slot); outputs allocated
// from the signature (poisoned with 0xFF first, so every element must be written).
Result<std::vector<HostTensor>> run(const ElementwiseDescriptor& d, std::vector<const HostTensor*> ins,
                                    std::array<Scalar, ElementwiseArgs::kMaxInputs> scalars = {}) {
  BARACUDA_ASSIGN_OR_RETURN(ElementwiseSignature sig, infer_signature(d));
  BARACUDA_ASSIGN_OR_RETURN(ElementwisePlan plan, ElementwisePlan::select(Stream::cpu(), d));
  std::vector<HostTensor> outs;
  for (const Operand& o : sig.outputs) {
    outs.emplace_back(o.dtype, o.shape, o.strides);
    outs.back().fill_bytes(0xFF);
  }
  ElementwiseArgs a;
  a.scalars = scalars;
  for (size_t i = 0; i < ins.size(); ++i)
    if (ins[i]) a.inputs[i] = ins[i]->ref();
  for (size_t i = 0; i < outs.size(); ++i) a.outputs[i] = outs[i].mut();
  BARACUDA_TRY(plan.run(Stream::cpu(), {}, a));
  return outs;
}

HostTensor forward1(Op op, const HostTensor& x) {
  auto r = run(desc(op, {x.operand()}), {&x});
  EXPECT_TRUE(r) << op_info(op).name << ": " << r.status().to_string();
  return r ? (*r)[0] : HostTensor();
}
HostTensor forward2(Op op, const HostTensor& a, const HostTensor& b, ElementwiseAttrs attrs = {}) {
  auto d = desc(op, {a.operand(), b.operand()});
  d.attrs = attrs;
  auto r = run(d, {&a, &b});
  EXPECT_TRUE(r) << op_info(op).name << ": " << r.status().to_string();
  return r ? (*r)[0] : HostTensor();
}

testing::AssertionResult CClose(cd got, cd want, double tol) {
  auto part = [&](double g, double w) { return std::isnan(w) ? std::isnan(g) : (std::isinf(w) ? g == w : std::fabs(g - w) <= tol * std::max(1.0, std::fabs(w))); };
  if (part(got.real(), want.real()) && part(got.imag(), want.imag())) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "got (" << got.real() << ", " << got.imag() << "), want (" << want.real() << ", "
                                     << want.imag() << ")";
}

void expect_c(const HostTensor& t, const std::vector<cd>& want, double tol, const std::string& what) {
  ASSERT_EQ(t.numel(), static_cast<int64_t>(want.size())) << what;
  for (int64_t i = 0; i < t.numel(); ++i) EXPECT_TRUE(CClose(t.get_c(i), want[static_cast<size_t>(i)], tol)) << what << " [" << i << "]";
}

const DType kComplex[] = {DType::c64, DType::c128};
double tol_of(DType t) { return t == DType::c64 ? 1e-6 : 1e-14; }

// ---------------------------------------------------------------------------------------------
// Closed forms.

TEST(ElementwiseComplex, UnaryClosedForms) {
  const double sh1 = std::sinh(1.0), ch1 = std::cosh(1.0);
  for (DType dt : kComplex) {
    const double tol = tol_of(dt);
    const std::string n(dtype_name(dt));
    expect_c(forward1(Op::exp, ctensor(dt, {{0, kPi}, {0, kPi / 2}, {1, 0}})), {{-1, 0}, {0, 1}, {std::exp(1.0), 0}}, tol, "exp " + n);
    expect_c(forward1(Op::log, ctensor(dt, {{-1, 0}, {0, 1}, {std::exp(2.0), 0}})), {{0, kPi}, {0, kPi / 2}, {2, 0}}, tol, "log " + n);
    // Branch cut: the sign of a zero imaginary part picks the side.
    expect_c(forward1(Op::sqrt, ctensor(dt, {{-4, 0}, {-4, -0.0}, {0, 2}, {9, 0}})), {{0, 2}, {0, -2}, {1, 1}, {3, 0}}, tol, "sqrt " + n);
    expect_c(forward1(Op::reciprocal, ctensor(dt, {{0, 1}, {1, 1}, {2, 0}})), {{0, -1}, {0.5, -0.5}, {0.5, 0}}, tol, "reciprocal " + n);
    expect_c(forward1(Op::square, ctensor(dt, {{1, 1}, {0, 3}, {2, -1}})), {{0, 2}, {-9, 0}, {3, -4}}, tol, "square " + n);
    expect_c(forward1(Op::neg, ctensor(dt, {{1, -2}})), {{-1, 2}}, 0.0, "neg " + n);
    expect_c(forward1(Op::sin, ctensor(dt, {{0, 1}, {kPi / 2, 0}})), {{0, sh1}, {1, 0}}, tol, "sin " + n);
    expect_c(forward1(Op::cos, ctensor(dt, {{0, 1}, {kPi, 0}})), {{ch1, 0}, {-1, 0}}, tol, "cos " + n);
    // tanh(i pi/4) = i tan(pi/4) = i; tanh(x) for large real x is 1; tanh(1+i) from the definition.
    const cd t11 = (std::exp(cd(2, 2)) - 1.0) / (std::exp(cd(2, 2)) + 1.0);
    expect_c(forward1(Op::tanh, ctensor(dt, {{0, kPi / 4}, {30, 0.5}, {1, 1}})), {{0, 1}, {1, 0}, t11}, tol, "tanh " + n);
    // sigmoid(0) = 1/2; sigmoid(i pi/2) = 1 / (1 - i) = (1 + i)/2.
    expect_c(forward1(Op::sigmoid, ctensor(dt, {{0, 0}, {0, kPi / 2}})), {{0.5, 0}, {0.5, 0.5}}, tol, "sigmoid " + n);
  }
}

TEST(ElementwiseComplex, AbsIsRealOfThePartDtype) {
  for (DType dt : kComplex) {
    HostTensor y = forward1(Op::abs, ctensor(dt, {{3, 4}, {-5, 12}, {0, 0}, {kInf, kNaN}}));
    ASSERT_EQ(y.dtype(), dt == DType::c64 ? DType::f32 : DType::f64);
    EXPECT_EQ(y.get(0), 5.0);
    EXPECT_EQ(y.get(1), 13.0);
    EXPECT_EQ(y.get(2), 0.0);
    EXPECT_EQ(y.get(3), kInf);  // hypot(inf, NaN) = inf
  }
}

TEST(ElementwiseComplex, BinaryClosedForms) {
  for (DType dt : kComplex) {
    const double tol = tol_of(dt);
    const std::string n(dtype_name(dt));
    HostTensor a = ctensor(dt, {{1, 2}, {0, 1}, {3, -1}});
    HostTensor b = ctensor(dt, {{3, 4}, {0, 1}, {-2, 0.5}});
    ElementwiseAttrs two;
    two.alpha = 2.0;
    expect_c(forward2(Op::add, a, b, two), {{7, 10}, {0, 3}, {-1, 0}}, tol, "add alpha=2 " + n);
    expect_c(forward2(Op::sub, a, b, two), {{-5, -6}, {0, -1}, {7, -2}}, tol, "sub alpha=2 " + n);
    expect_c(forward2(Op::mul, a, b), {{-5, 10}, {-1, 0}, {-5.5, 3.5}}, tol, "mul " + n);
    expect_c(forward2(Op::div, a, b), {{11.0 / 25, 2.0 / 25}, {1, 0}, cd(3, -1) / cd(-2, 0.5)}, tol, "div " + n);
    // pow: i^2 = -1, (1+i)^2 = 2i, 4^(1/2) = 2, 0^2 = 0, 0^0 = 1.
    HostTensor base = ctensor(dt, {{0, 1}, {1, 1}, {4, 0}, {0, 0}, {0, 0}});
    HostTensor ex = ctensor(dt, {{2, 0}, {2, 0}, {0.5, 0}, {2, 0}, {0, 0}});
    expect_c(forward2(Op::pow, base, ex), {{-1, 0}, {0, 2}, {2, 0}, {0, 0}, {1, 0}}, 10 * tol, "pow " + n);
    // Division by a complex zero: inf / NaN parts, as the C library.
    HostTensor q = forward2(Op::div, ctensor(dt, {{1, 0}}), ctensor(dt, {{0, 0}}));
    EXPECT_TRUE(std::isinf(q.get_c(0).real()) || std::isnan(q.get_c(0).real())) << n;
  }
}

TEST(ElementwiseComplex, PredicatesAndWhere) {
  for (DType dt : kComplex) {
    HostTensor a = ctensor(dt, {{1, 2}, {1, 2}, {kNaN, 0}, {0, kInf}, {-0.0, 0}});
    HostTensor b = ctensor(dt, {{1, 2}, {1, -2}, {kNaN, 0}, {0, kInf}, {0, -0.0}});
    HostTensor eq = forward2(Op::eq, a, b), ne = forward2(Op::ne, a, b);
    ASSERT_EQ(eq.dtype(), DType::boolean);
    EXPECT_EQ(eq.values(), (std::vector<double>{1, 0, 0, 1, 1}));  // NaN != NaN; -0 == 0
    EXPECT_EQ(ne.values(), (std::vector<double>{0, 1, 1, 0, 0}));
    HostTensor x = ctensor(dt, {{1, 0}, {kNaN, 1}, {1, kNaN}, {kInf, 0}, {0, -kInf}, {0, 0}});
    EXPECT_EQ(forward1(Op::isnan, x).values(), (std::vector<double>{0, 1, 1, 0, 0, 0}));
    EXPECT_EQ(forward1(Op::isinf, x).values(), (std::vector<double>{0, 0, 0, 1, 1, 0}));
    EXPECT_EQ(forward1(Op::isfinite, x).values(), (std::vector<double>{1, 0, 0, 0, 0, 1}));
    HostTensor cond = bt::host(DType::boolean, {3}, {1, 0, 1});
    HostTensor wa = ctensor(dt, {{1, 1}, {2, 2}, {3, 3}}), wb = ctensor(dt, {{-1, 0}, {-2, 0}, {-3, 0}});
    auto r = run(desc(Op::where, {cond.operand(), wa.operand(), wb.operand()}), {&cond, &wa, &wb});
    ASSERT_TRUE(r) << r.status().to_string();
    expect_c((*r)[0], {{1, 1}, {-2, 0}, {3, 3}}, 0.0, "where");
  }
}

// ---------------------------------------------------------------------------------------------
// Promotion, Python scalars, strides, broadcasting, empty.

TEST(ElementwiseComplex, Promotion) {
  auto out_dtype = [](Op op, std::vector<Operand> ins) {
    auto s = infer_signature(desc(op, std::move(ins)));
    EXPECT_TRUE(s) << s.status().to_string();
    return s ? s->outputs[0].dtype : DType::boolean;
  };
  const auto t = [](DType d) { return Operand::tensor(d, {4}); };
  EXPECT_EQ(out_dtype(Op::add, {t(DType::c64), t(DType::f64)}), DType::c128);
  EXPECT_EQ(out_dtype(Op::add, {t(DType::c64), t(DType::f32)}), DType::c64);
  EXPECT_EQ(out_dtype(Op::mul, {t(DType::bf16), t(DType::c64)}), DType::c64);
  EXPECT_EQ(out_dtype(Op::mul, {t(DType::i64), t(DType::c64)}), DType::c64);
  EXPECT_EQ(out_dtype(Op::mul, {t(DType::c128), t(DType::c64)}), DType::c128);
  EXPECT_EQ(out_dtype(Op::add, {t(DType::c64), Operand::scalar(DType::f64)}), DType::c64);
  EXPECT_EQ(out_dtype(Op::div, {t(DType::c128), Operand::scalar(DType::i64)}), DType::c128);
  EXPECT_EQ(out_dtype(Op::abs, {t(DType::c128)}), DType::f64);
  EXPECT_EQ(out_dtype(Op::eq, {t(DType::c64), t(DType::f32)}), DType::boolean);
  EXPECT_EQ(out_dtype(Op::exp, {t(DType::c64)}), DType::c64);
  auto s = infer_signature(desc(Op::exp, {t(DType::c64)}));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->compute, DType::c64);
}

TEST(ElementwiseComplex, MixedRealAndComplexAndScalars) {
  HostTensor a = ctensor(DType::c64, {{1, 2}, {3, -4}});
  HostTensor r = bt::host(DType::f32, {2}, {2, -1});
  expect_c(forward2(Op::mul, a, r), {{2, 4}, {-3, 4}}, 0.0, "c64 * f32");
  expect_c(forward2(Op::sub, r, a), {{1, -2}, {-4, 4}}, 0.0, "f32 - c64");
  // A real Python scalar.
  auto d = desc(Op::mul, {a.operand(), Operand::scalar(DType::f64)});
  auto out = run(d, {&a, nullptr}, {Scalar{}, Scalar::of(1.5)});
  ASSERT_TRUE(out) << out.status().to_string();
  expect_c((*out)[0], {{1.5, 3}, {4.5, -6}}, 0.0, "c64 * 1.5");
  auto d2 = desc(Op::pow, {a.operand(), Operand::scalar(DType::i64)});
  auto out2 = run(d2, {&a, nullptr}, {Scalar{}, Scalar::of(2)});
  ASSERT_TRUE(out2) << out2.status().to_string();
  expect_c((*out2)[0], {{-3, 4}, {-7, -24}}, 1e-5, "c64 ** 2");
}

TEST(ElementwiseComplex, StridedBroadcastAndEmpty) {
  // a: [3, 4] c128 transposed view; b: [4] broadcast along rows; y written transposed.
  HostTensor a(DType::c128, {3, 4}, {1, 3});
  HostTensor b(DType::c128, {4});
  for (int64_t i = 0; i < 12; ++i) a.set_c(i, {static_cast<double>(i), 1.0 - static_cast<double>(i)});
  for (int64_t j = 0; j < 4; ++j) b.set_c(j, {0.5, static_cast<double>(j)});
  auto d = desc(Op::mul, {a.operand(), b.operand()});
  d.outputs = {Operand::tensor(DType::c128, {3, 4}, {1, 3})};
  auto r = run(d, {&a, &b});
  ASSERT_TRUE(r) << r.status().to_string();
  for (int64_t i = 0; i < 12; ++i) EXPECT_TRUE(CClose((*r)[0].get_c(i), a.get_c(i) * b.get_c(i % 4), 1e-15)) << i;
  // Empty.
  HostTensor e(DType::c64, {0, 3});
  auto re = run(desc(Op::exp, {e.operand()}), {&e});
  ASSERT_TRUE(re) << re.status().to_string();
  EXPECT_EQ((*re)[0].numel(), 0);
}

// ---------------------------------------------------------------------------------------------
// Casts.

HostTensor cast(const HostTensor& x, DType to) {
  auto d = desc(Op::cast, {x.operand()});
  d.output_dtype = to;
  auto r = run(d, {&x});
  EXPECT_TRUE(r) << dtype_name(x.dtype()) << "->" << dtype_name(to) << ": " << r.status().to_string();
  return r ? (*r)[0] : HostTensor();
}

TEST(ElementwiseComplex, CastRealToComplexSetsImaginaryZero) {
  for (DType to : kComplex) {
    expect_c(cast(bt::host(DType::f32, {3}, {1.5, -2, kInf}), to), {{1.5, 0}, {-2, 0}, {kInf, 0}}, 0.0, "f32->c");
    expect_c(cast(bt::host(DType::i64, {2}, {-7, 123456}), to), {{-7, 0}, {123456, 0}}, 0.0, "i64->c");
    expect_c(cast(bt::host(DType::boolean, {2}, {1, 0}), to), {{1, 0}, {0, 0}}, 0.0, "bool->c");
    expect_c(cast(bt::host(DType::bf16, {1}, {3.0}), to), {{3, 0}}, 0.0, "bf16->c");
    expect_c(cast(bt::host(DType::f8e4m3, {2}, {448, -0.5}), to), {{448, 0}, {-0.5, 0}}, 0.0, "e4m3->c");
  }
}

TEST(ElementwiseComplex, CastComplexToReal) {
  for (DType from : kComplex) {
    HostTensor z = ctensor(from, {{-2.7, 5}, {0, 1}, {0, 0}, {kNaN, 0}, {1e10, 0}, {3.5, -1}});
    HostTensor f = cast(z, DType::f64);
    EXPECT_EQ(f.get(0), from == DType::c64 ? static_cast<double>(static_cast<float>(-2.7)) : -2.7);  // the real part
    EXPECT_TRUE(std::isnan(f.get(3)));
    EXPECT_EQ(f.get(5), 3.5);
    // Integers truncate the real part (saturating; NaN -> 0), like float -> int.
    EXPECT_EQ(cast(z, DType::i32).values(), (std::vector<double>{-2, 0, 0, 0, 2147483647, 3}));
    EXPECT_EQ(cast(z, DType::i8).values(), (std::vector<double>{-2, 0, 0, 0, 127, 3}));
    // bool: either part nonzero (NaN counts as nonzero).
    EXPECT_EQ(cast(z, DType::boolean).values(), (std::vector<double>{1, 1, 0, 1, 1, 1}));
    // 16-bit and fp8 targets round the real part (fp8 through f32, saturating).
    HostTensor h = cast(ctensor(from, {{1.0 + 1.0 / 2048, 9}, {70000, 0}}), DType::f16);
    EXPECT_EQ(h.get(0), 1.0);  // halfway to the next f16: ties to even
    EXPECT_EQ(h.get(1), kInf);
    HostTensor e = cast(ctensor(from, {{1000, 1}, {-0.3, 2}}), DType::f8e4m3);
    EXPECT_EQ(e.get(0), 448.0);
    EXPECT_EQ(e.get(1), static_cast<double>(fp8_bits_to_float(float_to_fp8_bits(-0.3f, DType::f8e4m3), DType::f8e4m3)));
  }
}

TEST(ElementwiseComplex, CastBetweenComplex) {
  // c128 -> c64 rounds each part to nearest even; c64 -> c128 is exact.
  const double tie = 1.0 + std::ldexp(1.0, -24);            // halfway between two floats: even = 1
  const double above = 1.0 + std::ldexp(1.0, -24) + std::ldexp(1.0, -40);  // just above halfway
  HostTensor z = cast(ctensor(DType::c128, {{tie, -above}, {1e300, -1e-300}}), DType::c64);
  EXPECT_EQ(z.get_c(0).real(), 1.0);
  EXPECT_EQ(z.get_c(0).imag(), -static_cast<double>(std::nextafter(1.0f, 2.0f)));
  EXPECT_EQ(z.get_c(1).real(), kInf);
  EXPECT_EQ(z.get_c(1).imag(), -0.0);
  EXPECT_TRUE(std::signbit(z.get_c(1).imag()));
  HostTensor w = cast(ctensor(DType::c64, {{0.1, -0.2}}), DType::c128);
  EXPECT_EQ(w.get_c(0), cd(static_cast<float>(0.1), static_cast<float>(-0.2)));
}

TEST(ElementwiseComplex, CastEveryPairIsAccepted) {
  for (DType a : kAllDTypes)
    for (DType b : kAllDTypes) {
      if (!is_complex(a) && !is_complex(b)) continue;
      auto d = desc(Op::cast, {Operand::tensor(a, {5})});
      d.output_dtype = b;
      EXPECT_TRUE(infer_signature(d)) << dtype_name(a) << "->" << dtype_name(b);
    }
}

// ---------------------------------------------------------------------------------------------
// Refusals.

TEST(ElementwiseComplex, OpsWithoutComplexMathRefuse) {
  int refused = 0;
  for (const ElementwiseOpInfo& info : all_elementwise_ops()) {
    if (info.category == ElementwiseCategory::cast) continue;
    std::vector<Operand> ins;
    for (int i = 0; i < info.arity; ++i)
      ins.push_back(Operand::tensor((info.category == ElementwiseCategory::where && i == 0) ? DType::boolean : DType::c64, {2, 4}));
    auto s = infer_signature(desc(info.op, ins));
    const bool supported = info.name == "add" || info.name == "sub" || info.name == "mul" || info.name == "div" ||
                           info.name == "neg" || info.name == "reciprocal" || info.name == "square" || info.name == "abs" ||
                           info.name == "exp" || info.name == "log" || info.name == "sqrt" || info.name == "sin" ||
                           info.name == "cos" || info.name == "tanh" || info.name == "sigmoid" || info.name == "pow" ||
                           info.name == "eq" || info.name == "ne" || info.name == "where" || info.name == "isnan" ||
                           info.name == "isinf" || info.name == "isfinite";
    if (supported) {
      EXPECT_TRUE(s) << info.name << ": " << s.status().to_string();
      continue;
    }
    ASSERT_FALSE(s) << info.name << " accepted c64";
    EXPECT_EQ(s.status().code(), StatusCode::not_supported) << info.name;
    EXPECT_NE(s.status().message().find("[elementwise." + std::string(info.name) + "]"), std::string::npos)
        << s.status().message();
    EXPECT_NE(s.status().message().find("c64"), std::string::npos) << s.status().message();
    ++refused;
  }
  EXPECT_GT(refused, 50);
  // div_floor / div_trunc refuse (only true division is defined for complex).
  auto f = infer_signature(desc(Op::div_floor, {Operand::tensor(DType::c128, {3}), Operand::tensor(DType::c128, {3})}));
  EXPECT_EQ(f.status().code(), StatusCode::not_supported);
}

TEST(ElementwiseComplex, BackwardRefusals) {
  const Operand z = Operand::tensor(DType::c64, {3});
  for (Op op : {Op::pow, Op::lt}) {
    auto s = infer_signature(desc(op, {z, z}, Direction::backward));
    EXPECT_FALSE(s) << op_info(op).name;
  }
  auto c = desc(Op::cast, {z}, Direction::backward);
  c.output_dtype = DType::c128;
  EXPECT_FALSE(infer_signature(c));
  // A complex output for a real result.
  auto e = desc(Op::exp, {Operand::tensor(DType::f32, {3})});
  e.output_dtype = DType::c64;
  auto se = infer_signature(e);
  ASSERT_FALSE(se);
  EXPECT_EQ(se.status().code(), StatusCode::not_supported);
  EXPECT_NE(se.status().message().find("c64 output for a real f32 result"), std::string::npos) << se.status().message();
  // Complex results cannot be written to real outputs (PyTorch's can_cast).
  auto m = desc(Op::mul, {z, z});
  m.output_dtype = DType::f32;
  EXPECT_EQ(infer_signature(m).status().code(), StatusCode::invalid_argument);
  // A complex grad_output for a real problem.
  auto g = desc(Op::exp, {Operand::tensor(DType::f32, {3})}, Direction::backward);
  g.grad_output = Operand::tensor(DType::c64, {3});
  EXPECT_EQ(infer_signature(g).status().code(), StatusCode::invalid_argument);
  // Complex scalars do not exist (Scalar kinds are bool, i64, f64).
  EXPECT_FALSE(infer_signature(desc(Op::add, {Operand::tensor(DType::f32, {3}), Operand::scalar(DType::c64)})));
}

// Every complex case the GPU suite builds (test_elementwise_gpu.cpp) is accepted, and the CPU
// reference writes every output element (poisoned with NaN bytes first) with a finite value on
// the ops' test domains.
TEST(ElementwiseComplex, EveryGpuSuiteCaseRunsOnTheReference) {
  const Op ops[] = {Op::add, Op::sub, Op::mul, Op::div, Op::neg, Op::reciprocal, Op::square, Op::abs,
                    Op::exp, Op::log, Op::sqrt, Op::sin, Op::cos, Op::tanh, Op::sigmoid, Op::pow,
                    Op::eq, Op::ne, Op::where, Op::isnan, Op::isinf, Op::isfinite};
  int cases = 0;
  for (Op op : ops) {
    const bool differentiable = op_info(op).differentiable && op != Op::pow;
    for (DType dt : kComplex) {
      for (Direction dir : {Direction::forward, Direction::backward}) {
        if (dir == Direction::backward && !differentiable) continue;
        for (bt::Variant v : {bt::Variant::contiguous, bt::Variant::strided, bt::Variant::broadcast, bt::Variant::scalar}) {
          if (v == bt::Variant::scalar && op_info(op).arity < 2) continue;
          bt::CaseOptions opt;
          opt.n = 33;
          opt.seed = static_cast<uint64_t>(op) * 131 + static_cast<uint64_t>(v);
          auto c = bt::make_case(op, dt, dir, v, opt);
          ASSERT_TRUE(c) << op_info(op).name << " " << dtype_name(dt) << " " << bt::variant_name(v) << ": "
                         << c.status().to_string();
          for (HostTensor& o : c->outputs) o.fill_bytes(0xFF);
          ASSERT_OK(bt::run_case_cpu(*c));
          for (size_t k = 0; k < c->outputs.size(); ++k) {
            if (!c->output_wanted[k]) continue;
            const HostTensor& o = c->outputs[k];
            for (int64_t i = 0; i < o.numel(); ++i) {
              const cd z = o.get_c(i);
              ASSERT_TRUE(std::isfinite(z.real()) && std::isfinite(z.imag()))
                  << c->name << " output " << k << " element " << i << " = (" << z.real() << ", " << z.imag() << ")";
            }
          }
          ++cases;
        }
      }
    }
  }
  EXPECT_GT(cases, 200);
}

// ---------------------------------------------------------------------------------------------
// Backward against finite differences (c128), PyTorch's convention.

// L(inputs) = sum_k Re(conj(dy_k) f(inputs)_k) (abs: dy real, L = sum dy_k |z_k|).
double loss(Op op, const std::vector<HostTensor>& fwd_in, const HostTensor& dy, const ElementwiseAttrs& attrs) {
  std::vector<Operand> ops;
  std::vector<const HostTensor*> ptrs;
  for (const HostTensor& t : fwd_in) {
    ops.push_back(t.operand());
    ptrs.push_back(&t);
  }
  auto d = desc(op, ops);
  d.attrs = attrs;
  auto r = run(d, ptrs);
  EXPECT_TRUE(r) << r.status().to_string();
  if (!r) return kNaN;
  double l = 0.0;
  for (int64_t k = 0; k < dy.numel(); ++k) l += (std::conj(dy.get_c(k)) * (*r)[0].get_c(k)).real();
  return l;
}

void check_backward_fd(Op op, std::vector<HostTensor> fwd_in, const ElementwiseAttrs& attrs = {}) {
  std::vector<Operand> ops;
  for (const HostTensor& t : fwd_in) ops.push_back(t.operand());
  auto fd = desc(op, ops);
  auto fsig = infer_signature(fd);
  ASSERT_TRUE(fsig) << fsig.status().to_string();
  const int64_t n = fsig->outputs[0].shape.empty() ? 1 : fsig->outputs[0].shape[0];
  HostTensor dy(fsig->outputs[0].dtype, {n});
  std::mt19937_64 rng(static_cast<uint64_t>(op) * 7 + 1);
  bt::fill_uniform(dy, rng, -1.5, 1.5);

  auto bd = desc(op, ops, Direction::backward);
  bd.attrs = attrs;
  std::vector<const HostTensor*> ins{&dy};
  for (const HostTensor& t : fwd_in) ins.push_back(&t);
  auto grads = run(bd, ins);
  ASSERT_TRUE(grads) << op_info(op).name << ": " << grads.status().to_string();

  const double h = 1e-6;
  for (size_t i = 0; i < fwd_in.size(); ++i) {
    const bool cplx = is_complex(fwd_in[i].dtype());
    for (int64_t k = 0; k < fwd_in[i].numel(); ++k) {
      cd fdg;
      for (int part = 0; part < (cplx ? 2 : 1); ++part) {
        const cd step = part ? cd(0, h) : cd(h, 0);
        std::vector<HostTensor> plus = fwd_in, minus = fwd_in;
        plus[i].set_c(k, fwd_in[i].get_c(k) + step);
        minus[i].set_c(k, fwd_in[i].get_c(k) - step);
        const double dl = (loss(op, plus, dy, attrs) - loss(op, minus, dy, attrs)) / (2 * h);
        fdg += part ? cd(0, dl) : cd(dl, 0);
      }
      const cd got = (*grads)[i].get_c(k);
      EXPECT_LT(std::abs(got - fdg), 1e-6 * std::max(1.0, std::abs(fdg)))
          << op_info(op).name << " grad of input " << i << " element " << k << ": got (" << got.real() << ", " << got.imag()
          << "), finite differences (" << fdg.real() << ", " << fdg.imag() << ")";
    }
  }
}

TEST(ElementwiseComplex, BackwardMatchesFiniteDifferences) {
  const std::vector<cd> z = {{0.7, -0.4}, {-1.1, 0.9}, {0.3, 1.2}, {1.5, 0.2}};
  const std::vector<cd> w = {{-0.6, 0.8}, {1.3, 0.5}, {-0.4, -1.1}, {0.9, -0.7}};
  for (Op op : {Op::exp, Op::log, Op::sqrt, Op::reciprocal, Op::sin, Op::cos, Op::tanh, Op::sigmoid, Op::neg,
                Op::square, Op::abs})
    check_backward_fd(op, {ctensor(DType::c128, z)});
  ElementwiseAttrs alpha;
  alpha.alpha = -1.5;
  for (Op op : {Op::add, Op::sub, Op::mul, Op::div})
    check_backward_fd(op, {ctensor(DType::c128, z), ctensor(DType::c128, w)}, op == Op::add || op == Op::sub ? alpha : ElementwiseAttrs{});
  // A real input of a complex op gets the real part of the complex gradient (PyTorch).
  check_backward_fd(Op::mul, {ctensor(DType::c128, z), bt::host(DType::f64, {4}, {0.5, -1.0, 2.0, 0.25})});
  check_backward_fd(Op::div, {bt::host(DType::f64, {4}, {0.5, -1.0, 2.0, 0.25}), ctensor(DType::c128, w)});
}

TEST(ElementwiseComplex, AbsBackwardAtZeroIsZero) {
  HostTensor z = ctensor(DType::c64, {{0, 0}, {3, -4}});
  HostTensor dy = bt::host(DType::f32, {2}, {2.0, 10.0});
  auto r = run(desc(Op::abs, {z.operand()}, Direction::backward), {&dy, &z});
  ASSERT_TRUE(r) << r.status().to_string();
  ASSERT_EQ((*r)[0].dtype(), DType::c64);
  expect_c((*r)[0], {{0, 0}, {6, -8}}, 1e-6, "abs backward");
}

TEST(ElementwiseComplex, WhereBackwardRoutesTheGradient) {
  HostTensor cond = bt::host(DType::boolean, {2}, {1, 0});
  HostTensor a = ctensor(DType::c128, {{1, 1}, {2, 2}}), b = ctensor(DType::c128, {{3, 3}, {4, 4}});
  HostTensor dy = ctensor(DType::c128, {{0.5, -1}, {2, 3}});
  auto d = desc(Op::where, {cond.operand(), a.operand(), b.operand()}, Direction::backward);
  auto plan = ElementwisePlan::select(Stream::cpu(), d);
  ASSERT_TRUE(plan) << plan.status().to_string();
  HostTensor ga(DType::c128, {2}), gb(DType::c128, {2});
  ElementwiseArgs args;
  args.inputs = {dy.ref(), cond.ref(), a.ref(), b.ref()};
  args.outputs[1] = ga.mut();
  args.outputs[2] = gb.mut();
  ASSERT_OK(plan->run(Stream::cpu(), {}, args));
  expect_c(ga, {{0.5, -1}, {0, 0}}, 0.0, "where grad a");
  expect_c(gb, {{0, 0}, {2, 3}}, 0.0, "where grad b");
}

}  // namespace
