// fp8 GEMM scale modes on the CPU reference: per-row / per-column ("rowwise"), 1x128 and 128x128
// block scales, against a plain loop written here (small integers times powers of two: every
// product and sum is exact in double and in an f32 D), stored scale layouts, and the descriptor /
// argument errors.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "baracuda/baracuda.hpp"
#include "gtest_helpers.hpp"
#include "test_support.hpp"

namespace {

using namespace baracuda;
using bt::HostTensor;

int64_t blocks(int64_t n) { return (n + 127) / 128; }

// Small integers in e4m3 (exact), varying with the position.
HostTensor fp8_matrix(int64_t rows, int64_t cols, int salt) {
  HostTensor t(DType::f8e4m3, {rows, cols});
  for (int64_t i = 0; i < rows * cols; ++i) t.set(i, static_cast<double>((i * 7 + salt) % 7) - 3.0);
  return t;
}

// Powers of two 2^-2 .. 2^2, varying with the position.
HostTensor pow2_scales(std::vector<int64_t> shape, int salt, std::vector<int64_t> strides = {}) {
  HostTensor t(DType::f32, shape, std::move(strides));
  for (int64_t i = 0; i < t.numel(); ++i) t.set(i, std::ldexp(1.0, static_cast<int>((i * 3 + salt) % 5) - 2));
  return t;
}

// The scale of A[m, k] (is_a) or B[k, n] for a mode, read from the logical scale tensor.
double scale_at(const HostTensor& s, GemmScaleMode mode, bool is_a, int64_t outer, int64_t k) {
  int64_t o = outer, kb = k / 128;
  if (mode == GemmScaleMode::outer_vector) kb = 0;
  if (mode == GemmScaleMode::block_128x128) o = outer / 128;
  const int64_t cols = s.shape()[1];
  return is_a ? s.get(o * cols + kb) : s.get(kb * cols + o);
}

struct ScaledCase {
  GemmScaleMode a_mode, b_mode;
  int64_t m, n, k;
};

std::vector<int64_t> scale_shape(GemmScaleMode mode, bool is_a, int64_t outer, int64_t k) {
  std::vector<int64_t> s;
  switch (mode) {
    case GemmScaleMode::tensor: return {};
    case GemmScaleMode::outer_vector: s = {outer, 1}; break;
    case GemmScaleMode::block_1x128: s = {outer, blocks(k)}; break;
    case GemmScaleMode::block_128x128: s = {blocks(outer), blocks(k)}; break;
  }
  return is_a ? s : std::vector<int64_t>{s[1], s[0]};
}

// Runs the case on the CPU plan (f32 D) and compares every element with the loop.
void check_scaled(const ScaledCase& c, std::vector<int64_t> a_strides = {}) {
  SCOPED_TRACE(std::string(gemm_scale_mode_name(c.a_mode)) + " x " + std::string(gemm_scale_mode_name(c.b_mode)) +
               " " + std::to_string(c.m) + "x" + std::to_string(c.n) + "x" + std::to_string(c.k));
  HostTensor a = fp8_matrix(c.m, c.k, 1), b = fp8_matrix(c.k, c.n, 4), d(DType::f32, {c.m, c.n});
  HostTensor sa = c.a_mode == GemmScaleMode::tensor ? pow2_scales({}, 2)
                                                    : pow2_scales(scale_shape(c.a_mode, true, c.m, c.k), 2, a_strides);
  HostTensor sb = c.b_mode == GemmScaleMode::tensor ? pow2_scales({}, 3)
                                                    : pow2_scales(scale_shape(c.b_mode, false, c.n, c.k), 3);
  GemmDescriptor desc{.a = a.operand(), .b = b.operand(), .d = d.operand(), .alpha = 0.5};
  desc.a_scale_mode = c.a_mode;
  desc.b_scale_mode = c.b_mode;
  if (c.a_mode != GemmScaleMode::tensor) desc.a_scale = sa.operand();
  if (c.b_mode != GemmScaleMode::tensor) desc.b_scale = sb.operand();
  auto plan = GemmPlan::select(Stream::cpu(), desc);
  ASSERT_TRUE(plan) << plan.status().to_string();
  ASSERT_OK(plan->run(Stream::cpu(), {}, GemmArgs{.a = a.ref(), .b = b.ref(), .a_scale = sa.ref(), .b_scale = sb.ref(),
                                                  .d = d.mut()}));
  int bad = 0;
  for (int64_t m = 0; m < c.m; ++m)
    for (int64_t n = 0; n < c.n; ++n) {
      double want = 0.0;
      for (int64_t k = 0; k < c.k; ++k) {
        const double fa = c.a_mode == GemmScaleMode::tensor ? sa.get(0) : scale_at(sa, c.a_mode, true, m, k);
        const double fb = c.b_mode == GemmScaleMode::tensor ? sb.get(0) : scale_at(sb, c.b_mode, false, n, k);
        want += a.get(m * c.k + k) * fa * b.get(k * c.n + n) * fb;
      }
      want *= 0.5;
      if (d.get(m * c.n + n) != static_cast<float>(want) && bad++ < 5)
        ADD_FAILURE() << "D[" << m << ", " << n << "] = " << d.get(m * c.n + n) << ", want " << want;
    }
  EXPECT_EQ(bad, 0);
}

TEST(GemmScaleModesCpu, RowwiseScales) {
  check_scaled({GemmScaleMode::outer_vector, GemmScaleMode::outer_vector, 5, 7, 9});
  check_scaled({GemmScaleMode::outer_vector, GemmScaleMode::tensor, 5, 7, 9});
}

TEST(GemmScaleModesCpu, Block1x128AcrossSeveralKBlocks) {
  // K = 300: blocks of 128, 128 and a partial 44.
  check_scaled({GemmScaleMode::block_1x128, GemmScaleMode::block_1x128, 6, 5, 300});
  check_scaled({GemmScaleMode::block_1x128, GemmScaleMode::tensor, 3, 4, 129});
}

TEST(GemmScaleModesCpu, Block128x128ForTheWeightAndActivation) {
  // DeepSeek-V3's recipe: 1x128 activations, 128x128 weights; block edges inside M, N and K.
  check_scaled({GemmScaleMode::block_1x128, GemmScaleMode::block_128x128, 130, 129, 260});
  check_scaled({GemmScaleMode::block_128x128, GemmScaleMode::block_128x128, 131, 3, 257});
}

TEST(GemmScaleModesCpu, StoredScaleLayoutsAreHonoured) {
  // 1x128 scales of A stored "outer-dim major" (each K block's M scales contiguous, as cuBLASLt
  // reads them): the same values, the same result.
  const int64_t m = 8, k = 300;
  check_scaled({GemmScaleMode::block_1x128, GemmScaleMode::tensor, m, 4, k}, {1, m});
}

// ------------------------------------------------------------------------------------------------
// Errors.

GemmDescriptor fp8_desc(int64_t m, int64_t n, int64_t k) {
  return GemmDescriptor{.a = Operand::tensor(DType::f8e4m3, {m, k}),
                        .b = Operand::tensor(DType::f8e4m3, {k, n}),
                        .d = Operand::tensor(DType::bf16, {m, n})};
}

void expect_invalid(const GemmDescriptor& d, const std::string& fragment) {
  auto r = GemmPlan::select(Stream::cpu(), d);
  ASSERT_FALSE(r.has_value()) << "expected an error containing: " << fragment;
  EXPECT_EQ(r.status().code(), StatusCode::invalid_argument) << r.status().to_string();
  EXPECT_NE(r.status().message().find(fragment), std::string::npos) << r.status().to_string();
}

TEST(GemmScaleModesCpuErrors, Descriptor) {
  GemmDescriptor d = fp8_desc(4, 5, 300);
  d.a = Operand::tensor(DType::bf16, {4, 300});
  d.b = Operand::tensor(DType::bf16, {300, 5});
  d.a_scale_mode = GemmScaleMode::outer_vector;
  expect_invalid(d, "a_scale mode outer_vector needs fp8 inputs");

  d = GemmDescriptor{.a = Operand::tensor(DType::f8e4m3, {2, 4, 300}), .b = Operand::tensor(DType::f8e4m3, {300, 5}),
                     .d = Operand::tensor(DType::bf16, {2, 4, 5})};
  d.b_scale_mode = GemmScaleMode::block_1x128;
  expect_invalid(d, "b_scale mode block_1x128 takes a single batch entry, got batch shape [2]");

  d = fp8_desc(4, 5, 300);
  d.a_scale_mode = GemmScaleMode::block_1x128;
  d.a_scale = Operand::tensor(DType::f32, {4, 2});
  expect_invalid(d, "a_scale has shape [4, 2], expected [4, 3] for mode block_1x128 (M=4, N=5, K=300)");
  d.a_scale = Operand::tensor(DType::f16, {4, 3});
  expect_invalid(d, "a_scale must be f32, got f16");

  d = fp8_desc(4, 5, 300);
  d.a_scale = Operand::tensor(DType::f32, {4, 3});
  expect_invalid(d, "a_scale layout is given but its mode is 'tensor'");

  d = fp8_desc(4, 5, 300);
  d.d = Operand::tensor(DType::bf16, {4, 5});
  d.b_scale_mode = GemmScaleMode::block_128x128;
  d.bias_grad = Operand::tensor(DType::bf16, {4});
  expect_invalid(d, "bias_grad (the sum of op(A) or op(B) over k) is not defined with per-row or per-block scales");

  d = fp8_desc(4, 5, 300);
  d.a_scale_mode = static_cast<GemmScaleMode>(9);
  expect_invalid(d, "unknown a_scale mode id 9");
}

TEST(GemmScaleModesCpuErrors, Arguments) {
  HostTensor a = fp8_matrix(4, 300, 1), b = fp8_matrix(300, 5, 2), d(DType::bf16, {4, 5});
  GemmDescriptor desc{.a = a.operand(), .b = b.operand(), .d = d.operand()};
  desc.a_scale_mode = GemmScaleMode::block_1x128;
  auto plan = GemmPlan::select(Stream::cpu(), desc);
  ASSERT_TRUE(plan) << plan.status().to_string();
  HostTensor scalar(DType::f32, {}), sa(DType::f32, {4, 3});
  // A scalar where the 1x128 tensor belongs, then no a_scale at all.
  Status st = plan->run(Stream::cpu(), {}, GemmArgs{.a = a.ref(), .b = b.ref(), .a_scale = scalar.ref(),
                                                    .b_scale = scalar.ref(), .d = d.mut()});
  EXPECT_EQ(st.code(), StatusCode::invalid_argument) << st.to_string();
  EXPECT_NE(st.message().find("a_scale"), std::string::npos) << st.to_string();
  st = plan->run(Stream::cpu(), {}, GemmArgs{.a = a.ref(), .b = b.ref(), .b_scale = scalar.ref(), .d = d.mut()});
  EXPECT_EQ(st.code(), StatusCode::invalid_argument) << st.to_string();
  EXPECT_NE(st.message().find("a_scale"), std::string::npos) << st.to_string();
  // The right tensor runs.
  EXPECT_OK(plan->run(Stream::cpu(), {}, GemmArgs{.a = a.ref(), .b = b.ref(), .a_scale = sa.ref(),
                                                  .b_scale = scalar.ref(), .d = d.mut()}));
}

}  // namespace
