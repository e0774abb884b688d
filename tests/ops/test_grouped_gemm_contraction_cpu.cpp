// The grouped GEMM's contraction split (split = contraction, the MoE weight gradient
// dW[g] = X_g^T dY_g): descriptor validation (ranks, K_total agreement, D [G, M, N], dtypes, the
// split value) and describe().
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "baracuda/baracuda.hpp"
#include "gtest_helpers.hpp"
#include "test_support.hpp"

namespace {

using namespace baracuda;

// A [M, K_total] = [3, 5], B [K_total, N] = [5, 2], D [G, M, N] = [2, 3, 2].
GroupedGemmDescriptor contraction_desc(DType t = DType::bf16) {
  return {.a = Operand::tensor(t, {3, 5}), .b = Operand::tensor(t, {5, 2}), .d = Operand::tensor(t, {2, 3, 2}),
          .split = GroupedGemmSplit::contraction};
}

void expect_invalid(const GroupedGemmDescriptor& d, const std::string& fragment) {
  auto sig = infer_signature(d);
  ASSERT_FALSE(sig.has_value()) << "accepted: " << GroupedGemmFamily::describe(d);
  EXPECT_EQ(sig.status().code(), StatusCode::invalid_argument) << sig.status().to_string();
  EXPECT_NE(sig.status().message().find(fragment), std::string::npos)
      << "message: " << sig.status().message() << "\nwanted: " << fragment;
  // select() says the same (invalid for every implementation).
  EXPECT_EQ(GroupedGemmPlan::select(Stream::cpu(), d).status().code(), StatusCode::invalid_argument);
}

TEST(GroupedGemmContractionDescriptor, SignatureOfAValidDescriptor) {
  auto sig = infer_signature(contraction_desc());
  ASSERT_OK(sig.status());
  EXPECT_EQ(sig->split, GroupedGemmSplit::contraction);
  EXPECT_EQ(sig->m_total, 3);
  EXPECT_EQ(sig->k, 5);
  EXPECT_EQ(sig->n, 2);
  EXPECT_EQ(sig->groups, 2);
  EXPECT_EQ(sig->split_extent(), 5);  // the offsets split K_total
  // The X^T view of a contiguous X [K_total, M] is valid too, and so are f16 and i64 offsets.
  GroupedGemmDescriptor d = contraction_desc(DType::f16);
  d.a = Operand::tensor(DType::f16, {3, 5}, {1, 3});
  d.offsets_dtype = DType::i64;
  EXPECT_OK(infer_signature(d).status());
}

TEST(GroupedGemmContractionDescriptor, RowsStaysTheDefault) {
  GroupedGemmDescriptor d;
  EXPECT_EQ(d.split, GroupedGemmSplit::rows);
  EXPECT_EQ(grouped_gemm_split_name(GroupedGemmSplit::rows), "rows");
  EXPECT_EQ(grouped_gemm_split_name(GroupedGemmSplit::contraction), "contraction");
  // A contraction descriptor read as a rows one is invalid: B must then be [G, K, N].
  d = contraction_desc();
  d.split = GroupedGemmSplit::rows;
  expect_invalid(d, "B must have rank 3 [G, K, N], got shape [5, 2]");
}

TEST(GroupedGemmContractionDescriptor, RankErrorsNameTheSplit) {
  GroupedGemmDescriptor d = contraction_desc();
  d.b = Operand::tensor(DType::bf16, {2, 5, 2});
  expect_invalid(d, "B must have rank 2 [K_total, N] (split=contraction), got shape [2, 5, 2]");
  d = contraction_desc();
  d.d = Operand::tensor(DType::bf16, {3, 2});
  expect_invalid(d, "D must have rank 3 [G, M, N] (split=contraction), got shape [3, 2]");
  d = contraction_desc();
  d.a = Operand::tensor(DType::bf16, {1, 3, 5});
  expect_invalid(d, "A must have rank 2 [M, K_total] (split=contraction), got shape [1, 3, 5]");
}

TEST(GroupedGemmContractionDescriptor, ShapeErrorsQuoteTheShapes) {
  GroupedGemmDescriptor d = contraction_desc();
  d.b = Operand::tensor(DType::bf16, {4, 2});
  expect_invalid(d, "A [3, 5] has K_total=5, B [4, 2] has K_total=4");
  d = contraction_desc();
  d.d = Operand::tensor(DType::bf16, {2, 2, 3});  // M and N swapped
  expect_invalid(d, "D has shape [2, 2, 3], expected [2, 3, 2] (G, A's M, B's N)");
  d = contraction_desc();
  d.d = Operand::tensor(DType::bf16, {2, 4, 2});
  expect_invalid(d, "D has shape [2, 4, 2], expected [2, 3, 2]");
  d = contraction_desc();
  d.d = Operand::tensor(DType::bf16, {0, 3, 2});
  expect_invalid(d, "D [0, 3, 2] has G=0 groups");
}

TEST(GroupedGemmContractionDescriptor, DtypeErrorsQuoteTheDtypes) {
  GroupedGemmDescriptor d = contraction_desc();
  d.d.dtype = DType::f16;
  expect_invalid(d, "got A bf16, B bf16, D f16");
  d = contraction_desc(DType::f32);
  expect_invalid(d, "A is f32; the grouped GEMM takes bf16 or f16");
  d = contraction_desc();
  d.offsets_dtype = DType::i16;
  expect_invalid(d, "group_offsets must be i32 or i64, got i16");
  d = contraction_desc();
  d.split = static_cast<GroupedGemmSplit>(7);
  expect_invalid(d, "split must be rows or contraction, got 7");
}

TEST(GroupedGemmContractionDescriptor, DescribeNamesTheSplitAndAsStrides) {
  GroupedGemmDescriptor d = contraction_desc();
  d.a.strides = {1, 3};
  const std::string s = GroupedGemmFamily::describe(d);
  EXPECT_NE(s.find("split=contraction"), std::string::npos) << s;
  EXPECT_NE(s.find("A[3, 5] strides[1, 3]"), std::string::npos) << s;
  EXPECT_NE(s.find("D[2, 3, 2]"), std::string::npos) << s;
  // The rows split's description is unchanged (no split= word).
  GroupedGemmDescriptor r{.a = Operand::tensor(DType::bf16, {3, 5}), .b = Operand::tensor(DType::bf16, {2, 5, 2}),
                          .d = Operand::tensor(DType::bf16, {3, 2})};
  EXPECT_EQ(GroupedGemmFamily::describe(r).find("split"), std::string::npos);
}

}  // namespace
