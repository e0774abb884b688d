// The grouped GEMM's CPU reference for split = contraction (dW[g] = X_g^T dY_g):
//   D[g] = alpha * A[:, offsets[g]:offsets[g+1]] @ B[offsets[g]:offsets[g+1], :]
// against hand-computed groups, a closed form, and a naive loop written here; empty groups give
// zeros (D poisoned first), one group, the X^T view of A and other strides, alpha, and the
// run-time errors (bad offsets quoted with D untouched and status 1, wrong D argument).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "baracuda/baracuda.hpp"
#include "gtest_helpers.hpp"
#include "test_support.hpp"

namespace {

using namespace baracuda;
using bt::HostTensor;

HostTensor offsets_tensor(DType t, const std::vector<int64_t>& v) {
  HostTensor o(t, {static_cast<int64_t>(v.size())});
  for (size_t i = 0; i < v.size(); ++i) o.set_int(static_cast<int64_t>(i), v[i]);
  return o;
}

std::vector<int64_t> offsets_of(const std::vector<int64_t>& sizes) {
  std::vector<int64_t> off{0};
  for (int64_t s : sizes) off.push_back(off.back() + s);
  return off;
}

struct Problem {
  HostTensor a, b, offsets, d;
  double alpha = 1.0;
  GroupedGemmDescriptor desc() const {
    return {.a = a.operand(), .b = b.operand(), .d = d.operand(), .offsets_dtype = offsets.dtype(), .alpha = alpha,
            .split = GroupedGemmSplit::contraction};
  }
  GroupedGemmArgs args() { return {.a = a.ref(), .b = b.ref(), .group_offsets = offsets.ref(), .d = d.mut()}; }
};

Status run_cpu(const GroupedGemmDescriptor& d, const GroupedGemmArgs& a) {
  BARACUDA_ASSIGN_OR_RETURN(auto plan, GroupedGemmPlan::select(Stream::cpu(), d));
  return plan.run(Stream::cpu(), {}, a);
}

void expect_error(const Status& s, StatusCode code, const std::string& fragment) {
  EXPECT_EQ(s.code(), code) << s.to_string();
  EXPECT_NE(s.message().find(fragment), std::string::npos) << "message: " << s.message() << "\nwanted: " << fragment;
}

// The definition, in double, from the operands' logical elements (HostTensor::get follows strides).
std::vector<double> naive(const Problem& p, const std::vector<int64_t>& off) {
  const int64_t M = p.a.shape()[0], N = p.b.shape()[1], G = static_cast<int64_t>(off.size()) - 1;
  const int64_t K = p.a.shape()[1];
  std::vector<double> d(static_cast<size_t>(G * M * N), 0.0);
  for (int64_t g = 0; g < G; ++g)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double acc = 0;
        for (int64_t k = off[g]; k < off[g + 1]; ++k) acc += p.a.get(m * K + k) * p.b.get(k * N + n);
        d[(g * M + m) * N + n] = p.alpha * acc;
      }
  return d;
}

// One rounding of D away from the double result: one ulp (bf16 2^-7, f16 2^-10, relative).
void expect_near_naive(const Problem& p, const std::vector<double>& want) {
  const double ulp = p.d.dtype() == DType::bf16 ? 1.0 / 128 : 1.0 / 1024;
  ASSERT_EQ(static_cast<int64_t>(want.size()), p.d.numel());
  for (int64_t i = 0; i < p.d.numel(); ++i)
    ASSERT_LE(std::abs(p.d.get(i) - want[static_cast<size_t>(i)]), ulp * std::abs(want[static_cast<size_t>(i)]) + 1e-30)
        << "D element " << i << ": got " << p.d.get(i) << ", want " << want[static_cast<size_t>(i)];
}

// A [2, 3] = [[1, 2, 3], [4, 5, 6]], B [3, 2] = [[1, 0], [0, 1], [1, 1]], offsets [0, 2, 3]:
//  group 0: [[1, 2], [4, 5]] @ identity = [[1, 2], [4, 5]];
//  group 1: [[3], [6]] @ [[1, 1]] = [[3, 3], [6, 6]].
Problem hand_case(DType t, DType offsets_dtype) {
  Problem p{HostTensor(t, {2, 3}), HostTensor(t, {3, 2}), offsets_tensor(offsets_dtype, {0, 2, 3}),
            HostTensor(t, {2, 2, 2})};
  p.a.set_all({1, 2, 3, 4, 5, 6});
  p.b.set_all({1, 0, 0, 1, 1, 1});
  return p;
}

TEST(GroupedGemmContractionCpu, HandComputedGroups) {
  for (DType t : {DType::bf16, DType::f16})
    for (DType o : {DType::i32, DType::i64}) {
      Problem p = hand_case(t, o);
      ASSERT_OK(run_cpu(p.desc(), p.args()));
      const double want[] = {1, 2, 4, 5, 3, 3, 6, 6};
      for (int i = 0; i < 8; ++i) EXPECT_EQ(p.d.get(i), want[i]) << dtype_name(t) << " offsets " << dtype_name(o) << " i=" << i;
    }
}

TEST(GroupedGemmContractionCpu, AlphaScales) {
  Problem p = hand_case(DType::f16, DType::i32);
  p.alpha = -0.5;
  ASSERT_OK(run_cpu(p.desc(), p.args()));
  const double want[] = {-0.5, -1, -2, -2.5, -1.5, -1.5, -3, -3};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(p.d.get(i), want[i]) << i;
}

// A[m, k] = m + 1 and B[k, n] = k + n: D[g][m, n] = (m + 1) * (sum of k over the group + K_g n),
// small integers, exact in bf16.
TEST(GroupedGemmContractionCpu, ClosedFormWithUnevenGroups) {
  const std::vector<int64_t> sizes = {3, 1, 4};
  const std::vector<int64_t> off = offsets_of(sizes);
  const int64_t M = 3, K = 8, N = 2, G = 3;
  Problem p{HostTensor(DType::bf16, {M, K}), HostTensor(DType::bf16, {K, N}), offsets_tensor(DType::i64, off),
            HostTensor(DType::bf16, {G, M, N})};
  for (int64_t m = 0; m < M; ++m)
    for (int64_t k = 0; k < K; ++k) p.a.set(m * K + k, static_cast<double>(m + 1));
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n) p.b.set(k * N + n, static_cast<double>(k + n));
  ASSERT_OK(run_cpu(p.desc(), p.args()));
  for (int64_t g = 0; g < G; ++g) {
    int64_t ksum = 0;
    for (int64_t k = off[g]; k < off[g + 1]; ++k) ksum += k;
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n)
        EXPECT_EQ(p.d.get((g * M + m) * N + n), static_cast<double>((m + 1) * (ksum + sizes[g] * n)))
            << "g=" << g << " m=" << m << " n=" << n;
  }
}

TEST(GroupedGemmContractionCpu, EmptyGroupsAreZeroedNotLeftAlone) {
  // Groups 0, 2 and 4 are empty (D[g] = 0, an empty sum); group 1 takes column 0, group 3 columns 1..2.
  Problem p{HostTensor(DType::bf16, {2, 3}), HostTensor(DType::bf16, {3, 2}),
            offsets_tensor(DType::i32, {0, 0, 1, 1, 3, 3}), HostTensor(DType::bf16, {5, 2, 2})};
  p.a.set_all({1, 2, 3, 4, 5, 6});
  p.b.set_all({1, 2, 1, 0, 0, 1});
  p.d.fill_bytes(0xFF);  // NaN in bf16: every element must be written
  ASSERT_OK(run_cpu(p.desc(), p.args()));
  const double want[] = {0, 0, 0, 0,   // group 0: empty
                         1, 2, 4, 8,   // group 1: [[1], [4]] @ [[1, 2]]
                         0, 0, 0, 0,   // group 2: empty
                         2, 3, 5, 6,   // group 3: [[2, 3], [5, 6]] @ [[1, 0], [0, 1]]
                         0, 0, 0, 0};  // group 4: empty
  for (int i = 0; i < 20; ++i) EXPECT_EQ(p.d.get(i), want[i]) << "D element " << i;
}

TEST(GroupedGemmContractionCpu, ZeroContractionLengthGivesZeros) {
  Problem p{HostTensor(DType::f16, {2, 0}), HostTensor(DType::f16, {0, 3}), offsets_tensor(DType::i64, {0, 0, 0}),
            HostTensor(DType::f16, {2, 2, 3})};
  p.d.fill_bytes(0xFF);
  ASSERT_OK(run_cpu(p.desc(), p.args()));
  for (int64_t i = 0; i < p.d.numel(); ++i) EXPECT_EQ(p.d.get(i), 0.0) << i;
}

TEST(GroupedGemmContractionCpu, OneGroupEqualsThePlainGemm) {
  std::mt19937_64 rng(21);
  const int64_t M = 6, K = 9, N = 5;
  Problem p{HostTensor(DType::bf16, {M, K}), HostTensor(DType::bf16, {K, N}), offsets_tensor(DType::i32, {0, K}),
            HostTensor(DType::bf16, {1, M, N})};
  bt::fill_uniform(p.a, rng, -2, 2);
  bt::fill_uniform(p.b, rng, -2, 2);
  ASSERT_OK(run_cpu(p.desc(), p.args()));
  HostTensor d2(DType::bf16, {M, N});
  GemmDescriptor gd{.a = p.a.operand(), .b = p.b.operand(), .d = d2.operand()};
  auto plan = GemmPlan::select(Stream::cpu(), gd);
  ASSERT_OK(plan.status());
  ASSERT_OK(plan->run(Stream::cpu(), {}, GemmArgs{.a = p.a.ref(), .b = p.b.ref(), .d = d2.mut()}));
  for (int64_t i = 0; i < M * N; ++i) EXPECT_EQ(p.d.get(i), d2.get(i)) << i;
}

TEST(GroupedGemmContractionCpu, RandomGroupingsMatchTheNaiveLoop) {
  const std::vector<std::vector<int64_t>> groupings = {{13}, {5, 0, 7, 1}, {0, 0, 9}, {1, 2, 0, 0, 17, 4, 0, 1}};
  uint64_t seed = 1;
  for (DType t : {DType::bf16, DType::f16})
    for (const auto& sizes : groupings) {
      SCOPED_TRACE(std::string(dtype_name(t)) + " G=" + std::to_string(sizes.size()));
      const std::vector<int64_t> off = offsets_of(sizes);
      const int64_t M = 7, N = 6, G = static_cast<int64_t>(sizes.size());
      Problem p{HostTensor(t, {M, off.back()}), HostTensor(t, {off.back(), N}), offsets_tensor(DType::i32, off),
                HostTensor(t, {G, M, N})};
      std::mt19937_64 rng(seed++);
      bt::fill_uniform(p.a, rng, -1, 1);
      bt::fill_uniform(p.b, rng, -1, 1);
      p.alpha = seed % 2 ? 0.75 : 1.0;
      p.d.fill_bytes(0xFF);
      ASSERT_OK(run_cpu(p.desc(), p.args()));
      expect_near_naive(p, naive(p, off));
    }
}

// The weight gradient's shape of call: A = X^T for X [K_total, M] contiguous (strides [1, M]),
// B = dY [K_total, N]; also a column-sliced B and a padded D. Same numbers as contiguous copies.
TEST(GroupedGemmContractionCpu, TransposedAAndOtherStrides) {
  std::mt19937_64 rng(7);
  const int64_t M = 5, N = 4;
  const std::vector<int64_t> off = offsets_of({3, 0, 6, 2});
  const int64_t K = off.back(), G = 4;
  HostTensor x(DType::bf16, {K, M});  // X: tokens x features
  bt::fill_uniform(x, rng, -1, 1);
  HostTensor xt(DType::bf16, {M, K}, {1, M});  // X^T as a view over its own storage
  std::memcpy(xt.data(), x.data(), static_cast<size_t>(K * M) * 2);
  HostTensor dy_wide(DType::bf16, {K, 2 * N});
  bt::fill_uniform(dy_wide, rng, -1, 1);
  HostTensor dy(DType::bf16, {K, N}, {2 * N, 2});  // every other column of dy_wide
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n) dy.set(k * N + n, dy_wide.get(k * 2 * N + 2 * n));
  Problem strided{xt, dy, offsets_tensor(DType::i64, off), HostTensor(DType::bf16, {G, M, N}, {M * (N + 3), N + 3, 1})};
  strided.d.fill_bytes(0xFF);
  ASSERT_OK(run_cpu(strided.desc(), strided.args()));

  // Independent values: X[k, m] read from X itself.
  for (int64_t g = 0; g < G; ++g)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double acc = 0;
        for (int64_t k = off[g]; k < off[g + 1]; ++k) acc += x.get(k * M + m) * dy.get(k * N + n);
        EXPECT_NEAR(strided.d.get((g * M + m) * N + n), acc, std::abs(acc) / 128 + 1e-30) << g << "," << m << "," << n;
      }
  // Contiguous copies give bit-identical results (the reference sums in k order either way).
  Problem packed{HostTensor(DType::bf16, {M, K}), HostTensor(DType::bf16, {K, N}), offsets_tensor(DType::i64, off),
                 HostTensor(DType::bf16, {G, M, N})};
  for (int64_t i = 0; i < M * K; ++i) packed.a.set(i, xt.get(i));
  for (int64_t i = 0; i < K * N; ++i) packed.b.set(i, dy.get(i));
  ASSERT_OK(run_cpu(packed.desc(), packed.args()));
  for (int64_t i = 0; i < G * M * N; ++i) EXPECT_EQ(packed.d.get(i), strided.d.get(i)) << i;
}

// ------------------------------------------------------------------------------------------------
// Bad offsets: quoted, D untouched, status 1.

TEST(GroupedGemmContractionCpu, BadOffsetsAreQuotedAndLeaveDUntouched) {
  struct Bad {
    std::vector<int64_t> offsets;
    std::string fragment;
  };
  const Bad bad[] = {
      {{0, 2, 4}, "group_offsets [0, 2, 4]: the group sizes sum to 4, but A has K_total=3 columns"},
      {{0, 2, 5}, "group_offsets [0, 2, 5]: the group sizes sum to 5, but A has K_total=3 columns"},
      {{0, 3, 2}, "group_offsets [0, 3, 2] decreases at group 1 (3 -> 2)"},
      {{0, -1, 3}, "group_offsets [0, -1, 3] decreases at group 0 (0 -> -1)"},
      {{-1, 1, 3}, "group_offsets [-1, 1, 3] must start at 0, got -1"},
  };
  for (DType o : {DType::i32, DType::i64})
    for (const Bad& b : bad) {
      Problem p = hand_case(DType::bf16, o);
      p.offsets = offsets_tensor(o, b.offsets);
      p.d.set_all({9, 9, 9, 9, 9, 9, 9, 9});
      HostTensor st(DType::i32, {});
      GroupedGemmDescriptor d = p.desc();
      d.status = true;
      GroupedGemmArgs a = p.args();
      a.status = st.mut();
      expect_error(run_cpu(d, a), StatusCode::invalid_argument, b.fragment);
      EXPECT_EQ(st.get_int(0), 1);
      for (int i = 0; i < 8; ++i) EXPECT_EQ(p.d.get(i), 9) << "D written at " << i << " for " << b.fragment;
    }
}

TEST(GroupedGemmContractionCpu, StatusOutputIsZeroOnSuccess) {
  Problem p = hand_case(DType::f16, DType::i64);
  HostTensor st(DType::i32, {1});
  st.set_int(0, 77);
  GroupedGemmDescriptor d = p.desc();
  d.status = true;
  GroupedGemmArgs a = p.args();
  a.status = st.mut();
  ASSERT_OK(run_cpu(d, a));
  EXPECT_EQ(st.get_int(0), 0);
}

// ------------------------------------------------------------------------------------------------
// Argument errors: the run() operands must be the descriptor's.

TEST(GroupedGemmContractionCpu, ArgumentErrors) {
  Problem p = hand_case(DType::bf16, DType::i32);
  auto plan = GroupedGemmPlan::select(Stream::cpu(), p.desc());
  ASSERT_OK(plan.status());
  EXPECT_EQ(plan->sku().impl, "cpu_reference");
  EXPECT_NE(plan->sku().layout.find("split=contraction"), std::string::npos) << plan->sku().layout;
  const auto run = [&](const GroupedGemmArgs& a) { return plan->run(Stream::cpu(), {}, a); };

  // D given in the rows split's shape [M, N] instead of [G, M, N].
  HostTensor d_rows(DType::bf16, {2, 2});
  GroupedGemmArgs a = p.args();
  a.d = d_rows.mut();
  Status s = run(a);
  EXPECT_EQ(s.code(), StatusCode::invalid_argument) << s.to_string();
  EXPECT_NE(s.message().find("D"), std::string::npos) << s.message();

  // G + 1 offsets for a G that is not D's.
  HostTensor long_offsets = offsets_tensor(DType::i32, {0, 1, 2, 3});
  a = p.args();
  a.group_offsets = long_offsets.ref();
  s = run(a);
  EXPECT_EQ(s.code(), StatusCode::invalid_argument) << s.to_string();
  EXPECT_NE(s.message().find("group_offsets"), std::string::npos) << s.message();

  // A of the wrong dtype.
  HostTensor a_f16(DType::f16, {2, 3});
  a = p.args();
  a.a = a_f16.ref();
  EXPECT_EQ(run(a).code(), StatusCode::invalid_argument);

  // D aliasing B.
  a = p.args();
  HostTensor big(DType::bf16, {2, 2, 2});
  a.d = TensorMut{p.b.mut().data, DType::bf16, Device::cpu(), big.mut().layout};
  expect_error(run(a), StatusCode::invalid_argument, "D overlaps B");
}

}  // namespace
