// The reduction family through ReducePlan on the CPU stream: every axis form (all, empty = all,
// negative, unsorted, keepdim), strided / transposed / negative-stride / broadcast inputs and
// strided outputs, PyTorch's dtype rules and output_dtype, empty tensors, error statuses, and the
// backward of every differentiable op against central finite differences of the forward plan (f64).
//
// Expected forward values come from an independent gather of each output element's group (the
// logical row-major walk of the input, through HostTensor's own indexing) fed to the per-group
// reference math, which test_reduce_ref_math.cpp checks against closed forms.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "gtest_helpers.hpp"
#include "baracuda/baracuda.hpp"
#include "ops/reduce/ref/reduce_ref_math.hpp"
#include "test_support.hpp"

namespace {

using namespace baracuda;
using bt::HostTensor;
namespace ref = baracuda::rd::ref;


constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

ReduceDescriptor desc(ReduceOp op, const HostTensor& x, std::vector<int> axes = {}, bool keepdim = false,
                      Direction dir = Direction::forward) {
  ReduceDescriptor d;
  d.op = op;
  d.direction = dir;
  d.input = x.operand();
  d.axes = std::move(axes);
  d.keepdim = keepdim;
  return d;
}

std::string op_name(ReduceOp op) { return std::string(reduce_op_info(op).name); }

Status run(const ReduceDescriptor& d, std::vector<const HostTensor*> ins, std::vector<HostTensor*> outs) {
  auto plan = ReducePlan::select(Stream::cpu(), d);
  if (!plan) return plan.status();
  ReduceArgs a;
  for (size_t i = 0; i < ins.size(); ++i)
    if (ins[i]) a.inputs[i] = ins[i]->ref();
  for (size_t i = 0; i < outs.size(); ++i)
    if (outs[i]) a.outputs[i] = outs[i]->mut();
  return plan->run(Stream::cpu(), {}, a);
}

// Outputs allocated from the signature (strided where the descriptor gives output layouts).
std::vector<HostTensor> alloc_outputs(const ReduceSignature& sig) {
  std::vector<HostTensor> outs;
  for (const Operand& o : sig.outputs) {
    outs.emplace_back(o.dtype, o.shape, o.strides);
    outs.back().fill_bytes(0xA5);  // garbage: every element must be written
  }
  return outs;
}

// Forward through the plan; fails the test (and returns nothing) on an error.
std::vector<HostTensor> forward(const ReduceDescriptor& d, const HostTensor& x) {
  auto sig = infer_signature(d);
  EXPECT_TRUE(sig) << sig.status().to_string();
  if (!sig) return {};
  auto outs = alloc_outputs(*sig);
  std::vector<HostTensor*> po;
  for (auto& o : outs) po.push_back(&o);
  Status s = run(d, {&x}, po);
  EXPECT_TRUE(s.is_ok()) << ReduceFamily::describe(d) << ": " << s.to_string();
  if (!s.is_ok()) return {};
  return outs;
}

// Backward through the plan: dys (one per floating result), x -> dx.
HostTensor backward(const ReduceDescriptor& fwd, const std::vector<HostTensor>& dys, const HostTensor& x) {
  ReduceDescriptor d = fwd;
  d.direction = Direction::backward;
  auto sig = infer_signature(d);
  EXPECT_TRUE(sig) << sig.status().to_string();
  if (!sig) return {};
  HostTensor dx(sig->outputs[0].dtype, sig->outputs[0].shape, sig->outputs[0].strides);
  dx.fill_bytes(0xA5);
  std::vector<const HostTensor*> ins;
  for (const auto& g : dys) ins.push_back(&g);
  ins.push_back(&x);
  Status s = run(d, ins, {&dx});
  EXPECT_TRUE(s.is_ok()) << ReduceFamily::describe(d) << ": " << s.to_string();
  return dx;
}

// ---------------------------------------------------------------------------------------------
// The independent expectation: groups gathered by logical index.

struct Groups {
  std::vector<int64_t> out_shape;               // keepdim or not, as requested
  std::vector<std::vector<int64_t>> members;    // per output element (row-major), x's linear indices
};

Groups gather(const std::vector<int64_t>& shape, std::vector<int> axes, bool keepdim) {
  const int rank = static_cast<int>(shape.size());
  std::vector<bool> red(static_cast<size_t>(rank), axes.empty());
  for (int a : axes)
    if (rank > 0) red[static_cast<size_t>((a % rank + rank) % rank)] = true;  // a 0-d tensor: dim 0 / -1 = all
  Groups g;
  for (int i = 0; i < rank; ++i) {
    if (!red[i]) g.out_shape.push_back(shape[i]);
    else if (keepdim) g.out_shape.push_back(1);
  }
  int64_t n_out = 1;
  for (int i = 0; i < rank; ++i)
    if (!red[i]) n_out *= shape[i];
  g.members.assign(static_cast<size_t>(n_out), {});
  int64_t numel = 1;
  for (int64_t s : shape) numel *= s;
  for (int64_t lin = 0; lin < numel; ++lin) {
    // coordinates of lin, then the output element: row-major over the kept dims
    int64_t rem = lin, out = 0, mul = 1;
    for (int d = rank - 1; d >= 0; --d) {
      const int64_t c = rem % shape[d];
      rem /= shape[d];
      if (!red[d]) {
        out += c * mul;
        mul *= shape[d];
      }
    }
    g.members[static_cast<size_t>(out)].push_back(lin);  // lin increases: row-major within the group
  }
  return g;
}

bool int_math(ReduceOp op, DType in, std::optional<DType> out_dtype) {
  if (!(is_integral(in) || in == DType::boolean)) return false;
  if (op == ReduceOp::logsumexp || op == ReduceOp::mean || op == ReduceOp::nanmean) return false;
  if ((op == ReduceOp::sum || op == ReduceOp::nansum || op == ReduceOp::prod) && out_dtype && is_floating(*out_dtype))
    return false;
  return true;
}

// Expected forward outputs: one vector per result, in output row-major order.
std::vector<std::vector<double>> expected(const ReduceDescriptor& d, const HostTensor& x) {
  Groups g = gather(x.shape(), d.axes, d.keepdim);
  const int nres = (d.op == ReduceOp::max || d.op == ReduceOp::min || d.op == ReduceOp::var_mean) ? 2 : 1;
  std::vector<std::vector<double>> res(nres);
  ref::ReduceParams params;
  params.correction = d.correction;
  params.p = d.p;
  const bool im = int_math(d.op, x.dtype(), d.output_dtype);
  for (const auto& m : g.members) {
    if (im) {
      std::vector<int64_t> v;
      for (int64_t i : m) v.push_back(x.get_int(i));
      int64_t out[2] = {0, 0};
      ref::reduce_int(d.op, v.data(), static_cast<int64_t>(v.size()), out);
      for (int r = 0; r < nres; ++r) res[r].push_back(static_cast<double>(out[r]));
    } else {
      std::vector<double> v;
      for (int64_t i : m) v.push_back(x.get(i));
      double out[2] = {0, 0};
      ref::reduce_float(d.op, v.data(), static_cast<int64_t>(v.size()), params, out);
      for (int r = 0; r < nres; ++r) res[r].push_back(out[r]);
    }
  }
  return res;
}

// Element-by-element comparison with NaN == NaN; tol relative to 1 + |want|.
::testing::AssertionResult Matches(const HostTensor& t, const std::vector<double>& want, double tol = 0.0) {
  if (t.numel() != static_cast<int64_t>(want.size()))
    return ::testing::AssertionFailure() << "numel " << t.numel() << ", want " << want.size();
  for (int64_t i = 0; i < t.numel(); ++i) {
    const double g = t.get(i), w = want[static_cast<size_t>(i)];
    const bool ok = std::isnan(w) ? std::isnan(g) : (tol == 0.0 || std::isinf(w)) ? g == w : std::fabs(g - w) <= tol * (1 + std::fabs(w));
    if (!ok) return ::testing::AssertionFailure() << "element " << i << ": got " << g << ", want " << w;
  }
  return ::testing::AssertionSuccess();
}

// Runs the forward plan and compares every result to the independent expectation.
void check_forward(const ReduceDescriptor& d, const HostTensor& x, double tol = 1e-13) {
  SCOPED_TRACE(ReduceFamily::describe(d));
  auto outs = forward(d, x);
  ASSERT_FALSE(outs.empty());
  auto want = expected(d, x);
  const Groups g = gather(x.shape(), d.axes, d.keepdim);
  ASSERT_EQ(outs.size(), want.size());
  for (size_t r = 0; r < outs.size(); ++r) {
    EXPECT_EQ(outs[r].shape(), g.out_shape) << "result " << r;
    EXPECT_TRUE(Matches(outs[r], want[r], tol)) << "result " << r;
  }
}

void fill(HostTensor& t, std::mt19937_64& rng, double lo = -2.0, double hi = 2.0) {
  std::uniform_real_distribution<double> u(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.set(i, u(rng));
}

HostTensor iota(DType dt, std::vector<int64_t> shape, std::vector<int64_t> strides = {}, double start = 1) {
  HostTensor t(dt, std::move(shape), std::move(strides));
  for (int64_t i = 0; i < t.numel(); ++i) t.set(i, start + static_cast<double>(i));
  return t;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// ---------------------------------------------------------------------------------------------
// Op table

TEST(ReduceCpu, OpTable) {
  auto ops = all_reduce_ops();
  ASSERT_EQ(ops.size(), 19u);
  for (size_t i = 0; i < ops.size(); ++i) {
    EXPECT_EQ(static_cast<size_t>(ops[i].op), i);
    EXPECT_EQ(&reduce_op_info(ops[i].op), &ops[i]);
    EXPECT_FALSE(ops[i].torch_name.empty()) << ops[i].name;
  }
  EXPECT_EQ(reduce_op_info(ReduceOp::logsumexp).name, "logsumexp");
  EXPECT_TRUE(reduce_op_info(ReduceOp::var_mean).differentiable);
  EXPECT_FALSE(reduce_op_info(ReduceOp::argmax).differentiable);
  EXPECT_EQ(reduce_op_info(static_cast<ReduceOp>(200)).name, "invalid");
}

// ---------------------------------------------------------------------------------------------
// Axes

TEST(ReduceCpu, KnownValuesSmall) {
  auto x = bt::host(DType::f32, {2, 3}, {1, 2, 3, 4, 5, 6});
  auto sum1 = forward(desc(ReduceOp::sum, x, {1}), x);
  ASSERT_EQ(sum1.size(), 1u);
  EXPECT_EQ(sum1[0].shape(), (std::vector<int64_t>{2}));
  EXPECT_TRUE(Matches(sum1[0], {6, 15}));
  auto sum0 = forward(desc(ReduceOp::sum, x, {0}, true), x);
  EXPECT_EQ(sum0[0].shape(), (std::vector<int64_t>{1, 3}));
  EXPECT_TRUE(Matches(sum0[0], {5, 7, 9}));
  auto all = forward(desc(ReduceOp::sum, x), x);
  EXPECT_EQ(all[0].shape(), (std::vector<int64_t>{}));
  EXPECT_TRUE(Matches(all[0], {21}));
  auto allk = forward(desc(ReduceOp::mean, x, {}, true), x);
  EXPECT_EQ(allk[0].shape(), (std::vector<int64_t>{1, 1}));
  EXPECT_TRUE(Matches(allk[0], {3.5}));
  auto mx = forward(desc(ReduceOp::max, x, {0}), x);
  ASSERT_EQ(mx.size(), 2u);
  EXPECT_EQ(mx[1].dtype(), DType::i64);
  EXPECT_TRUE(Matches(mx[0], {4, 5, 6}));
  EXPECT_TRUE(Matches(mx[1], {1, 1, 1}));
  auto vm = forward(desc(ReduceOp::var_mean, x, {1}), x);
  ASSERT_EQ(vm.size(), 2u);
  EXPECT_TRUE(Matches(vm[0], {1, 1}));
  EXPECT_TRUE(Matches(vm[1], {2, 5}));
  auto am = forward(desc(ReduceOp::argmin, x, {-1}), x);
  EXPECT_EQ(am[0].dtype(), DType::i64);
  EXPECT_TRUE(Matches(am[0], {0, 0}));
}

TEST(ReduceCpu, EveryAxisFormMatchesGroups) {
  std::mt19937_64 rng(7);
  HostTensor x(DType::f64, {2, 3, 4});
  fill(x, rng);
  const std::vector<std::vector<int>> axes_sets = {{},     {0},       {1},        {2},      {-1},       {-3},
                                                   {0, 2}, {2, 0},    {-1, 0},    {1, -3},  {0, 1, 2},  {2, 1, 0},
                                                   {-2, -1}, {1, 2}};
  ReduceDescriptor base;
  int checked = 0;
  for (const auto& info : all_reduce_ops()) {
    for (const auto& axes : axes_sets) {
      for (bool keepdim : {false, true}) {
        ReduceDescriptor d = desc(info.op, x, axes, keepdim);
        if (info.op == ReduceOp::norm) d.p = 3.0;
        check_forward(d, x);
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 19 * 14 * 2);
}

TEST(ReduceCpu, RankZeroAndOneSizedDims) {
  auto s = bt::host(DType::f64, {}, {4.5});
  for (std::vector<int> axes : {std::vector<int>{}, {0}, {-1}}) {
    check_forward(desc(ReduceOp::sum, s, axes), s);
    check_forward(desc(ReduceOp::argmax, s, axes, true), s);
    check_forward(desc(ReduceOp::var, s, axes), s);  // one element, correction 1: NaN
  }
  auto x = iota(DType::f64, {1, 5, 1});
  for (std::vector<int> axes : {std::vector<int>{0}, {2}, {0, 2}, {1}})
    for (bool k : {false, true}) check_forward(desc(ReduceOp::prod, x, axes, k), x);
}

TEST(ReduceCpu, ParametersCorrectionAndP) {
  std::mt19937_64 rng(11);
  HostTensor x(DType::f64, {3, 5});
  fill(x, rng);
  for (double c : {0.0, 1.0, 2.5, 5.0, 7.0}) {
    for (ReduceOp op : {ReduceOp::var, ReduceOp::std, ReduceOp::var_mean}) {
      auto d = desc(op, x, {1});
      d.correction = c;
      check_forward(d, x);
    }
  }
  for (double p : {0.0, 0.5, 1.0, 2.0, 3.0, -1.0, kInf, -kInf}) {
    auto d = desc(ReduceOp::norm, x, {0});
    d.p = p;
    check_forward(d, x);
  }
  auto v = bt::host(DType::f64, {4}, {1, 2, 3, 4});
  auto d = desc(ReduceOp::var, v);
  d.correction = 0;
  EXPECT_TRUE(Matches(forward(d, v)[0], {1.25}, 1e-15));
  d.correction = 1;
  EXPECT_TRUE(Matches(forward(d, v)[0], {5.0 / 3.0}, 1e-15));
  auto n = bt::host(DType::f32, {4}, {3, -4, 0, 12});
  auto dn = desc(ReduceOp::norm, n);
  EXPECT_TRUE(Matches(forward(dn, n)[0], {13}));
  dn.p = 1;
  EXPECT_TRUE(Matches(forward(dn, n)[0], {19}));
  dn.p = kInf;
  EXPECT_TRUE(Matches(forward(dn, n)[0], {12}));
  dn.p = -kInf;
  EXPECT_TRUE(Matches(forward(dn, n)[0], {0}));
  dn.p = 0;
  EXPECT_TRUE(Matches(forward(dn, n)[0], {3}));
}

// ---------------------------------------------------------------------------------------------
// Layouts

TEST(ReduceCpu, StridedInputs) {
  std::mt19937_64 rng(3);
  std::vector<HostTensor> views;
  views.emplace_back(DType::f64, std::vector<int64_t>{4, 3}, std::vector<int64_t>{1, 4});     // transposed
  views.emplace_back(DType::f64, std::vector<int64_t>{3, 4}, std::vector<int64_t>{-4, 1});    // rows reversed
  views.emplace_back(DType::f64, std::vector<int64_t>{3, 4}, std::vector<int64_t>{-1, -3});   // both reversed, col-major
  views.emplace_back(DType::f64, std::vector<int64_t>{2, 3}, std::vector<int64_t>{12, 2});    // gaps
  views.emplace_back(DType::f32, std::vector<int64_t>{2, 3, 2}, std::vector<int64_t>{1, 4, 2});  // permuted
  for (auto& v : views) fill(v, rng);
  HostTensor bcast(DType::f64, {3, 4}, {0, 1});  // every row the same storage
  for (int64_t j = 0; j < 4; ++j) bcast.set(j, static_cast<double>(j) - 1.5);
  views.push_back(bcast);
  for (const auto& x : views) {
    const int rank = static_cast<int>(x.shape().size());
    for (ReduceOp op : {ReduceOp::sum, ReduceOp::amax, ReduceOp::max, ReduceOp::argmin, ReduceOp::var_mean,
                        ReduceOp::logsumexp, ReduceOp::norm, ReduceOp::prod}) {
      for (int a = -1; a < rank; ++a) {
        std::vector<int> axes = a < 0 ? std::vector<int>{} : std::vector<int>{a};
        for (bool k : {false, true}) check_forward(desc(op, x, axes, k), x, 1e-6);
      }
      if (rank == 3) check_forward(desc(op, x, {2, 0}), x, 1e-6);
    }
  }
  // A known case: the transposed view of [[1,2,3],[4,5,6]].
  HostTensor t(DType::f32, {3, 2}, {1, 3});
  for (int64_t i = 0; i < 6; ++i) reinterpret_cast<float*>(t.storage().data())[i] = static_cast<float>(i + 1);
  EXPECT_TRUE(Matches(forward(desc(ReduceOp::sum, t, {0}), t)[0], {6, 15}));
  EXPECT_TRUE(Matches(forward(desc(ReduceOp::sum, t, {1}), t)[0], {5, 7, 9}));
  EXPECT_TRUE(Matches(forward(desc(ReduceOp::argmax, t, {0}), t)[0], {2, 2}));
}

TEST(ReduceCpu, StridedOutputs) {
  auto x = iota(DType::f64, {3, 4, 5});
  // {3, 5} result stored column-major, and a reversed one for max's indices.
  auto d = desc(ReduceOp::max, x, {1});
  d.outputs = {Operand::tensor(DType::f64, {3, 5}, {1, 3}), Operand::tensor(DType::i64, {3, 5}, {-5, -1})};
  auto outs = forward(d, x);
  ASSERT_EQ(outs.size(), 2u);
  auto want = expected(desc(ReduceOp::max, x, {1}), x);
  EXPECT_TRUE(Matches(outs[0], want[0]));
  EXPECT_TRUE(Matches(outs[1], want[1]));
  const int64_t* idx = reinterpret_cast<const int64_t*>(outs[1].storage().data());
  EXPECT_EQ(idx[0], 3);  // all 3's; the storage's first element is the view's last
  // keepdim with a strided output
  auto dk = desc(ReduceOp::sum, x, {0, 2}, true);
  dk.outputs = {Operand::tensor(DType::f64, {1, 4, 1}, {1, 2, 1})};
  auto sk = forward(dk, x);
  ASSERT_EQ(sk.size(), 1u);
  EXPECT_TRUE(Matches(sk[0], expected(desc(ReduceOp::sum, x, {0, 2}, true), x)[0]));
}

// ---------------------------------------------------------------------------------------------
// Dtypes (PyTorch's rules)

DType out_dtype(ReduceDescriptor d, int i = 0) {
  auto sig = infer_signature(d);
  EXPECT_TRUE(sig) << sig.status().to_string();
  return sig ? sig->outputs[static_cast<size_t>(i)].dtype : DType::f64;
}

TEST(ReduceCpu, DtypeRules) {
  HostTensor bf(DType::bf16, {4}), h(DType::f16, {4}), f(DType::f32, {4}), i32(DType::i32, {4}), u8(DType::u8, {4}),
      b(DType::boolean, {4}), i8(DType::i8, {4});
  EXPECT_EQ(out_dtype(desc(ReduceOp::sum, bf)), DType::bf16);
  EXPECT_EQ(out_dtype(desc(ReduceOp::sum, h)), DType::f16);
  EXPECT_EQ(out_dtype(desc(ReduceOp::sum, i32)), DType::i64);
  EXPECT_EQ(out_dtype(desc(ReduceOp::sum, b)), DType::i64);
  EXPECT_EQ(out_dtype(desc(ReduceOp::sum, u8)), DType::i64);
  EXPECT_EQ(out_dtype(desc(ReduceOp::nansum, i8)), DType::i64);
  EXPECT_EQ(out_dtype(desc(ReduceOp::prod, b)), DType::i64);
  EXPECT_EQ(out_dtype(desc(ReduceOp::mean, bf)), DType::bf16);
  EXPECT_EQ(out_dtype(desc(ReduceOp::amax, i32)), DType::i32);
  EXPECT_EQ(out_dtype(desc(ReduceOp::max, u8), 0), DType::u8);
  EXPECT_EQ(out_dtype(desc(ReduceOp::max, u8), 1), DType::i64);
  EXPECT_EQ(out_dtype(desc(ReduceOp::argmax, bf)), DType::i64);
  EXPECT_EQ(out_dtype(desc(ReduceOp::argmin, i32)), DType::i64);
  EXPECT_EQ(out_dtype(desc(ReduceOp::any, f)), DType::boolean);
  EXPECT_EQ(out_dtype(desc(ReduceOp::all, i32)), DType::boolean);
  EXPECT_EQ(out_dtype(desc(ReduceOp::any, u8)), DType::u8);
  EXPECT_EQ(out_dtype(desc(ReduceOp::all, u8)), DType::u8);
  EXPECT_EQ(out_dtype(desc(ReduceOp::count_nonzero, f)), DType::i64);
  EXPECT_EQ(out_dtype(desc(ReduceOp::logsumexp, i32)), DType::f32);
  EXPECT_EQ(out_dtype(desc(ReduceOp::var_mean, h), 1), DType::f16);
  EXPECT_EQ(out_dtype(desc(ReduceOp::norm, bf)), DType::bf16);

  for (ReduceOp op : {ReduceOp::mean, ReduceOp::nanmean, ReduceOp::var, ReduceOp::std, ReduceOp::var_mean, ReduceOp::norm}) {
    auto s = infer_signature(desc(op, i32));
    ASSERT_FALSE(s) << op_name(op);
    EXPECT_EQ(s.status().code(), StatusCode::invalid_argument) << op_name(op);
    EXPECT_TRUE(contains(s.status().message(), "i32") || contains(s.status().message(), "int32")) << s.status().to_string();
    EXPECT_TRUE(contains(s.status().message(), op_name(op))) << s.status().to_string();
  }
}

TEST(ReduceCpu, DtypeValues) {
  // bf16 sum: 256 + 1 + 1 + ... accumulated wide, rounded once (a bf16 running sum would stay at 256)
  HostTensor bf(DType::bf16, {17});
  bf.set(0, 256);
  for (int64_t i = 1; i < 17; ++i) bf.set(i, 1);
  auto s = forward(desc(ReduceOp::sum, bf), bf);
  EXPECT_EQ(s[0].dtype(), DType::bf16);
  EXPECT_TRUE(Matches(s[0], {272}));
  // i32 sum: no wrap in i64
  auto i = bt::host(DType::i32, {3}, {2147483647, 2147483647, 2});
  auto si = forward(desc(ReduceOp::sum, i), i);
  EXPECT_EQ(si[0].dtype(), DType::i64);
  EXPECT_EQ(si[0].get_int(0), int64_t{4294967296});
  // i64 sum wraps
  HostTensor w(DType::i64, {2});
  w.set_int(0, std::numeric_limits<int64_t>::max());
  w.set_int(1, 1);
  EXPECT_EQ(forward(desc(ReduceOp::sum, w), w)[0].get_int(0), std::numeric_limits<int64_t>::min());
  // i64 values beyond 2^53 are exact in integer reductions
  HostTensor big(DType::i64, {3});
  big.set_int(0, (int64_t{1} << 60) + 1);
  big.set_int(1, (int64_t{1} << 60) + 3);
  big.set_int(2, (int64_t{1} << 60) + 2);
  EXPECT_EQ(forward(desc(ReduceOp::amax, big), big)[0].get_int(0), (int64_t{1} << 60) + 3);
  EXPECT_EQ(forward(desc(ReduceOp::sum, big), big)[0].get_int(0), 3 * (int64_t{1} << 60) + 6);
  EXPECT_EQ(forward(desc(ReduceOp::argmax, big), big)[0].get_int(0), 1);
  // bool
  auto b = bt::host(DType::boolean, {5}, {1, 0, 1, 1, 0});
  EXPECT_EQ(forward(desc(ReduceOp::sum, b), b)[0].get_int(0), 3);
  EXPECT_EQ(forward(desc(ReduceOp::prod, b), b)[0].get_int(0), 0);
  auto any = forward(desc(ReduceOp::any, b), b);
  EXPECT_EQ(any[0].dtype(), DType::boolean);
  EXPECT_EQ(any[0].get_int(0), 1);
  EXPECT_EQ(forward(desc(ReduceOp::all, b), b)[0].get_int(0), 0);
  EXPECT_EQ(forward(desc(ReduceOp::count_nonzero, b), b)[0].get_int(0), 3);
  // u8 any/all stay u8; f32 any with NaN
  auto u = bt::host(DType::u8, {2, 2}, {0, 7, 0, 0});
  auto au = forward(desc(ReduceOp::any, u, {1}), u);
  EXPECT_EQ(au[0].dtype(), DType::u8);
  EXPECT_TRUE(Matches(au[0], {1, 0}));
  auto fn = bt::host(DType::f32, {3}, {0, kNaN, 0});
  EXPECT_TRUE(Matches(forward(desc(ReduceOp::any, fn), fn)[0], {1}));
  EXPECT_TRUE(Matches(forward(desc(ReduceOp::count_nonzero, fn), fn)[0], {1}));
  // logsumexp of integers: f32
  auto li = bt::host(DType::i32, {2}, {0, 0});
  auto l = forward(desc(ReduceOp::logsumexp, li), li);
  EXPECT_EQ(l[0].dtype(), DType::f32);
  EXPECT_TRUE(Matches(l[0], {std::log(2.0)}, 1e-7));
  // integer amax / argmax / max, first-of-ties
  auto t = bt::host(DType::i16, {2, 3}, {5, -2, 5, -7, -7, 0});
  EXPECT_TRUE(Matches(forward(desc(ReduceOp::amax, t, {1}), t)[0], {5, 0}));
  EXPECT_TRUE(Matches(forward(desc(ReduceOp::argmax, t, {1}), t)[0], {0, 2}));
  auto m = forward(desc(ReduceOp::min, t, {1}), t);
  EXPECT_TRUE(Matches(m[0], {-2, -7}));
  EXPECT_TRUE(Matches(m[1], {1, 0}));
}

TEST(ReduceCpu, OutputDtypeOverride) {
  auto bf = bt::host(DType::bf16, {3}, {1, 2, 3.5});
  auto d = desc(ReduceOp::sum, bf);
  d.output_dtype = DType::f64;
  auto s = forward(d, bf);
  EXPECT_EQ(s[0].dtype(), DType::f64);
  EXPECT_TRUE(Matches(s[0], {6.5}));
  // integer input summed into floating output: float math
  auto i = bt::host(DType::i32, {3}, {1, 2, 4});
  auto di = desc(ReduceOp::sum, i);
  di.output_dtype = DType::f32;
  auto si = forward(di, i);
  EXPECT_EQ(si[0].dtype(), DType::f32);
  EXPECT_TRUE(Matches(si[0], {7}));
  auto dp = desc(ReduceOp::prod, i);
  dp.output_dtype = DType::f64;
  EXPECT_TRUE(Matches(forward(dp, i)[0], {8}));
  // integer output of a floating sum: PyTorch's dtype=torch.int32 casts (truncates) each input
  // first, so 1.5 + 1.5 + 4.75 sums to 1 + 1 + 4 = 6, not trunc(7.75) = 7
  auto f = bt::host(DType::f32, {3}, {1.5, 1.5, 4.75});
  auto df = desc(ReduceOp::sum, f);
  df.output_dtype = DType::i32;
  auto sf = forward(df, f);
  EXPECT_EQ(sf[0].dtype(), DType::i32);
  EXPECT_TRUE(Matches(sf[0], {6}));
  // mean of integers with a floating dtype= (torch.mean(int_tensor, dtype=torch.float32) = 7/3)
  auto dm = desc(ReduceOp::mean, i);
  dm.output_dtype = DType::f32;
  auto sm = forward(dm, i);
  ASSERT_EQ(sm.size(), 1u);
  EXPECT_EQ(sm[0].dtype(), DType::f32);
  EXPECT_TRUE(Matches(sm[0], {7.0 / 3.0}, 1e-7));
  auto dnm = desc(ReduceOp::nanmean, i);
  dnm.output_dtype = DType::f64;
  auto snm = forward(dnm, i);
  ASSERT_EQ(snm.size(), 1u);
  EXPECT_TRUE(Matches(snm[0], {7.0 / 3.0}, 1e-15));
  // mean with an integer dtype= is refused
  auto dmi = desc(ReduceOp::mean, f);
  dmi.output_dtype = DType::i32;
  auto r = infer_signature(dmi);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), StatusCode::invalid_argument);
  // norm with dtype=
  auto dn = desc(ReduceOp::norm, bt::host(DType::f16, {2}, {3, 4}));
  dn.output_dtype = DType::f32;
  EXPECT_EQ(out_dtype(dn), DType::f32);
  // not an option of amax
  auto da = desc(ReduceOp::amax, f);
  da.output_dtype = DType::f64;
  auto ra = infer_signature(da);
  ASSERT_FALSE(ra);
  EXPECT_EQ(ra.status().code(), StatusCode::invalid_argument);
  EXPECT_TRUE(contains(ra.status().message(), "amax")) << ra.status().to_string();
}

// ---------------------------------------------------------------------------------------------
// NaN

TEST(ReduceCpu, NaNPropagation) {
  auto x = bt::host(DType::f32, {2, 4}, {1, kNaN, 3, kNaN, 2, 7, -1, 0});
  EXPECT_TRUE(Matches(forward(desc(ReduceOp::amax, x, {1}), x)[0], {kNaN, 7}));
  EXPECT_TRUE(Matches(forward(desc(ReduceOp::amin, x, {1}), x)[0], {kNaN, -1}));
  auto mx = forward(desc(ReduceOp::max, x, {1}), x);
  EXPECT_TRUE(Matches(mx[0], {kNaN, 7}));
  EXPECT_TRUE(Matches(mx[1], {1, 1}));
  EXPECT_TRUE(Matches(forward(desc(ReduceOp::argmax, x, {1}), x)[0], {1, 1}));
  EXPECT_TRUE(Matches(forward(desc(ReduceOp::argmin, x, {1}), x)[0], {1, 2}));
  EXPECT_TRUE(Matches(forward(desc(ReduceOp::sum, x, {1}), x)[0], {kNaN, 8}));
  EXPECT_TRUE(Matches(forward(desc(ReduceOp::nansum, x, {1}), x)[0], {4, 8}));
  EXPECT_TRUE(Matches(forward(desc(ReduceOp::nanmean, x, {1}), x)[0], {2, 2}));
  EXPECT_TRUE(Matches(forward(desc(ReduceOp::logsumexp, x, {1}), x)[0], {kNaN, 7.0 + std::log1p(std::exp(-5.0) + std::exp(-8.0) + std::exp(-7.0))}, 1e-6));
  EXPECT_TRUE(Matches(forward(desc(ReduceOp::argmax, x, {0}), x)[0], {1, 0, 0, 0}));
}

// ---------------------------------------------------------------------------------------------
// Empty tensors

TEST(ReduceCpu, EmptyReductions) {
  HostTensor e(DType::f32, {0, 3});
  struct Want {
    ReduceOp op;
    double v;
  };
  for (Want w : {Want{ReduceOp::sum, 0}, Want{ReduceOp::nansum, 0}, Want{ReduceOp::prod, 1}, Want{ReduceOp::mean, kNaN},
                 Want{ReduceOp::nanmean, kNaN}, Want{ReduceOp::var, kNaN}, Want{ReduceOp::std, kNaN},
                 Want{ReduceOp::norm, 0}, Want{ReduceOp::logsumexp, -kInf}, Want{ReduceOp::any, 0},
                 Want{ReduceOp::all, 1}, Want{ReduceOp::count_nonzero, 0}}) {
    SCOPED_TRACE(op_name(w.op));
    auto r = forward(desc(w.op, e, {0}), e);
    ASSERT_FALSE(r.empty());
    EXPECT_EQ(r[0].shape(), (std::vector<int64_t>{3}));
    EXPECT_TRUE(Matches(r[0], {w.v, w.v, w.v}));
    auto all = forward(desc(w.op, e, {}, true), e);
    ASSERT_FALSE(all.empty());
    EXPECT_EQ(all[0].shape(), (std::vector<int64_t>{1, 1}));
    EXPECT_TRUE(Matches(all[0], {w.v}));
  }
  auto vm = forward(desc(ReduceOp::var_mean, e, {0}), e);
  ASSERT_EQ(vm.size(), 2u);
  EXPECT_TRUE(Matches(vm[1], {kNaN, kNaN, kNaN}));
  // integer sum of nothing: i64 0; prod 1
  HostTensor ei(DType::i32, {4, 0});
  EXPECT_TRUE(Matches(forward(desc(ReduceOp::sum, ei, {1}), ei)[0], {0, 0, 0, 0}));
  EXPECT_TRUE(Matches(forward(desc(ReduceOp::prod, ei, {1}), ei)[0], {1, 1, 1, 1}));
  // an empty output with non-empty groups is fine for amax (PyTorch: amax of (0, 3) over dim 1)
  for (ReduceOp op : {ReduceOp::amax, ReduceOp::max, ReduceOp::argmax, ReduceOp::sum}) {
    auto r = forward(desc(op, e, {1}), e);
    ASSERT_FALSE(r.empty()) << op_name(op);
    EXPECT_EQ(r[0].shape(), (std::vector<int64_t>{0}));
  }
  // extremes of nothing: refused at select
  for (ReduceOp op : {ReduceOp::amax, ReduceOp::amin, ReduceOp::max, ReduceOp::min, ReduceOp::argmax, ReduceOp::argmin}) {
    for (std::vector<int> axes : {std::vector<int>{0}, std::vector<int>{}}) {
      auto p = ReducePlan::select(Stream::cpu(), desc(op, e, axes));
      ASSERT_FALSE(p) << op_name(op);
      EXPECT_EQ(p.status().code(), StatusCode::invalid_argument);
      EXPECT_TRUE(contains(p.status().message(), op_name(op))) << p.status().to_string();
      EXPECT_TRUE(contains(p.status().message(), "empty")) << p.status().to_string();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Errors

TEST(ReduceCpu, AxisErrors) {
  HostTensor x(DType::f32, {2, 3, 4});
  auto rep = ReducePlan::select(Stream::cpu(), desc(ReduceOp::sum, x, {1, 1}));
  ASSERT_FALSE(rep);
  EXPECT_EQ(rep.status().code(), StatusCode::invalid_argument);
  EXPECT_TRUE(contains(rep.status().message(), "dim 1")) << rep.status().to_string();
  EXPECT_TRUE(contains(rep.status().message(), "sum")) << rep.status().to_string();
  // the same dim spelled twice (1 and -2)
  auto rep2 = infer_signature(desc(ReduceOp::logsumexp, x, {1, -2}));
  ASSERT_FALSE(rep2);
  EXPECT_EQ(rep2.status().code(), StatusCode::invalid_argument);
  EXPECT_TRUE(contains(rep2.status().message(), "dim -2")) << rep2.status().to_string();
  EXPECT_TRUE(contains(rep2.status().message(), "logsumexp")) << rep2.status().to_string();
  for (int bad : {3, -4, 100}) {
    auto r = infer_signature(desc(ReduceOp::mean, x, {0, bad}));
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::invalid_argument);
    EXPECT_TRUE(contains(r.status().message(), "dim " + std::to_string(bad))) << r.status().to_string();
    EXPECT_TRUE(contains(r.status().message(), "range")) << r.status().to_string();
  }
  auto unknown = infer_signature(desc(static_cast<ReduceOp>(77), x));
  ASSERT_FALSE(unknown);
  EXPECT_TRUE(contains(unknown.status().message(), "77")) << unknown.status().to_string();
  ReduceDescriptor sc = desc(ReduceOp::sum, x);
  sc.input = Operand::scalar(DType::f32);
  EXPECT_FALSE(infer_signature(sc));
}

TEST(ReduceCpu, RunArgumentErrors) {
  auto x = iota(DType::f32, {2, 3});
  auto plan = ReducePlan::select(Stream::cpu(), desc(ReduceOp::sum, x, {1}));
  ASSERT_TRUE(plan) << plan.status().to_string();
  HostTensor y(DType::f32, {2});
  auto go = [&](ReduceArgs a) { return plan->run(Stream::cpu(), {}, a); };
  ReduceArgs ok;
  ok.inputs[0] = x.ref();
  ok.outputs[0] = y.mut();
  ASSERT_OK(go(ok));
  EXPECT_TRUE(Matches(y, {6, 15}));

  // wrong output shape
  HostTensor y3(DType::f32, {3});
  ReduceArgs a = ok;
  a.outputs[0] = y3.mut();
  Status s = go(a);
  EXPECT_EQ(s.code(), StatusCode::invalid_argument);
  EXPECT_TRUE(contains(s.message(), "[3]") && contains(s.message(), "[2]")) << s.to_string();
  EXPECT_TRUE(contains(s.message(), "sum")) << s.to_string();
  // wrong output dtype
  HostTensor yd(DType::f64, {2});
  a = ok;
  a.outputs[0] = yd.mut();
  s = go(a);
  EXPECT_EQ(s.code(), StatusCode::invalid_argument);
  EXPECT_TRUE(contains(s.message(), "f64") && contains(s.message(), "f32")) << s.to_string();
  // keepdim shape where the plan has none
  HostTensor yk(DType::f32, {2, 1});
  a = ok;
  a.outputs[0] = yk.mut();
  EXPECT_EQ(go(a).code(), StatusCode::invalid_argument);
  // missing / null
  a = ok;
  a.outputs[0] = TensorMut{};
  s = go(a);
  EXPECT_EQ(s.code(), StatusCode::invalid_argument);
  EXPECT_TRUE(contains(s.message(), "missing")) << s.to_string();
  a = ok;
  a.inputs[0].data = nullptr;
  s = go(a);
  EXPECT_EQ(s.code(), StatusCode::invalid_argument);
  EXPECT_TRUE(contains(s.message(), "null")) << s.to_string();
  a = ok;
  a.outputs[0].data = nullptr;
  s = go(a);
  EXPECT_EQ(s.code(), StatusCode::invalid_argument);
  EXPECT_TRUE(contains(s.message(), "null")) << s.to_string();
  // an extra operand
  a = ok;
  a.inputs[1] = x.ref();
  EXPECT_EQ(go(a).code(), StatusCode::invalid_argument);
  a = ok;
  HostTensor extra(DType::f32, {2});
  a.outputs[1] = extra.mut();
  EXPECT_EQ(go(a).code(), StatusCode::invalid_argument);
  // strides not described in the descriptor
  HostTensor xt(DType::f32, {2, 3}, {1, 2});
  a = ok;
  a.inputs[0] = xt.ref();
  s = go(a);
  EXPECT_EQ(s.code(), StatusCode::invalid_argument);
  EXPECT_TRUE(contains(s.message(), "strides")) << s.to_string();
  // output overlapping the input
  auto xx = iota(DType::f32, {2, 2});
  auto p2 = ReducePlan::select(Stream::cpu(), desc(ReduceOp::sum, xx, {1}));
  ASSERT_TRUE(p2);
  ReduceArgs o;
  o.inputs[0] = xx.ref();
  auto alias = make_tensor_mut(xx.data(), DType::f32, {2});
  ASSERT_TRUE(alias);
  o.outputs[0] = *alias;
  s = p2->run(Stream::cpu(), {}, o);
  EXPECT_EQ(s.code(), StatusCode::invalid_argument);
  EXPECT_TRUE(contains(s.message(), "overlap")) << s.to_string();
}

TEST(ReduceCpu, DescriptorErrors) {
  HostTensor x(DType::f32, {2, 3});
  // output layouts: wrong count / shape / dtype
  auto d = desc(ReduceOp::max, x, {1});
  d.outputs = {Operand::tensor(DType::f32, {2})};
  auto r = infer_signature(d);
  ASSERT_FALSE(r);
  EXPECT_TRUE(contains(r.status().message(), "2") && contains(r.status().message(), "1")) << r.status().to_string();
  d.outputs = {Operand::tensor(DType::f32, {3}), Operand::tensor(DType::i64, {2})};
  r = infer_signature(d);
  ASSERT_FALSE(r);
  EXPECT_TRUE(contains(r.status().message(), "[2]")) << r.status().to_string();
  d.outputs = {Operand::tensor(DType::f32, {2}), Operand::tensor(DType::i32, {2})};
  r = infer_signature(d);
  ASSERT_FALSE(r);
  EXPECT_TRUE(contains(r.status().message(), "i64")) << r.status().to_string();
  // norm p NaN
  auto dn = desc(ReduceOp::norm, x);
  dn.p = kNaN;
  r = infer_signature(dn);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), StatusCode::invalid_argument);
  // backward of a non-differentiable op
  for (ReduceOp op : {ReduceOp::argmax, ReduceOp::argmin, ReduceOp::any, ReduceOp::all, ReduceOp::count_nonzero}) {
    auto p = ReducePlan::select(Stream::cpu(), desc(op, x, {1}, false, Direction::backward));
    ASSERT_FALSE(p) << op_name(op);
    EXPECT_EQ(p.status().code(), StatusCode::invalid_argument);
    EXPECT_TRUE(contains(p.status().message(), op_name(op))) << p.status().to_string();
    EXPECT_TRUE(contains(p.status().message(), "differentiable")) << p.status().to_string();
  }
  // backward of an integer input
  HostTensor xi(DType::i32, {2, 3});
  auto bi = infer_signature(desc(ReduceOp::sum, xi, {1}, false, Direction::backward));
  ASSERT_FALSE(bi);
  EXPECT_EQ(bi.status().code(), StatusCode::invalid_argument);
  // grad_output layouts: wrong count / shape
  auto db = desc(ReduceOp::var_mean, x, {1}, false, Direction::backward);
  db.grad_outputs = {Operand::tensor(DType::f32, {2})};
  r = infer_signature(db);
  ASSERT_FALSE(r);
  EXPECT_TRUE(contains(r.status().message(), "2") && contains(r.status().message(), "1")) << r.status().to_string();
  db.grad_outputs = {Operand::tensor(DType::f32, {2}), Operand::tensor(DType::f32, {3})};
  r = infer_signature(db);
  ASSERT_FALSE(r);
  EXPECT_TRUE(contains(r.status().message(), "[2]")) << r.status().to_string();
  // complex / fp8 inputs are not supported
  for (DType t : {DType::c64, DType::f8e4m3}) {
    HostTensor xc(t, {2});
    auto rc = infer_signature(desc(ReduceOp::sum, xc));
    ASSERT_FALSE(rc);
    EXPECT_EQ(rc.status().code(), StatusCode::not_supported);
  }
}

// ---------------------------------------------------------------------------------------------
// Backward

TEST(ReduceCpu, BackwardSignature) {
  HostTensor x(DType::bf16, {2, 3});
  auto sig = infer_signature(desc(ReduceOp::max, x, {1}, true, Direction::backward));
  ASSERT_TRUE(sig) << sig.status().to_string();
  ASSERT_EQ(sig->inputs.size(), 2u);  // values' grad, x
  EXPECT_EQ(sig->inputs[0].shape, (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(sig->outputs[0].dtype, DType::bf16);
  EXPECT_EQ(sig->outputs[0].shape, (std::vector<int64_t>{2, 3}));
  auto vm = infer_signature(desc(ReduceOp::var_mean, x, {}, false, Direction::backward));
  ASSERT_TRUE(vm);
  EXPECT_EQ(vm->inputs.size(), 3u);  // dvar, dmean, x
}

TEST(ReduceCpu, BackwardKnownValues) {
  auto x = bt::host(DType::f32, {2, 3}, {1, 3, 3, 0, 2, 5});
  auto dy = bt::host(DType::f32, {2}, {1, 2});
  auto dx = backward(desc(ReduceOp::amax, x, {1}), {dy}, x);
  EXPECT_TRUE(Matches(dx, {0, 0.5, 0.5, 0, 0, 2}));
  dx = backward(desc(ReduceOp::max, x, {1}), {dy}, x);  // all to the returned (first) index
  EXPECT_TRUE(Matches(dx, {0, 1, 0, 0, 0, 2}));
  dx = backward(desc(ReduceOp::prod, x, {1}), {dy}, x);
  EXPECT_TRUE(Matches(dx, {9, 3, 3, 20, 0, 0}));
  dx = backward(desc(ReduceOp::mean, x, {1}), {dy}, x);
  EXPECT_TRUE(Matches(dx, {1.0 / 3, 1.0 / 3, 1.0 / 3, 2.0 / 3, 2.0 / 3, 2.0 / 3}, 1e-7));
  // keepdim dy, all axes
  auto dyk = bt::host(DType::f32, {2, 1}, {1, 2});
  dx = backward(desc(ReduceOp::sum, x, {-1}, true), {dyk}, x);
  EXPECT_TRUE(Matches(dx, {1, 1, 1, 2, 2, 2}));
  auto dys = bt::host(DType::f32, {}, {3});
  dx = backward(desc(ReduceOp::sum, x), {dys}, x);
  EXPECT_TRUE(Matches(dx, {3, 3, 3, 3, 3, 3}));
  // var_mean: both gradients
  auto v = bt::host(DType::f64, {4}, {1, 2, 3, 4});
  auto dvar = bt::host(DType::f64, {}, {1}), dmean = bt::host(DType::f64, {}, {4});
  auto dvm = desc(ReduceOp::var_mean, v);
  dvm.correction = 0;
  EXPECT_TRUE(Matches(backward(dvm, {dvar, dmean}, v), {0.25, 0.75, 1.25, 1.75}, 1e-15));
  // nansum: NaN positions get 0
  auto xn = bt::host(DType::f64, {3}, {1, kNaN, 2});
  EXPECT_TRUE(Matches(backward(desc(ReduceOp::nansum, xn), {dvar}, xn), {1, 0, 1}));
  // empty backward: nothing to write, no error
  HostTensor e(DType::f32, {0, 3});
  HostTensor de(DType::f32, {3});
  auto dxe = backward(desc(ReduceOp::sum, e, {0}), {de}, e);
  EXPECT_EQ(dxe.numel(), 0);
}

TEST(ReduceCpu, BackwardStridedOperands) {
  // x transposed, dy reversed, dx strided: compare with the contiguous run
  std::mt19937_64 rng(5);
  HostTensor xt(DType::f64, {4, 3}, {1, 4});
  fill(xt, rng);
  HostTensor xc(DType::f64, {4, 3});
  for (int64_t i = 0; i < 12; ++i) xc.set(i, xt.get(i));
  HostTensor dyr(DType::f64, {4}, {-1});
  fill(dyr, rng);
  HostTensor dyc(DType::f64, {4});
  for (int64_t i = 0; i < 4; ++i) dyc.set(i, dyr.get(i));
  for (ReduceOp op : {ReduceOp::sum, ReduceOp::var, ReduceOp::logsumexp, ReduceOp::amax, ReduceOp::norm, ReduceOp::prod}) {
    SCOPED_TRACE(op_name(op));
    HostTensor want = backward(desc(op, xc, {1}), {dyc}, xc);
    ReduceDescriptor d = desc(op, xt, {1}, false, Direction::backward);
    d.grad_outputs = {dyr.operand()};
    d.outputs = {Operand::tensor(DType::f64, {4, 3}, {1, -4})};
    HostTensor dx(DType::f64, {4, 3}, {1, -4});
    ASSERT_OK(run(d, {&dyr, &xt}, {&dx}));
    EXPECT_TRUE(Matches(dx, want.values(), 1e-15));
  }
}

struct FdConfig {
  ReduceOp op;
  double correction = 1.0;
  double p = 2.0;
};

// sum over results of <dy_r, y_r(x)> through the forward plan.
double plan_loss(const ReduceDescriptor& d, const HostTensor& x, const std::vector<HostTensor>& dys) {
  auto outs = forward(d, x);
  double l = 0;
  for (size_t r = 0; r < dys.size(); ++r)
    for (int64_t i = 0; i < dys[r].numel(); ++i) l += dys[r].get(i) * outs[r].get(i);
  return l;
}

TEST(ReduceCpu, BackwardMatchesFiniteDifferencesOfForwardPlan) {
  std::vector<FdConfig> configs;
  for (const auto& info : all_reduce_ops()) {
    if (!info.differentiable) continue;
    if (info.op == ReduceOp::var || info.op == ReduceOp::std || info.op == ReduceOp::var_mean) {
      configs.push_back({info.op, 1.0, 2.0});
      configs.push_back({info.op, 0.0, 2.0});
    } else if (info.op == ReduceOp::norm) {
      for (double p : {2.0, 1.0, 3.0, 0.5, -1.0, kInf, -kInf, 0.0}) configs.push_back({info.op, 1.0, p});
    } else {
      configs.push_back({info.op});
    }
  }
  ASSERT_EQ(configs.size(), 14u + 3u + 7u);
  std::mt19937_64 rng(99);
  // Distinct magnitudes spaced >= 0.05 apart, away from 0 (no ties, no kinks), random signs.
  HostTensor x(DType::f64, {3, 4});
  std::vector<double> mags;
  for (int i = 0; i < 12; ++i) mags.push_back(0.4 + 0.07 * i);
  std::shuffle(mags.begin(), mags.end(), rng);
  std::bernoulli_distribution neg(0.5);
  for (int64_t i = 0; i < 12; ++i) x.set(i, neg(rng) ? -mags[static_cast<size_t>(i)] : mags[static_cast<size_t>(i)]);
  int checked = 0;
  for (const auto& c : configs) {
    for (std::vector<int> axes : {std::vector<int>{1}, std::vector<int>{0}, std::vector<int>{}, std::vector<int>{-1, 0}}) {
      for (bool keepdim : {false, true}) {
        ReduceDescriptor d = desc(c.op, x, axes, keepdim);
        d.correction = c.correction;
        d.p = c.p;
        SCOPED_TRACE(ReduceFamily::describe(d) + " correction " + std::to_string(c.correction) + " p " + std::to_string(c.p));
        auto sig = infer_signature(d);
        ASSERT_TRUE(sig);
        std::vector<HostTensor> dys;
        const size_t ngrad = c.op == ReduceOp::var_mean ? 2 : 1;
        for (size_t r = 0; r < ngrad; ++r) {
          dys.emplace_back(DType::f64, sig->outputs[r].shape);
          fill(dys.back(), rng, -1.5, 1.5);
        }
        HostTensor dx = backward(d, dys, x);
        ASSERT_EQ(dx.numel(), 12);
        for (int64_t i = 0; i < 12; ++i) {
          const double h = 1e-6;
          HostTensor xp = x, xm = x;
          xp.set(i, x.get(i) + h);
          xm.set(i, x.get(i) - h);
          const double fd = (plan_loss(d, xp, dys) - plan_loss(d, xm, dys)) / (2 * h);
          EXPECT_NEAR(dx.get(i), fd, 1e-6 * (1 + std::fabs(fd))) << "element " << i;
          ++checked;
        }
      }
    }
  }
  EXPECT_EQ(checked, 24 * 4 * 2 * 12);
}

}  // namespace
