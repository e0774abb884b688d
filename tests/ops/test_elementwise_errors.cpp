// Every bad elementwise input gives a clear Status: the right code, and a message that names the
// op and quotes the offending values.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "baracuda/baracuda.hpp"
#include "test_support.hpp"

namespace {

using namespace baracuda;
using bt::HostTensor;

#define EXPECT_STATUS(expr, status_code, ...)                                                   \
  do {                                                                                          \
    const ::baracuda::Status s_ = (expr);                                                       \
    EXPECT_EQ(s_.code(), status_code) << s_.to_string();                                        \
    for (const char* part_ : {__VA_ARGS__})                                                     \
      EXPECT_NE(s_.message().find(part_), std::string::npos) << "missing \"" << part_ << "\" in: " \
                                                             << s_.message();                  \
  } while (0)

Status select_status(const ElementwiseDescriptor& d) { return ElementwisePlan::select(Stream::cpu(), d).status(); }

// Selects (must succeed) and runs; can_implement must agree with run.
Status run_status(const ElementwiseDescriptor& d, const ElementwiseArgs& a) {
  auto p = ElementwisePlan::select(Stream::cpu(), d);
  EXPECT_TRUE(p) << p.status().to_string();
  if (!p) return p.status();
  Status ci = p->can_implement(a);
  Status r = p->run(Stream::cpu(), {}, a);
  EXPECT_EQ(ci.code(), r.code()) << "can_implement: " << ci.to_string() << " run: " << r.to_string();
  EXPECT_EQ(ci.message(), r.message());
  return r;
}

ElementwiseDescriptor unary(ElementwiseOp op, DType dt, std::vector<int64_t> shape) {
  ElementwiseDescriptor d;
  d.op = op;
  d.inputs = {Operand::tensor(dt, std::move(shape))};
  return d;
}

ElementwiseDescriptor binary(ElementwiseOp op, Operand a, Operand b) {
  ElementwiseDescriptor d;
  d.op = op;
  d.inputs = {std::move(a), std::move(b)};
  return d;
}

ElementwiseArgs args1(const HostTensor& x, HostTensor& y) {
  ElementwiseArgs a;
  a.inputs[0] = x.ref();
  a.outputs[0] = y.mut();
  return a;
}

// ---------------------------------------------------------------------------------------------
// Descriptor errors (select)

TEST(ElementwiseErrors, WrongArity) {
  ElementwiseDescriptor d;
  d.op = ElementwiseOp::add;
  d.inputs = {Operand::tensor(DType::f32, {3})};
  EXPECT_STATUS(select_status(d), StatusCode::invalid_argument, "[elementwise.add]", "expects 2 inputs, got 1");
  d.op = ElementwiseOp::exp;
  d.inputs = {Operand::tensor(DType::f32, {3}), Operand::tensor(DType::f32, {3})};
  EXPECT_STATUS(select_status(d), StatusCode::invalid_argument, "[elementwise.exp]", "expects 1 inputs, got 2");
  d.op = ElementwiseOp::where;
  EXPECT_STATUS(select_status(d), StatusCode::invalid_argument, "[elementwise.where]", "expects 3 inputs, got 2");
}

TEST(ElementwiseErrors, UnknownOp) {
  ElementwiseDescriptor d;
  d.op = static_cast<ElementwiseOp>(9999);
  d.inputs = {Operand::tensor(DType::f32, {3})};
  EXPECT_STATUS(select_status(d), StatusCode::invalid_argument, "unknown op id 9999");
}

TEST(ElementwiseErrors, ShapesDoNotBroadcast) {
  auto d = binary(ElementwiseOp::add, Operand::tensor(DType::f32, {3}), Operand::tensor(DType::f32, {4}));
  EXPECT_STATUS(select_status(d), StatusCode::invalid_argument, "[elementwise.add]", "do not broadcast",
                "size 4 against 3");
  auto d2 = binary(ElementwiseOp::mul, Operand::tensor(DType::f32, {2, 3, 4}), Operand::tensor(DType::f32, {5, 1}));
  EXPECT_STATUS(select_status(d2), StatusCode::invalid_argument, "[elementwise.mul]", "size 5 against 3", "dim 1");
  // Broadcastable ones are fine.
  auto ok = binary(ElementwiseOp::mul, Operand::tensor(DType::f32, {2, 3, 4}), Operand::tensor(DType::f32, {3, 1}));
  EXPECT_TRUE(select_status(ok).is_ok());
}

TEST(ElementwiseErrors, OutputLayoutErrors) {
  auto d = unary(ElementwiseOp::exp, DType::f32, {4});
  d.outputs = {Operand::tensor(DType::f32, {5})};
  EXPECT_STATUS(select_status(d), StatusCode::invalid_argument, "[elementwise.exp]", "output 0 has shape [5]",
                "expected [4]");
  d.outputs = {Operand::tensor(DType::f32, {4}), Operand::tensor(DType::f32, {4})};
  EXPECT_STATUS(select_status(d), StatusCode::invalid_argument, "expects 1 output layouts, got 2");
  d.outputs = {Operand::tensor(DType::i32, {4})};
  EXPECT_STATUS(select_status(d), StatusCode::invalid_argument, "output 0 dtype i32 can't hold a f32 result");
  auto o = unary(ElementwiseOp::exp, DType::f32, {4});
  o.output_dtype = DType::i64;
  EXPECT_STATUS(select_status(o), StatusCode::invalid_argument, "[elementwise.exp]",
                "result dtype f32 can't be cast to output dtype i64");
  o.output_dtype = DType::f64;  // widening is fine
  EXPECT_TRUE(select_status(o).is_ok());
}

TEST(ElementwiseErrors, UnsupportedDtypes) {
  EXPECT_STATUS(select_status(unary(ElementwiseOp::relu, DType::i32, {4})), StatusCode::invalid_argument,
                "[elementwise.relu]", "requires floating inputs", "got i32");
  EXPECT_STATUS(select_status(unary(ElementwiseOp::gelu, DType::boolean, {4})), StatusCode::invalid_argument,
                "[elementwise.gelu]", "got bool");
  auto fp8 = binary(ElementwiseOp::add, Operand::tensor(DType::f8e4m3, {4}), Operand::tensor(DType::f8e4m3, {4}));
  EXPECT_STATUS(select_status(fp8), StatusCode::not_supported, "[elementwise.add]", "float8");
  auto fp8_mixed = binary(ElementwiseOp::add, Operand::tensor(DType::f8e5m2, {4}), Operand::tensor(DType::f32, {4}));
  EXPECT_STATUS(select_status(fp8_mixed), StatusCode::invalid_argument, "f8e5m2", "f32");
  // Ops without complex math refuse complex operands (test_elementwise_complex_cpu.cpp covers the rest).
  EXPECT_STATUS(select_status(unary(ElementwiseOp::erf, DType::c64, {4})), StatusCode::not_supported,
                "[elementwise.erf]", "complex", "c64");
  auto cplx = binary(ElementwiseOp::maximum, Operand::tensor(DType::f32, {4}), Operand::tensor(DType::c128, {4}));
  EXPECT_STATUS(select_status(cplx), StatusCode::not_supported, "[elementwise.maximum]", "c128");
  EXPECT_STATUS(select_status(binary(ElementwiseOp::bitwise_and, Operand::tensor(DType::f32, {4}),
                                     Operand::tensor(DType::f32, {4}))),
                StatusCode::invalid_argument, "[elementwise.bitwise_and]", "requires integer or bool inputs, got f32");
  EXPECT_STATUS(select_status(binary(ElementwiseOp::shift_left, Operand::tensor(DType::boolean, {4}),
                                     Operand::tensor(DType::boolean, {4}))),
                StatusCode::invalid_argument, "[elementwise.shift_left]", "requires integer inputs, got bool");
  EXPECT_STATUS(select_status(binary(ElementwiseOp::sub, Operand::tensor(DType::boolean, {4}),
                                     Operand::tensor(DType::boolean, {4}))),
                StatusCode::invalid_argument, "[elementwise.sub]", "not defined for bool");
  EXPECT_STATUS(select_status(unary(ElementwiseOp::neg, DType::boolean, {4})), StatusCode::invalid_argument,
                "[elementwise.neg]", "not defined for bool");
  EXPECT_STATUS(select_status(binary(ElementwiseOp::nextafter, Operand::tensor(DType::i32, {4}),
                                     Operand::tensor(DType::i32, {4}))),
                StatusCode::invalid_argument, "[elementwise.nextafter]", "got i32");
}

TEST(ElementwiseErrors, ScalarOperands) {
  auto both = binary(ElementwiseOp::add, Operand::scalar(DType::f64), Operand::scalar(DType::i64));
  EXPECT_STATUS(select_status(both), StatusCode::invalid_argument, "[elementwise.add]", "at least one tensor operand");
  auto kind = binary(ElementwiseOp::add, Operand::tensor(DType::f32, {4}), Operand::scalar(DType::i32));
  EXPECT_STATUS(select_status(kind), StatusCode::invalid_argument, "[elementwise.add]",
                "scalar operand's kind must be boolean, i64 or f64, got i32");
}

TEST(ElementwiseErrors, RankAndSizeLimits) {
  std::vector<int64_t> nine(9, 2);
  EXPECT_STATUS(select_status(unary(ElementwiseOp::exp, DType::f32, nine)), StatusCode::invalid_argument,
                "[elementwise.exp]", "rank 9");
  EXPECT_STATUS(select_status(unary(ElementwiseOp::exp, DType::f32, {4, -1})), StatusCode::invalid_argument,
                "[elementwise.exp]", "negative size -1");
  const int64_t big = int64_t{1} << 40;
  EXPECT_STATUS(select_status(unary(ElementwiseOp::exp, DType::f32, {big, big})), StatusCode::invalid_argument,
                "[elementwise.exp]", "overflows int64");
  // Each operand alone is fine, their broadcast is not.
  auto bc = binary(ElementwiseOp::add, Operand::tensor(DType::f32, {big, 1}), Operand::tensor(DType::f32, {1, big}));
  EXPECT_STATUS(select_status(bc), StatusCode::invalid_argument, "[elementwise.add]", "overflows int64");
  auto st = unary(ElementwiseOp::exp, DType::f32, {4, 3});
  st.inputs[0].strides = {1};
  EXPECT_STATUS(select_status(st), StatusCode::invalid_argument, "[elementwise.exp]", "1 strides for 2 sizes");
}

TEST(ElementwiseErrors, GatedOps) {
  auto odd = unary(ElementwiseOp::glu, DType::f32, {4, 5});
  EXPECT_STATUS(select_status(odd), StatusCode::invalid_argument, "[elementwise.glu]", "size 5 along dim 1 is not even");
  auto bad_dim = unary(ElementwiseOp::swiglu, DType::f32, {4, 6});
  bad_dim.attrs.dim = 2;
  EXPECT_STATUS(select_status(bad_dim), StatusCode::invalid_argument, "[elementwise.swiglu]",
                "dim=2 out of range for rank 2");
  bad_dim.attrs.dim = -3;
  EXPECT_STATUS(select_status(bad_dim), StatusCode::invalid_argument, "dim=-3 out of range for rank 2");
  bad_dim.attrs.dim = 0;  // 4 rows split in two: fine
  EXPECT_TRUE(select_status(bad_dim).is_ok());
  EXPECT_STATUS(select_status(unary(ElementwiseOp::geglu, DType::i32, {4, 6})), StatusCode::invalid_argument,
                "[elementwise.geglu]", "got i32");
  EXPECT_STATUS(select_status(unary(ElementwiseOp::reglu, DType::f32, {})), StatusCode::invalid_argument,
                "[elementwise.reglu]", "rank >= 1");
}

TEST(ElementwiseErrors, Prelu) {
  auto w = binary(ElementwiseOp::prelu, Operand::tensor(DType::f32, {2, 3, 4}), Operand::tensor(DType::f32, {4}));
  EXPECT_STATUS(select_status(w), StatusCode::invalid_argument, "[elementwise.prelu]",
                "weight of shape [4] must have 1 or 3 (x.shape[1]) elements");
  auto w2 = binary(ElementwiseOp::prelu, Operand::tensor(DType::f32, {2, 3}), Operand::tensor(DType::f32, {3, 1}));
  EXPECT_STATUS(select_status(w2), StatusCode::invalid_argument, "weight of shape [3, 1]");
  auto dt = binary(ElementwiseOp::prelu, Operand::tensor(DType::f32, {2, 3}), Operand::tensor(DType::f16, {3}));
  EXPECT_STATUS(select_status(dt), StatusCode::invalid_argument, "weight dtype f16 differs from x dtype f32");
  auto sc = binary(ElementwiseOp::prelu, Operand::tensor(DType::f32, {2, 3}), Operand::scalar());
  EXPECT_STATUS(select_status(sc), StatusCode::invalid_argument, "[elementwise.prelu]", "must be tensors");
  auto ok = binary(ElementwiseOp::prelu, Operand::tensor(DType::f32, {2, 3}), Operand::tensor(DType::f32, {1}));
  EXPECT_TRUE(select_status(ok).is_ok());
}

TEST(ElementwiseErrors, WhereCondition) {
  ElementwiseDescriptor d;
  d.op = ElementwiseOp::where;
  d.inputs = {Operand::tensor(DType::f32, {4}), Operand::tensor(DType::f32, {4}), Operand::tensor(DType::f32, {4})};
  EXPECT_STATUS(select_status(d), StatusCode::invalid_argument, "[elementwise.where]",
                "condition must be bool (or u8), got f32");
  d.inputs[0].dtype = DType::i32;
  EXPECT_STATUS(select_status(d), StatusCode::invalid_argument, "got i32");
  d.inputs[0].dtype = DType::u8;
  EXPECT_TRUE(select_status(d).is_ok());
}

TEST(ElementwiseErrors, Cast) {
  auto d = unary(ElementwiseOp::cast, DType::f32, {4});
  EXPECT_STATUS(select_status(d), StatusCode::invalid_argument, "[elementwise.cast]",
                "output_dtype (the target dtype) is required");
  d.output_dtype = DType::c64;
  d.attrs.scale = 2.0;  // complex targets take plain conversions only
  EXPECT_STATUS(select_status(d), StatusCode::invalid_argument, "[elementwise.cast]", "scale needs a floating target",
                "c64");
  d.attrs.scale = 1.0;
  auto si = unary(ElementwiseOp::cast, DType::i32, {4});
  si.output_dtype = DType::f32;
  si.attrs.scale = 2.0;
  EXPECT_STATUS(select_status(si), StatusCode::invalid_argument, "scale and amax need a floating input, got i32");
  auto so = unary(ElementwiseOp::cast, DType::f32, {4});
  so.output_dtype = DType::i8;
  so.attrs.scale = 2.0;
  EXPECT_STATUS(select_status(so), StatusCode::invalid_argument, "scale needs a floating target, got i8");
  auto bwd = unary(ElementwiseOp::cast, DType::f32, {4});
  bwd.output_dtype = DType::i32;
  bwd.direction = Direction::backward;
  EXPECT_STATUS(select_status(bwd), StatusCode::invalid_argument, "[elementwise.cast.backward]",
                "needs floating source and target");
}

TEST(ElementwiseErrors, BackwardErrors) {
  auto eq = binary(ElementwiseOp::eq, Operand::tensor(DType::f32, {4}), Operand::tensor(DType::f32, {4}));
  eq.direction = Direction::backward;
  EXPECT_STATUS(select_status(eq), StatusCode::invalid_argument, "[elementwise.eq.backward]", "not differentiable");
  auto bn = unary(ElementwiseOp::bitwise_not, DType::i32, {4});
  bn.direction = Direction::backward;
  EXPECT_STATUS(select_status(bn), StatusCode::invalid_argument, "[elementwise.bitwise_not.backward]",
                "not differentiable");
  auto ib = binary(ElementwiseOp::mul, Operand::tensor(DType::i32, {4}), Operand::tensor(DType::i32, {4}));
  ib.direction = Direction::backward;
  EXPECT_STATUS(select_status(ib), StatusCode::invalid_argument, "[elementwise.mul.backward]",
                "backward needs floating operands");
  auto go = unary(ElementwiseOp::exp, DType::f32, {4});
  go.grad_output = Operand::tensor(DType::f32, {4});
  EXPECT_STATUS(select_status(go), StatusCode::invalid_argument, "grad_output is only for backward");
  go.direction = Direction::backward;
  go.grad_output = Operand::tensor(DType::f32, {5});
  EXPECT_STATUS(select_status(go), StatusCode::invalid_argument, "[elementwise.exp.backward]",
                "grad_output has shape [5], expected [4]");
  go.grad_output = Operand::tensor(DType::i32, {4});
  EXPECT_STATUS(select_status(go), StatusCode::invalid_argument, "grad_output must be f64/f32/f16/bf16");
}

TEST(ElementwiseErrors, AlignmentPromiseNotPowerOfTwo) {
  auto d = unary(ElementwiseOp::exp, DType::f32, {4});
  d.alignment = 12;
  EXPECT_STATUS(select_status(d), StatusCode::invalid_argument, "[elementwise.exp]", "alignment 12 is not a power of two");
  d.alignment = 0;
  EXPECT_STATUS(select_status(d), StatusCode::invalid_argument, "alignment 0");
}

// ---------------------------------------------------------------------------------------------
// Argument errors (run / can_implement)

TEST(ElementwiseErrors, ArgumentShapeDtypeStrides) {
  auto d = unary(ElementwiseOp::exp, DType::f32, {4});
  HostTensor x(DType::f32, {4}), y(DType::f32, {4});
  HostTensor y5(DType::f32, {5}), x16(DType::f16, {4}), y64(DType::f64, {4});
  {
    ElementwiseArgs a = args1(x, y5);
    EXPECT_STATUS(run_status(d, a), StatusCode::invalid_argument, "[elementwise.exp]",
                  "output 0 has shape [5], the plan expects [4]");
  }
  {
    ElementwiseArgs a = args1(x16, y);
    EXPECT_STATUS(run_status(d, a), StatusCode::invalid_argument, "[elementwise.exp]",
                  "input 0 has dtype f16, the plan expects f32");
  }
  {
    ElementwiseArgs a = args1(x, y64);
    EXPECT_STATUS(run_status(d, a), StatusCode::invalid_argument, "output 0 has dtype f64, the plan expects f32");
  }
  {
    auto d2 = unary(ElementwiseOp::exp, DType::f32, {2, 2});
    HostTensor xt(DType::f32, {2, 2}, {1, 2}), y2(DType::f32, {2, 2});
    ElementwiseArgs a = args1(xt, y2);
    EXPECT_STATUS(run_status(d2, a), StatusCode::invalid_argument, "input 0 has strides [1, 2], the plan expects [2, 1]");
  }
  {
    ElementwiseArgs a = args1(x, y);
    EXPECT_TRUE(run_status(d, a).is_ok());
  }
}

TEST(ElementwiseErrors, NullPointers) {
  auto d = unary(ElementwiseOp::exp, DType::f32, {4});
  HostTensor y(DType::f32, {4});
  ElementwiseArgs a;
  a.inputs[0] = *make_tensor_ref(nullptr, DType::f32, {4});
  a.outputs[0] = y.mut();
  EXPECT_STATUS(run_status(d, a), StatusCode::invalid_argument, "[elementwise.exp]", "input 0 has a null data pointer");
  HostTensor x(DType::f32, {4});
  a.inputs[0] = x.ref();
  a.outputs[0] = *make_tensor_mut(nullptr, DType::f32, {4});
  EXPECT_STATUS(run_status(d, a), StatusCode::invalid_argument, "output 0 has a null data pointer");
  // Null is fine for an empty tensor.
  auto e = unary(ElementwiseOp::exp, DType::f32, {0, 3});
  ElementwiseArgs ae;
  ae.inputs[0] = *make_tensor_ref(nullptr, DType::f32, {0, 3});
  ae.outputs[0] = *make_tensor_mut(nullptr, DType::f32, {0, 3});
  EXPECT_TRUE(run_status(e, ae).is_ok());
}

TEST(ElementwiseErrors, Misaligned) {
  alignas(256) static unsigned char buf[256];
  auto d = unary(ElementwiseOp::exp, DType::f32, {4});
  HostTensor y(DType::f32, {4});
  ElementwiseArgs a;
  a.inputs[0] = *make_tensor_ref(buf + 1, DType::f32, {4});
  a.outputs[0] = y.mut();
  EXPECT_STATUS(run_status(d, a), StatusCode::misaligned, "[elementwise.exp]", "input 0 pointer",
                "not aligned to its element size 4");
  // 4-byte aligned but the descriptor promised 16.
  a.inputs[0] = *make_tensor_ref(buf + 4, DType::f32, {4});
  EXPECT_STATUS(run_status(d, a), StatusCode::misaligned, "input 0 pointer is 4-byte aligned, the descriptor promised 16");
  // The same pointer with a smaller promise runs.
  std::memset(buf, 0, sizeof buf);
  d.alignment = 4;
  EXPECT_TRUE(run_status(d, a).is_ok());
  EXPECT_EQ(y.get(0), 1.0);  // exp(0)
  // Outputs are checked too.
  a.inputs[0] = *make_tensor_ref(buf, DType::f32, {4});
  a.outputs[0] = *make_tensor_mut(buf + 130, DType::f32, {4});
  EXPECT_STATUS(run_status(d, a), StatusCode::misaligned, "output 0 pointer");
}

TEST(ElementwiseErrors, DeviceMismatch) {
  auto d = unary(ElementwiseOp::exp, DType::f32, {4});
  HostTensor x(DType::f32, {4}), y(DType::f32, {4});
  ElementwiseArgs a = args1(x, y);
  a.inputs[0].device = Device::cuda(0, 90);
  EXPECT_STATUS(run_status(d, a), StatusCode::invalid_argument, "[elementwise.exp]",
                "input 0 is on cuda:0(sm_90), the plan runs on cpu");
  a = args1(x, y);
  a.outputs[0].device = Device::cuda(1, 80);
  EXPECT_STATUS(run_status(d, a), StatusCode::invalid_argument, "output 0 is on cuda:1(sm_80)");
}

TEST(ElementwiseErrors, OverlapAndAliasing) {
  auto d = unary(ElementwiseOp::neg, DType::f32, {4});
  HostTensor buf = bt::host(DType::f32, {8}, {1, 2, 3, 4, 5, 6, 7, 8});
  float* base = static_cast<float*>(buf.data());
  ElementwiseArgs a;
  a.inputs[0] = *make_tensor_ref(base, DType::f32, {4});
  a.outputs[0] = *make_tensor_mut(base + 1, DType::f32, {4});
  d.alignment = 4;
  EXPECT_STATUS(run_status(d, a), StatusCode::invalid_argument, "[elementwise.neg]",
                "output 0 partially overlaps input 0");
  // Same pointer, different strides: still partial.
  auto d2 = unary(ElementwiseOp::neg, DType::f32, {2, 2});
  d2.alignment = 4;
  d2.outputs = {Operand::tensor(DType::f32, {2, 2}, {1, 2})};
  ElementwiseArgs a2;
  a2.inputs[0] = *make_tensor_ref(base, DType::f32, {2, 2});
  std::vector<int64_t> sz{2, 2}, st{1, 2};
  a2.outputs[0] = *make_tensor_mut(base, DType::f32, sz, st);
  EXPECT_STATUS(run_status(d2, a2), StatusCode::invalid_argument, "partially overlaps");
  // Exact aliasing (in-place) is allowed and computes the right values.
  a.outputs[0] = *make_tensor_mut(base, DType::f32, {4});
  ASSERT_TRUE(run_status(d, a).is_ok());
  EXPECT_EQ(buf.values(), (std::vector<double>{-1, -2, -3, -4, 5, 6, 7, 8}));
  // Disjoint halves of one buffer are fine.
  a.outputs[0] = *make_tensor_mut(base + 4, DType::f32, {4});
  ASSERT_TRUE(run_status(d, a).is_ok());
  EXPECT_EQ(buf.values(), (std::vector<double>{-1, -2, -3, -4, 1, 2, 3, 4}));
  // Binary: an output aliasing the second input exactly is also in-place.
  auto db = binary(ElementwiseOp::sub, Operand::tensor(DType::f32, {4}), Operand::tensor(DType::f32, {4}));
  db.alignment = 4;
  ElementwiseArgs ab;
  ab.inputs[0] = *make_tensor_ref(base, DType::f32, {4});
  ab.inputs[1] = *make_tensor_ref(base + 4, DType::f32, {4});
  ab.outputs[0] = *make_tensor_mut(base + 4, DType::f32, {4});
  ASSERT_TRUE(run_status(db, ab).is_ok());
  EXPECT_EQ(buf.values(), (std::vector<double>{-1, -2, -3, -4, -2, -4, -6, -8}));
}

TEST(ElementwiseErrors, InternalOverlapOfOutput) {
  auto d = unary(ElementwiseOp::exp, DType::f32, {4, 3});
  d.outputs = {Operand::tensor(DType::f32, {4, 3}, {0, 1})};
  ASSERT_TRUE(select_status(d).is_ok());
  HostTensor x(DType::f32, {4, 3}), y(DType::f32, {4, 3}, {0, 1});
  ElementwiseArgs a = args1(x, y);
  EXPECT_STATUS(run_status(d, a), StatusCode::invalid_argument, "[elementwise.exp]",
                "output 0 has overlapping elements (strides [0, 1])");
  // Overlap without a zero stride: rows of 3 elements, 2 apart.
  auto d2 = unary(ElementwiseOp::exp, DType::f32, {4, 3});
  d2.outputs = {Operand::tensor(DType::f32, {4, 3}, {2, 1})};
  HostTensor y2(DType::f32, {4, 3}, {2, 1});
  ElementwiseArgs a2 = args1(x, y2);
  EXPECT_STATUS(run_status(d2, a2), StatusCode::invalid_argument, "output 0 has overlapping elements (strides [2, 1])");
}

TEST(ElementwiseErrors, OutputsOverlapEachOther) {
  auto d = unary(ElementwiseOp::cast, DType::f32, {4});
  d.output_dtype = DType::f32;
  d.attrs.amax = true;
  d.alignment = 4;
  HostTensor x(DType::f32, {4}), out(DType::f32, {8});
  float* o = static_cast<float*>(out.data());
  ElementwiseArgs a;
  a.inputs[0] = x.ref();
  a.outputs[0] = *make_tensor_mut(o, DType::f32, {4});
  a.outputs[1] = *make_tensor_mut(o + 3, DType::f32, {1});
  EXPECT_STATUS(run_status(d, a), StatusCode::invalid_argument, "[elementwise.cast]", "outputs 0 and 1 overlap");
}

TEST(ElementwiseErrors, MissingAndExtraOperands) {
  auto d = binary(ElementwiseOp::add, Operand::tensor(DType::f32, {4}), Operand::tensor(DType::f32, {4}));
  HostTensor x(DType::f32, {4}), y(DType::f32, {4}), z(DType::f32, {4}), w(DType::f32, {4});
  ElementwiseArgs a;
  a.inputs[0] = x.ref();
  a.inputs[1] = y.ref();
  EXPECT_STATUS(run_status(d, a), StatusCode::invalid_argument, "[elementwise.add]", "output 0 is missing");
  a.outputs[0] = z.mut();
  a.inputs[2] = w.ref();
  EXPECT_STATUS(run_status(d, a), StatusCode::invalid_argument, "input 2 is given but the op takes 2");
  a.inputs[2] = TensorRef{};
  a.inputs[1] = TensorRef{};
  EXPECT_STATUS(run_status(d, a), StatusCode::invalid_argument, "input 1 is missing");
  a.inputs[1] = y.ref();
  a.outputs[1] = w.mut();
  EXPECT_STATUS(run_status(d, a), StatusCode::invalid_argument, "output 1 is given but the op has 1");
  a.outputs[1] = TensorMut{};
  EXPECT_TRUE(run_status(d, a).is_ok());
}

TEST(ElementwiseErrors, GradientsThatDoNotExist) {
  // mul(x, 2.5).backward: the scalar gets no gradient.
  auto d = binary(ElementwiseOp::mul, Operand::tensor(DType::f32, {4}), Operand::scalar(DType::f64));
  d.direction = Direction::backward;
  HostTensor dy = bt::host(DType::f32, {4}, {1, 1, 1, 1}), x = bt::host(DType::f32, {4}, {1, 2, 3, 4});
  HostTensor dx(DType::f32, {4}), ds(DType::f32, {4});
  ElementwiseArgs a;
  a.inputs[0] = dy.ref();
  a.inputs[1] = x.ref();
  a.scalars[1] = Scalar::of(2.5);
  a.outputs[0] = dx.mut();
  a.outputs[1] = ds.mut();
  EXPECT_STATUS(run_status(d, a), StatusCode::invalid_argument, "[elementwise.mul.backward]",
                "output 1: scalar operand 1 has no gradient");
  a.outputs[1] = TensorMut{};
  ASSERT_TRUE(run_status(d, a).is_ok());
  EXPECT_EQ(dx.values(), (std::vector<double>{2.5, 2.5, 2.5, 2.5}));

  // where.backward: the condition gets no gradient.
  ElementwiseDescriptor w;
  w.op = ElementwiseOp::where;
  w.direction = Direction::backward;
  w.inputs = {Operand::tensor(DType::boolean, {4}), Operand::tensor(DType::f32, {4}), Operand::tensor(DType::f32, {4})};
  HostTensor c(DType::boolean, {4}), dc(DType::boolean, {4}), da(DType::f32, {4}), db(DType::f32, {4});
  ElementwiseArgs aw;
  aw.inputs[0] = dy.ref();
  aw.inputs[1] = c.ref();
  aw.inputs[2] = x.ref();
  aw.inputs[3] = x.ref();
  aw.outputs[0] = dc.mut();
  aw.outputs[1] = da.mut();
  aw.outputs[2] = db.mut();
  EXPECT_STATUS(run_status(w, aw), StatusCode::invalid_argument, "[elementwise.where.backward]",
                "condition is not differentiable");

  // A scalar kind in the args that is not a Python number kind.
  auto fwd = binary(ElementwiseOp::mul, Operand::tensor(DType::f32, {4}), Operand::scalar(DType::f64));
  ElementwiseArgs af;
  af.inputs[0] = x.ref();
  af.scalars[1] = Scalar{DType::f32, 1.0, 1};
  af.outputs[0] = dx.mut();
  EXPECT_STATUS(run_status(fwd, af), StatusCode::invalid_argument, "[elementwise.mul]", "scalar 1 has kind f32");
}

TEST(ElementwiseErrors, BackwardArgumentErrors) {
  auto d = unary(ElementwiseOp::tanh, DType::f32, {4});
  d.direction = Direction::backward;
  HostTensor dy(DType::f32, {4}), x(DType::f32, {4}), dx(DType::f32, {4}), dy16(DType::f16, {4});
  ElementwiseArgs a;
  a.inputs[0] = dy16.ref();
  a.inputs[1] = x.ref();
  a.outputs[0] = dx.mut();
  EXPECT_STATUS(run_status(d, a), StatusCode::invalid_argument, "[elementwise.tanh.backward]",
                "input 0 (grad_output) has dtype f16, the plan expects f32");
  a.inputs[0] = TensorRef{};
  EXPECT_STATUS(run_status(d, a), StatusCode::invalid_argument, "input 0 (grad_output) is missing");
  // A backward with no wanted gradient at all is valid and writes nothing.
  a.inputs[0] = dy.ref();
  a.outputs[0] = TensorMut{};
  EXPECT_TRUE(run_status(d, a).is_ok());
}

}  // namespace
