// The softmax family through SoftmaxPlan on the CPU stream: closed forms, every dtype, every dim
// (negative too), strided / transposed inputs and outputs, temperature, additive and boolean masks
// (broadcast), torch's special values (NaN, +-inf, fully masked rows), dtype=, empty and 0-d
// tensors, every error status, and the backward against central finite differences of the
// forward plan in f64.
//
// Expected values come from an independent computation in this file: each row is gathered through
// HostTensor's logical (row-major) indexing and put through the textbook formulas.
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

struct Options {
  double temperature = 1.0;
  const HostTensor* mask = nullptr;
  std::optional<DType> output_dtype;
};

SoftmaxDescriptor make_desc(SoftmaxOp op, const HostTensor& x, int dim, const Options& o = {},
                            Direction dir = Direction::forward) {
  SoftmaxDescriptor d;
  d.op = op;
  d.direction = dir;
  d.input = x.operand();
  d.dim = dim;
  d.temperature = o.temperature;
  if (o.mask) d.mask = o.mask->operand();
  d.output_dtype = o.output_dtype;
  return d;
}

Status run_plan(const SoftmaxDescriptor& d, std::vector<const HostTensor*> ins, HostTensor& out) {
  auto plan = SoftmaxPlan::select(Stream::cpu(), d);
  if (!plan) return plan.status();
  SoftmaxArgs a;
  for (size_t i = 0; i < ins.size(); ++i) a.inputs[i] = ins[i]->ref();
  a.outputs[0] = out.mut();
  return plan->run(Stream::cpu(), {}, a);
}

int64_t prod(const std::vector<int64_t>& s, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to; ++i) p *= s[i];
  return p;
}

// Logical index of the mask element that x's logical element `lin` reads (right-aligned broadcast).
int64_t mask_index(const std::vector<int64_t>& xs, const std::vector<int64_t>& ms, int64_t lin) {
  std::vector<int64_t> idx(xs.size());
  for (size_t d = xs.size(); d-- > 0;) {
    idx[d] = lin % xs[d];
    lin /= xs[d];
  }
  int64_t m = 0;
  const size_t lead = xs.size() - ms.size();
  for (size_t d = 0; d < ms.size(); ++d) m = m * ms[d] + (ms[d] == 1 ? 0 : idx[lead + d]);
  return m;
}

// The independent forward: textbook formulas per row, in double.
std::vector<double> expected_forward(SoftmaxOp op, const HostTensor& x, int dim, const Options& o = {}) {
  const auto& s = x.shape();
  const int rank = static_cast<int>(s.size());
  const int d = rank == 0 ? 0 : (dim < 0 ? dim + rank : dim);
  const int64_t n = rank == 0 ? 1 : s[d];
  const int64_t inner = rank == 0 ? 1 : prod(s, d + 1, s.size());
  const int64_t outer = rank == 0 ? 1 : prod(s, 0, d);
  const DType out_t = o.output_dtype.value_or(x.dtype());
  std::vector<double> y(static_cast<size_t>(x.numel()));
  for (int64_t a = 0; a < outer; ++a)
    for (int64_t c = 0; c < inner; ++c) {
      std::vector<double> z(n);
      std::vector<int64_t> lin(n);
      for (int64_t i = 0; i < n; ++i) {
        lin[i] = (a * n + i) * inner + c;
        double v = x.get(lin[i]);
        if (out_t != x.dtype()) {  // dtype= converts first
          HostTensor r(out_t, {1});
          r.set(0, v);
          v = r.get(0);
        }
        z[i] = v / o.temperature;
        if (o.mask) {
          const double mv = o.mask->get(mask_index(s, o.mask->shape(), lin[i]));
          if (o.mask->dtype() == DType::boolean) z[i] = mv != 0 ? z[i] : -kInf;
          else z[i] += mv;
        }
      }
      double m = -kInf;
      bool nan = false;
      for (double v : z) {
        nan = nan || std::isnan(v);
        m = std::max(m, v);
      }
      double sum = 0;
      for (double v : z) sum += std::exp(v - m);
      for (int64_t i = 0; i < n; ++i) {
        double r = op == SoftmaxOp::softmax ? std::exp(z[i] - m) / sum : z[i] - m - std::log(sum);
        y[lin[i]] = nan ? kNaN : r;
      }
    }
  return y;
}

double tol_for(DType t) {
  switch (t) {
    case DType::f64: return 1e-12;
    case DType::f32: return 1e-6;
    default: return 1e-2;
  }
}

void expect_values(const HostTensor& got, const std::vector<double>& want, double tol, const std::string& what) {
  ASSERT_EQ(got.numel(), static_cast<int64_t>(want.size())) << what;
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double g = got.get(i), w = want[i];
    if (std::isnan(w)) {
      EXPECT_TRUE(std::isnan(g)) << what << " element " << i << " got " << g << " want NaN";
    } else if (std::isinf(w)) {
      EXPECT_EQ(g, w) << what << " element " << i;
    } else {
      EXPECT_NEAR(g, w, tol * (1 + std::fabs(w))) << what << " element " << i;
    }
  }
}

HostTensor random_tensor(DType t, std::vector<int64_t> shape, uint64_t seed, std::vector<int64_t> strides = {},
                         double lo = -4, double hi = 4) {
  HostTensor x(t, std::move(shape), std::move(strides));
  std::mt19937_64 rng(seed);
  bt::fill_uniform(x, rng, lo, hi);
  return x;
}

HostTensor output_for(const SoftmaxDescriptor& d) {
  auto sig = infer_signature(d);
  EXPECT_TRUE(sig.has_value()) << sig.status().message();
  const Operand& o = sig->outputs[0];
  HostTensor out(o.dtype, o.shape, o.strides);
  out.fill_bytes(0xFF);  // poisoned: every element must be written
  return out;
}

const SoftmaxOp kOps[] = {SoftmaxOp::softmax, SoftmaxOp::log_softmax};
const char* op_name(SoftmaxOp op) { return op == SoftmaxOp::softmax ? "softmax" : "log_softmax"; }

// ------------------------------------------------------------------------------------------------

TEST(SoftmaxCpu, ClosedForm) {
  // exp(z) proportional to 1, 2, 3: softmax = 1/6, 2/6, 3/6 whatever the shift.
  HostTensor x = bt::host(DType::f64, {2, 3}, {0, std::log(2.0), std::log(3.0), 10, 10 + std::log(2.0), 10 + std::log(3.0)});
  HostTensor y(DType::f64, {2, 3});
  ASSERT_OK(run_plan(make_desc(SoftmaxOp::softmax, x, -1), {&x}, y));
  for (int r = 0; r < 2; ++r)
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(bt::Close(y.get(r * 3 + i), (i + 1) / 6.0, 1e-14));
  ASSERT_OK(run_plan(make_desc(SoftmaxOp::log_softmax, x, 1), {&x}, y));
  for (int r = 0; r < 2; ++r)
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(bt::Close(y.get(r * 3 + i), std::log((i + 1) / 6.0), 1e-14));
  // Along dim 0: two equal entries give 1/2 each.
  HostTensor e = bt::host(DType::f32, {2, 2}, {5, -1, 5, -1});
  HostTensor ye(DType::f32, {2, 2});
  ASSERT_OK(run_plan(make_desc(SoftmaxOp::softmax, e, 0), {&e}, ye));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(ye.get(i), 0.5);
}

TEST(SoftmaxCpu, ZeroDimAndWidthOne) {
  HostTensor s = bt::host(DType::f32, {}, {3.5});
  HostTensor y(DType::f32, {});
  ASSERT_OK(run_plan(make_desc(SoftmaxOp::softmax, s, 0), {&s}, y));
  EXPECT_EQ(y.get(0), 1.0);
  ASSERT_OK(run_plan(make_desc(SoftmaxOp::log_softmax, s, -1), {&s}, y));
  EXPECT_EQ(y.get(0), 0.0);
  HostTensor c = random_tensor(DType::bf16, {5, 1}, 3);
  HostTensor yc(DType::bf16, {5, 1});
  ASSERT_OK(run_plan(make_desc(SoftmaxOp::softmax, c, 1), {&c}, yc));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(yc.get(i), 1.0);
}

TEST(SoftmaxCpu, EveryDtypeDimAndLayout) {
  const DType dtypes[] = {DType::f64, DType::f32, DType::f16, DType::bf16};
  uint64_t seed = 10;
  for (SoftmaxOp op : kOps)
    for (DType t : dtypes)
      for (int dim : {0, 1, 2, -1, -2, -3}) {
        const std::string what = std::string(op_name(op)) + " " + std::string(dtype_name(t)) + " dim " + std::to_string(dim);
        // Contiguous.
        HostTensor x = random_tensor(t, {3, 5, 7}, ++seed);
        SoftmaxDescriptor d = make_desc(op, x, dim);
        HostTensor y = output_for(d);
        ASSERT_OK(run_plan(d, {&x}, y));
        expect_values(y, expected_forward(op, x, dim), tol_for(t), what + " contiguous");
        // Permuted (transposed storage), every-other-element views, and a strided output.
        HostTensor xp = random_tensor(t, {3, 5, 7}, ++seed, {1, 21, 3});
        HostTensor xs = random_tensor(t, {3, 5, 7}, ++seed, {140, 28, 2});
        for (const HostTensor* in : {&xp, &xs}) {
          SoftmaxDescriptor ds = make_desc(op, *in, dim);
          ds.output = Operand::tensor(t, {3, 5, 7}, {1, 3, 15});
          HostTensor ys = output_for(ds);
          ASSERT_OK(run_plan(ds, {in}, ys));
          expect_values(ys, expected_forward(op, *in, dim), tol_for(t), what + " strided");
        }
      }
}

TEST(SoftmaxCpu, SoftmaxRowsSumToOne) {
  HostTensor x = random_tensor(DType::f32, {4, 1000}, 77, {}, -30, 30);
  HostTensor y(DType::f32, {4, 1000});
  ASSERT_OK(run_plan(make_desc(SoftmaxOp::softmax, x, 1), {&x}, y));
  for (int r = 0; r < 4; ++r) {
    double s = 0;
    for (int i = 0; i < 1000; ++i) {
      EXPECT_GE(y.get(r * 1000 + i), 0.0);
      s += y.get(r * 1000 + i);
    }
    EXPECT_NEAR(s, 1.0, 1e-5);
  }
}

TEST(SoftmaxCpu, Temperature) {
  for (SoftmaxOp op : kOps)
    for (double t : {0.25, 1.0, 3.0}) {
      HostTensor x = random_tensor(DType::f64, {4, 9}, 5);
      Options o;
      o.temperature = t;
      HostTensor y(DType::f64, {4, 9});
      ASSERT_OK(run_plan(make_desc(op, x, -1, o), {&x}, y));
      // Independently: scale x first, then temperature 1.
      HostTensor xs(DType::f64, {4, 9});
      for (int i = 0; i < 36; ++i) xs.set(i, x.get(i) / t);
      expect_values(y, expected_forward(op, xs, -1), 1e-12, std::string(op_name(op)) + " T=" + std::to_string(t));
    }
}

TEST(SoftmaxCpu, Masks) {
  for (SoftmaxOp op : kOps) {
    HostTensor x = random_tensor(DType::f32, {2, 3, 6}, 21);
    // Boolean, broadcast over the batch dim; additive, broadcast over rows; full-rank f16 additive.
    HostTensor bm(DType::boolean, {3, 6});
    for (int i = 0; i < 18; ++i) bm.set(i, (i * 7) % 3 != 0 ? 1 : 0);
    HostTensor am = random_tensor(DType::f32, {6}, 22);
    am.set(2, -kInf);
    HostTensor fm = random_tensor(DType::f16, {2, 3, 6}, 23);
    HostTensor bm_col(DType::boolean, {2, 1, 1});
    bm_col.set(0, 1);
    bm_col.set(1, 1);
    for (const HostTensor* m : {&bm, &am, &fm, &bm_col})
      for (int dim : {-1, 1}) {
        Options o;
        o.mask = m;
        o.temperature = 2.0;
        SoftmaxDescriptor d = make_desc(op, x, dim, o);
        HostTensor y = output_for(d);
        ASSERT_OK(run_plan(d, {&x, m}, y));
        expect_values(y, expected_forward(op, x, dim, o), 1e-6,
                      std::string(op_name(op)) + " mask " + std::string(dtype_name(m->dtype())) + shape_to_string(m->shape()));
      }
    // Masked-out elements of a softmax are exactly 0, of a log_softmax exactly -inf.
    Options o;
    o.mask = &bm;
    SoftmaxDescriptor d = make_desc(op, x, -1, o);
    HostTensor y = output_for(d);
    ASSERT_OK(run_plan(d, {&x, &bm}, y));
    for (int64_t i = 0; i < 36; ++i)
      if (bm.get(i % 18) == 0) {
        EXPECT_EQ(y.get(i), op == SoftmaxOp::softmax ? 0.0 : -kInf) << i;
      }
  }
}

TEST(SoftmaxCpu, SpecialValuesFollowTorch) {
  // Rows: a NaN, a +inf, all -inf, one -inf among finite values, all equal.
  HostTensor x = bt::host(DType::f32, {5, 3}, {1, kNaN, 2, 1, kInf, 2, -kInf, -kInf, -kInf, -kInf, 0, 0, 4, 4, 4});
  for (SoftmaxOp op : kOps) {
    HostTensor y(DType::f32, {5, 3});
    ASSERT_OK(run_plan(make_desc(op, x, 1), {&x}, y));
    for (int i = 0; i < 9; ++i) EXPECT_TRUE(std::isnan(y.get(i))) << op_name(op) << " element " << i;
    if (op == SoftmaxOp::softmax) {
      EXPECT_EQ(y.get(9), 0.0);
      EXPECT_NEAR(y.get(10), 0.5, 1e-7);
      EXPECT_NEAR(y.get(13), 1.0 / 3, 1e-7);
    } else {
      EXPECT_EQ(y.get(9), -kInf);
      EXPECT_NEAR(y.get(10), -std::log(2.0), 1e-6);
    }
  }
  // A fully masked row (boolean mask all false) is NaN, like torch.softmax of an all -inf row.
  HostTensor x2 = random_tensor(DType::f32, {2, 4}, 4);
  HostTensor m = bt::host(DType::boolean, {2, 1}, {1, 0});
  Options o;
  o.mask = &m;
  HostTensor y2(DType::f32, {2, 4});
  ASSERT_OK(run_plan(make_desc(SoftmaxOp::softmax, x2, 1, o), {&x2, &m}, y2));
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(std::isnan(y2.get(i)));
  for (int i = 4; i < 8; ++i) EXPECT_TRUE(std::isnan(y2.get(i)));
}

TEST(SoftmaxCpu, OutputDtype) {
  HostTensor x = random_tensor(DType::bf16, {3, 40}, 8);
  Options o;
  o.output_dtype = DType::f32;
  SoftmaxDescriptor d = make_desc(SoftmaxOp::log_softmax, x, -1, o);
  HostTensor y = output_for(d);
  EXPECT_EQ(y.dtype(), DType::f32);
  ASSERT_OK(run_plan(d, {&x}, y));
  expect_values(y, expected_forward(SoftmaxOp::log_softmax, x, -1, o), 1e-6, "bf16 -> f32");
  // f32 -> bf16 converts x first (torch's dtype=), then rounds the result.
  HostTensor xf = random_tensor(DType::f32, {3, 40}, 9);
  o.output_dtype = DType::bf16;
  SoftmaxDescriptor d2 = make_desc(SoftmaxOp::softmax, xf, -1, o);
  HostTensor y2 = output_for(d2);
  ASSERT_OK(run_plan(d2, {&xf}, y2));
  expect_values(y2, expected_forward(SoftmaxOp::softmax, xf, -1, o), 1e-2, "f32 -> bf16");
}

TEST(SoftmaxCpu, EmptyTensors) {
  for (std::vector<int64_t> shape : {std::vector<int64_t>{0, 5}, std::vector<int64_t>{3, 0}, std::vector<int64_t>{2, 0, 4}})
    for (int dim : {0, -1}) {
      HostTensor x(DType::f32, shape);
      HostTensor y(DType::f32, shape);
      EXPECT_OK(run_plan(make_desc(SoftmaxOp::softmax, x, dim), {&x}, y));
      HostTensor dy(DType::f32, shape), dx(DType::f32, shape);
      EXPECT_OK(run_plan(make_desc(SoftmaxOp::softmax, x, dim, {}, Direction::backward), {&dy, &y}, dx));
    }
}

// ------------------------------------------------------------------------------------------------
// Errors: each a clear status quoting the values.

void expect_error(const SoftmaxDescriptor& d, const std::string& fragment) {
  auto plan = SoftmaxPlan::select(Stream::cpu(), d);
  ASSERT_FALSE(plan.has_value()) << "expected an error containing '" << fragment << "'";
  EXPECT_NE(plan.status().message().find(fragment), std::string::npos) << plan.status().message();
}

TEST(SoftmaxCpu, DescriptorErrors) {
  HostTensor x(DType::f32, {2, 3});
  expect_error(make_desc(SoftmaxOp::softmax, x, 2), "dim 2 is out of range for rank 2");
  expect_error(make_desc(SoftmaxOp::softmax, x, -3), "dim -3 is out of range");
  HostTensor xi(DType::i32, {2, 3});
  expect_error(make_desc(SoftmaxOp::softmax, xi, 0), "needs a floating input");
  HostTensor bad_mask(DType::boolean, {4});
  Options o;
  o.mask = &bad_mask;
  expect_error(make_desc(SoftmaxOp::softmax, x, 1, o), "mask shape [4] is not broadcastable to the input shape [2, 3]");
  HostTensor int_mask(DType::i32, {3});
  o.mask = &int_mask;
  expect_error(make_desc(SoftmaxOp::softmax, x, 1, o), "the mask must be boolean or floating");
  Options t;
  t.temperature = 0;
  expect_error(make_desc(SoftmaxOp::softmax, x, 1, t), "temperature must be finite and > 0");
  t.temperature = kNaN;
  expect_error(make_desc(SoftmaxOp::softmax, x, 1, t), "temperature must be finite and > 0");
  Options od;
  od.output_dtype = DType::i64;
  expect_error(make_desc(SoftmaxOp::softmax, x, 1, od), "output dtype i64 is not");
  // Backward: dy's layout must have y's dtype (dtype mismatch) and x's shape.
  SoftmaxDescriptor b = make_desc(SoftmaxOp::softmax, x, 1, {}, Direction::backward);
  b.grad_output = Operand::tensor(DType::f16, {2, 3});
  expect_error(b, "grad_output dtype f16 does not match the expected f32");
  b.grad_output = Operand::tensor(DType::f32, {3, 2});
  expect_error(b, "grad_output shape [3, 2] does not match the expected [2, 3]");
  SoftmaxDescriptor f = make_desc(SoftmaxOp::softmax, x, 1);
  f.output = Operand::tensor(DType::bf16, {2, 3});
  expect_error(f, "output dtype bf16 does not match the expected f32");
}

TEST(SoftmaxCpu, ArgumentErrors) {
  HostTensor x = random_tensor(DType::f32, {2, 3}, 1);
  auto plan = SoftmaxPlan::select(Stream::cpu(), make_desc(SoftmaxOp::softmax, x, 1));
  ASSERT_OK(plan.status());
  HostTensor y(DType::f32, {2, 3});
  HostTensor wrong_dtype(DType::f16, {2, 3});
  HostTensor wrong_shape(DType::f32, {3, 2});
  SoftmaxArgs a;
  a.inputs[0] = x.ref();
  a.outputs[0] = wrong_dtype.mut();
  EXPECT_FALSE(plan->run(Stream::cpu(), {}, a).is_ok());
  a.outputs[0] = wrong_shape.mut();
  EXPECT_FALSE(plan->run(Stream::cpu(), {}, a).is_ok());
  a.outputs[0] = y.mut();
  a.inputs[1] = x.ref();  // a mask the descriptor does not have
  Status s = plan->run(Stream::cpu(), {}, a);
  EXPECT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("input 1 is given but the op takes 1"), std::string::npos) << s.message();
  a.inputs[1] = {};
  a.inputs[0] = {};
  EXPECT_FALSE(plan->run(Stream::cpu(), {}, a).is_ok());  // missing input
  // In place (output overlaps the input) is refused.
  a.inputs[0] = x.ref();
  a.outputs[0] = x.mut();
  s = plan->run(Stream::cpu(), {}, a);
  EXPECT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("overlaps input 0"), std::string::npos) << s.message();
  a.outputs[0] = y.mut();
  EXPECT_OK(plan->run(Stream::cpu(), {}, a));
}

// ------------------------------------------------------------------------------------------------
// Backward against central finite differences of L(x) = sum(dy * y(x)), in f64.

void check_backward(SoftmaxOp op, std::vector<int64_t> shape, int dim, const Options& o, uint64_t seed) {
  HostTensor x = random_tensor(DType::f64, shape, seed, {}, -2, 2);
  HostTensor dy = random_tensor(DType::f64, shape, seed + 1, {}, -1, 1);
  // Where a boolean mask is false, log_softmax's y is -inf and torch's backward formula still sums
  // dy there (sum(dy) over the whole row); L skips those constant terms, so dy is 0 there to make
  // both agree (test BackwardBooleanMaskZeroesMaskedGradient checks the formula itself).
  if (o.mask && o.mask->dtype() == DType::boolean)
    for (int64_t i = 0; i < dy.numel(); ++i)
      if (o.mask->get(mask_index(shape, o.mask->shape(), i)) == 0) dy.set(i, 0.0);
  std::vector<const HostTensor*> extra;
  if (o.mask) extra.push_back(o.mask);
  auto forward = [&](const HostTensor& in) {
    HostTensor y(DType::f64, shape);
    std::vector<const HostTensor*> ins{&in};
    ins.insert(ins.end(), extra.begin(), extra.end());
    EXPECT_OK(run_plan(make_desc(op, in, dim, o), ins, y));
    return y;
  };
  auto loss = [&](const HostTensor& in) {
    HostTensor y = forward(in);
    double l = 0;
    for (int64_t i = 0; i < y.numel(); ++i) {
      const double v = y.get(i);
      if (std::isfinite(v)) l += dy.get(i) * v;  // a masked log_softmax element is a constant -inf
    }
    return l;
  };
  HostTensor y = forward(x);
  HostTensor dx(DType::f64, shape);
  std::vector<const HostTensor*> ins{&dy, &y};
  ins.insert(ins.end(), extra.begin(), extra.end());
  ASSERT_OK(run_plan(make_desc(op, x, dim, o, Direction::backward), ins, dx));
  const double h = 1e-6;
  for (int64_t i = 0; i < x.numel(); ++i) {
    HostTensor xp = x, xm = x;
    xp.set(i, x.get(i) + h);
    xm.set(i, x.get(i) - h);
    const double fd = (loss(xp) - loss(xm)) / (2 * h);
    EXPECT_NEAR(dx.get(i), fd, 1e-6 * (1 + std::fabs(fd))) << op_name(op) << " dim " << dim << " element " << i;
  }
}

TEST(SoftmaxCpu, BackwardMatchesFiniteDifferences) {
  for (SoftmaxOp op : kOps) {
    check_backward(op, {3, 5}, -1, {}, 100);
    check_backward(op, {3, 5}, 0, {}, 110);
    check_backward(op, {2, 3, 4}, 1, {}, 120);
    Options t;
    t.temperature = 0.7;
    check_backward(op, {4, 6}, 1, t, 130);
    HostTensor am = random_tensor(DType::f64, {6}, 140);
    Options a;
    a.mask = &am;
    check_backward(op, {4, 6}, -1, a, 150);
  }
}

TEST(SoftmaxCpu, BackwardBooleanMaskZeroesMaskedGradient) {
  HostTensor bm = bt::host(DType::boolean, {5}, {1, 0, 1, 1, 0});
  Options o;
  o.mask = &bm;
  for (SoftmaxOp op : kOps) {
    check_backward(op, {3, 5}, -1, o, 160);  // masked positions: the loss does not depend on x there
    HostTensor x = random_tensor(DType::f32, {3, 5}, 161);
    HostTensor y(DType::f32, {3, 5}), dx(DType::f32, {3, 5});
    HostTensor dy = random_tensor(DType::f32, {3, 5}, 162);
    ASSERT_OK(run_plan(make_desc(op, x, -1, o), {&x, &bm}, y));
    ASSERT_OK(run_plan(make_desc(op, x, -1, o, Direction::backward), {&dy, &y, &bm}, dx));
    for (int64_t r = 0; r < 3; ++r) {
      // torch's formulas over the whole row (masked positions included), then 0 where masked.
      double s = 0;
      for (int64_t i = r * 5; i < r * 5 + 5; ++i) s += op == SoftmaxOp::softmax ? dy.get(i) * y.get(i) : dy.get(i);
      for (int64_t i = r * 5; i < r * 5 + 5; ++i) {
        const double want = bm.get(i % 5) == 0 ? 0.0
                            : op == SoftmaxOp::softmax ? y.get(i) * (dy.get(i) - s)
                                                       : dy.get(i) - std::exp(y.get(i)) * s;
        EXPECT_NEAR(dx.get(i), want, 1e-5) << op_name(op) << " " << i;
      }
    }
  }
}

TEST(SoftmaxCpu, BackwardMixedDtypes) {
  // bf16 x with dtype=f32: y and dy are f32, dx is bf16.
  HostTensor x = random_tensor(DType::bf16, {3, 17}, 170);
  Options o;
  o.output_dtype = DType::f32;
  SoftmaxDescriptor fd = make_desc(SoftmaxOp::softmax, x, -1, o);
  HostTensor y = output_for(fd);
  ASSERT_OK(run_plan(fd, {&x}, y));
  HostTensor dy = random_tensor(DType::f32, {3, 17}, 171);
  SoftmaxDescriptor bd = make_desc(SoftmaxOp::softmax, x, -1, o, Direction::backward);
  HostTensor dx = output_for(bd);
  EXPECT_EQ(dx.dtype(), DType::bf16);
  ASSERT_OK(run_plan(bd, {&dy, &y}, dx));
  for (int r = 0; r < 3; ++r) {
    double s = 0;
    for (int i = 0; i < 17; ++i) s += dy.get(r * 17 + i) * y.get(r * 17 + i);
    for (int i = 0; i < 17; ++i) {
      const double want = y.get(r * 17 + i) * (dy.get(r * 17 + i) - s);
      EXPECT_NEAR(dx.get(r * 17 + i), want, 1e-2 * (1 + std::fabs(want)));
    }
  }
}

TEST(SoftmaxCpu, OpTableAndDescribe) {
  ASSERT_EQ(all_softmax_ops().size(), 2u);
  EXPECT_EQ(softmax_op_info(SoftmaxOp::log_softmax).torch_name, "torch.log_softmax");
  HostTensor x(DType::bf16, {4, 8});
  Options o;
  o.temperature = 2;
  const std::string s = SoftmaxFamily::describe(make_desc(SoftmaxOp::softmax, x, -1, o));
  EXPECT_NE(s.find("softmax(bf16[4, 8], dim -1, temperature 2"), std::string::npos) << s;
}

}  // namespace
