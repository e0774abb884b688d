// The grouped GEMM family's CPU reference: hand-computed groups, empty groups, G = 1 against the
// plain GEMM plan, both B storages giving the same numbers, alpha, and every descriptor, argument
// and offsets error path (the offsets are quoted in the message).
#include <gtest/gtest.h>

#include <cmath>
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

struct Grouped {
  HostTensor a, b, offsets, d;
  GroupedGemmDescriptor desc() const {
    return {.a = a.operand(), .b = b.operand(), .d = d.operand(), .offsets_dtype = offsets.dtype()};
  }
  GroupedGemmArgs args() { return {.a = a.ref(), .b = b.ref(), .group_offsets = offsets.ref(), .d = d.mut()}; }
};

HostTensor offsets_tensor(DType t, const std::vector<int64_t>& v) {
  HostTensor o(t, {static_cast<int64_t>(v.size())});
  for (size_t i = 0; i < v.size(); ++i) o.set_int(static_cast<int64_t>(i), v[i]);
  return o;
}

Status run_cpu(const GroupedGemmDescriptor& d, const GroupedGemmArgs& a) {
  BARACUDA_ASSIGN_OR_RETURN(auto plan, GroupedGemmPlan::select(Stream::cpu(), d));
  return plan.run(Stream::cpu(), {}, a);
}

Status select_status(const GroupedGemmDescriptor& d) { return GroupedGemmPlan::select(Stream::cpu(), d).status(); }

void expect_error(const Status& s, StatusCode code, const std::string& fragment) {
  EXPECT_EQ(s.code(), code) << s.to_string();
  EXPECT_NE(s.message().find(fragment), std::string::npos) << "message: " << s.message() << "\nwanted: " << fragment;
}

// Two groups of K = 2, N = 2, by hand:
//  group 0 rows [1,2],[3,4] times [[1,0],[0,1]] (identity) = the rows themselves;
//  group 1 row [5,6] times [[1,2],[3,4]] = [5+18, 10+24] = [23, 34].
Grouped hand_case(DType t, DType offsets_dtype) {
  Grouped g{HostTensor(t, {3, 2}), HostTensor(t, {2, 2, 2}), offsets_tensor(offsets_dtype, {0, 2, 3}),
            HostTensor(t, {3, 2})};
  g.a.set_all({1, 2, 3, 4, 5, 6});
  g.b.set_all({1, 0, 0, 1, 1, 2, 3, 4});
  return g;
}

TEST(GroupedGemmCpu, HandComputedGroups) {
  for (DType t : {DType::bf16, DType::f16})
    for (DType o : {DType::i32, DType::i64}) {
      Grouped g = hand_case(t, o);
      ASSERT_OK(run_cpu(g.desc(), g.args()));
      const double want[] = {1, 2, 3, 4, 23, 34};
      for (int i = 0; i < 6; ++i) EXPECT_EQ(g.d.get(i), want[i]) << dtype_name(t) << " offsets " << dtype_name(o) << " i=" << i;
    }
}

TEST(GroupedGemmCpu, AlphaScales) {
  Grouped g = hand_case(DType::f16, DType::i32);
  GroupedGemmDescriptor d = g.desc();
  d.alpha = -0.5;
  ASSERT_OK(run_cpu(d, g.args()));
  const double want[] = {-0.5, -1, -1.5, -2, -11.5, -17};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(g.d.get(i), want[i]) << i;
}

TEST(GroupedGemmCpu, EmptyGroupsWriteNothingAndCostNothing) {
  // Groups 0, 2 and 4 are empty; group 1 takes row 0, group 3 rows 1..2.
  Grouped g{HostTensor(DType::bf16, {3, 2}), HostTensor(DType::bf16, {5, 2, 1}),
            offsets_tensor(DType::i32, {0, 0, 1, 1, 3, 3}), HostTensor(DType::bf16, {3, 1})};
  g.a.set_all({1, 2, 3, 4, 5, 6});
  g.b.set_all({100, 100, 1, 1, 100, 100, 2, -1, 100, 100});  // only groups 1 and 3 may be used
  ASSERT_OK(run_cpu(g.desc(), g.args()));
  EXPECT_EQ(g.d.get(0), 3);       // [1,2] . [1,1]
  EXPECT_EQ(g.d.get(1), 2);       // [3,4] . [2,-1]
  EXPECT_EQ(g.d.get(2), 4);       // [5,6] . [2,-1]
}

TEST(GroupedGemmCpu, AllRowsEmpty) {
  Grouped g{HostTensor(DType::bf16, {0, 4}), HostTensor(DType::bf16, {2, 4, 3}), offsets_tensor(DType::i64, {0, 0, 0}),
            HostTensor(DType::bf16, {0, 3})};
  EXPECT_OK(run_cpu(g.desc(), g.args()));
}

TEST(GroupedGemmCpu, OneGroupEqualsThePlainGemm) {
  std::mt19937_64 rng(11);
  const int64_t M = 7, K = 5, N = 6;
  Grouped g{HostTensor(DType::bf16, {M, K}), HostTensor(DType::bf16, {1, K, N}), offsets_tensor(DType::i32, {0, M}),
            HostTensor(DType::bf16, {M, N})};
  bt::fill_uniform(g.a, rng, -2, 2);
  bt::fill_uniform(g.b, rng, -2, 2);
  ASSERT_OK(run_cpu(g.desc(), g.args()));
  HostTensor b2(DType::bf16, {K, N}), d2(DType::bf16, {M, N});
  for (int64_t i = 0; i < K * N; ++i) b2.set(i, g.b.get(i));
  GemmDescriptor gd{.a = g.a.operand(), .b = b2.operand(), .d = d2.operand()};
  auto plan = GemmPlan::select(Stream::cpu(), gd);
  ASSERT_OK(plan.status());
  ASSERT_OK(plan->run(Stream::cpu(), {}, GemmArgs{.a = g.a.ref(), .b = b2.ref(), .d = d2.mut()}));
  for (int64_t i = 0; i < M * N; ++i) EXPECT_EQ(g.d.get(i), d2.get(i)) << i;
}

TEST(GroupedGemmCpu, BStoredNKGivesTheSameNumbers) {
  std::mt19937_64 rng(5);
  const int64_t G = 3, K = 4, N = 5, M = 6;
  HostTensor b_kn(DType::f16, {G, K, N});
  bt::fill_uniform(b_kn, rng, -1, 1);
  HostTensor b_nk(DType::f16, {G, K, N}, {N * K, 1, K});  // W stored [G, N, K]
  for (int64_t i = 0; i < G * K * N; ++i) b_nk.set(i, b_kn.get(i));
  Grouped x{HostTensor(DType::f16, {M, K}), b_kn, offsets_tensor(DType::i32, {0, 2, 2, M}), HostTensor(DType::f16, {M, N})};
  bt::fill_uniform(x.a, rng, -1, 1);
  Grouped y{x.a, b_nk, x.offsets, HostTensor(DType::f16, {M, N})};
  ASSERT_OK(run_cpu(x.desc(), x.args()));
  ASSERT_OK(run_cpu(y.desc(), y.args()));
  for (int64_t i = 0; i < M * N; ++i) EXPECT_EQ(x.d.get(i), y.d.get(i)) << i;
  // And an independent value: D[5, 4] = sum_k A[5, k] B[2][k, 4] (group 2 owns rows 2..5).
  double acc = 0;
  for (int64_t k = 0; k < K; ++k) acc += x.a.get(5 * K + k) * b_kn.get(2 * K * N + k * N + 4);
  EXPECT_NEAR(x.d.get(5 * N + 4), acc, 1e-3 * (1 + std::abs(acc)));
}

TEST(GroupedGemmCpu, StatusOutputIsZeroOnSuccess) {
  Grouped g = hand_case(DType::bf16, DType::i32);
  HostTensor st(DType::i32, {1});
  st.set_int(0, 77);
  GroupedGemmDescriptor d = g.desc();
  d.status = true;
  GroupedGemmArgs a = g.args();
  a.status = st.mut();
  ASSERT_OK(run_cpu(d, a));
  EXPECT_EQ(st.get_int(0), 0);
}

// ------------------------------------------------------------------------------------------------
// Bad offsets: quoted, D untouched, status 1.

TEST(GroupedGemmCpu, OffsetsNotSummingToMAreRejectedWithTheValues) {
  Grouped g = hand_case(DType::bf16, DType::i32);
  g.offsets = offsets_tensor(DType::i32, {0, 2, 5});
  g.d.set_all({9, 9, 9, 9, 9, 9});
  HostTensor st(DType::i32, {});
  GroupedGemmDescriptor d = g.desc();
  d.status = true;
  GroupedGemmArgs a = g.args();
  a.status = st.mut();
  Status s = run_cpu(d, a);
  expect_error(s, StatusCode::invalid_argument, "group_offsets [0, 2, 5]: the group sizes sum to 5, but A has M_total=3");
  EXPECT_EQ(st.get_int(0), 1);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(g.d.get(i), 9) << "D written at " << i;
}

TEST(GroupedGemmCpu, DecreasingOrNonZeroStartOffsetsAreRejected) {
  Grouped g = hand_case(DType::bf16, DType::i64);
  g.offsets = offsets_tensor(DType::i64, {0, 3, 2});
  GroupedGemmArgs a = g.args();
  expect_error(run_cpu(g.desc(), a), StatusCode::invalid_argument, "decreases at group 1 (3 -> 2)");
  g.offsets = offsets_tensor(DType::i64, {1, 2, 3});
  expect_error(run_cpu(g.desc(), g.args()), StatusCode::invalid_argument, "must start at 0, got 1");
  g.offsets = offsets_tensor(DType::i64, {0, -1, 3});
  expect_error(run_cpu(g.desc(), g.args()), StatusCode::invalid_argument, "decreases at group 0 (0 -> -1)");
}

// ------------------------------------------------------------------------------------------------
// Descriptor and argument errors.

TEST(GroupedGemmCpu, ShapeErrorsQuoteTheShapes) {
  Grouped g = hand_case(DType::bf16, DType::i32);
  GroupedGemmDescriptor d = g.desc();
  d.b = Operand::tensor(DType::bf16, {2, 3, 2});
  expect_error(select_status(d), StatusCode::invalid_argument, "A [3, 2] has K=2, B [2, 3, 2] has K=3");
  d = g.desc();
  d.b = Operand::tensor(DType::bf16, {2, 2});
  expect_error(select_status(d), StatusCode::invalid_argument, "B must have rank 3 [G, K, N], got shape [2, 2]");
  d = g.desc();
  d.d = Operand::tensor(DType::bf16, {3, 3});
  expect_error(select_status(d), StatusCode::invalid_argument, "D has shape [3, 3], expected [3, 2]");
  d = g.desc();
  d.b = Operand::tensor(DType::bf16, {0, 2, 2});
  expect_error(select_status(d), StatusCode::invalid_argument, "has G=0 groups");
  d = g.desc();
  d.a = Operand::tensor(DType::bf16, {3, 2, 1});
  expect_error(select_status(d), StatusCode::invalid_argument, "A must have rank 2 [M_total, K], got shape [3, 2, 1]");
}

TEST(GroupedGemmCpu, DtypeErrorsQuoteTheDtypes) {
  Grouped g = hand_case(DType::bf16, DType::i32);
  GroupedGemmDescriptor d = g.desc();
  d.d.dtype = DType::f16;
  expect_error(select_status(d), StatusCode::invalid_argument, "got A bf16, B bf16, D f16");
  d = g.desc();
  d.a.dtype = d.b.dtype = d.d.dtype = DType::f32;
  expect_error(select_status(d), StatusCode::invalid_argument, "A is f32; the grouped GEMM takes bf16 or f16");
  d = g.desc();
  d.offsets_dtype = DType::f32;
  expect_error(select_status(d), StatusCode::invalid_argument, "group_offsets must be i32 or i64, got f32");
  d = g.desc();
  d.alpha = std::numeric_limits<double>::infinity();
  expect_error(select_status(d), StatusCode::invalid_argument, "alpha must be finite");
}

TEST(GroupedGemmCpu, ArgumentErrors) {
  Grouped g = hand_case(DType::bf16, DType::i32);
  const GroupedGemmDescriptor d = g.desc();
  auto plan = GroupedGemmPlan::select(Stream::cpu(), d);
  ASSERT_OK(plan.status());
  const auto run = [&](const GroupedGemmArgs& a) { return plan->run(Stream::cpu(), {}, a); };

  // G mismatch between B and the offsets: 4 entries for G = 2.
  HostTensor long_offsets = offsets_tensor(DType::i32, {0, 1, 2, 3});
  GroupedGemmArgs a = g.args();
  a.group_offsets = long_offsets.ref();
  Status s = run(a);
  EXPECT_EQ(s.code(), StatusCode::invalid_argument) << s.to_string();
  EXPECT_NE(s.message().find("group_offsets"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("[3]"), std::string::npos) << s.message();  // the expected shape [G + 1]

  HostTensor i64_offsets = offsets_tensor(DType::i64, {0, 2, 3});
  a = g.args();
  a.group_offsets = i64_offsets.ref();
  s = run(a);
  EXPECT_EQ(s.code(), StatusCode::invalid_argument) << s.to_string();
  EXPECT_NE(s.message().find("group_offsets"), std::string::npos) << s.message();

  a = g.args();
  a.group_offsets = TensorRef{};
  EXPECT_EQ(run(a).code(), StatusCode::invalid_argument);

  // A status output the descriptor did not ask for, and a missing one it did.
  HostTensor st(DType::i32, {1});
  a = g.args();
  a.status = st.mut();
  expect_error(run(a), StatusCode::invalid_argument, "status is given but the descriptor's status flag is false");
  GroupedGemmDescriptor with_status = d;
  with_status.status = true;
  expect_error(run_cpu(with_status, g.args()), StatusCode::invalid_argument, "status (an i32 scalar output) is required");

  // D aliasing A.
  a = g.args();
  a.d = TensorMut{g.a.mut().data, DType::bf16, Device::cpu(), g.d.mut().layout};
  expect_error(run(a), StatusCode::invalid_argument, "D overlaps A");
}

}  // namespace
