// The column-major BLAS form of GEMM descriptors (src/ops/gemm/gemm_column_major.cpp), which the
// cuBLASLt implementation hands to the library: operand roles, transposes, leading dims, batch
// strides, the swap for a row-major D, the fp8 "TN" rule and the not_supported reasons.
#include <gtest/gtest.h>

#include <string>

#include "baracuda/baracuda.hpp"
#include "gtest_helpers.hpp"
#include "ops/gemm/gemm_column_major.hpp"

namespace {

using namespace baracuda;
using gemm::ColumnMajorGemm;
using gemm::ColumnMajorOptions;

Result<ColumnMajorGemm> lower(const GemmDescriptor& d, ColumnMajorOptions opt = {}) {
  BARACUDA_ASSIGN_OR_RETURN(GemmSignature sig, infer_signature(d));
  return gemm::to_column_major(d, sig, opt);
}

void expect_not_supported(const Result<ColumnMajorGemm>& r, const std::string& needle) {
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.status().code(), StatusCode::not_supported) << r.status().to_string();
  EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().message() << "\n  (looked for: " << needle << ")";
}

const int64_t M = 6, N = 5, K = 3;

TEST(GemmColumnMajor, RowMajorEverythingSwapsOperands) {
  // D = A B, all row-major: D^T (N x M, ld N) = B^T (N x K, column-major ld N) A^T (K x M, ld K).
  GemmDescriptor d{.a = Operand::tensor(DType::f32, {M, K}), .b = Operand::tensor(DType::f32, {K, N}),
                   .d = Operand::tensor(DType::f32, {M, N})};
  auto r = lower(d);
  ASSERT_TRUE(r.has_value()) << r.status().to_string();
  EXPECT_TRUE(r->swapped);
  EXPECT_EQ(r->m, N);
  EXPECT_EQ(r->n, M);
  EXPECT_EQ(r->k, K);
  EXPECT_FALSE(r->a.transposed);
  EXPECT_EQ(r->a.rows, N);
  EXPECT_EQ(r->a.cols, K);
  EXPECT_EQ(r->a.ld, N);
  EXPECT_FALSE(r->b.transposed);
  EXPECT_EQ(r->b.rows, K);
  EXPECT_EQ(r->b.cols, M);
  EXPECT_EQ(r->b.ld, K);
  EXPECT_EQ(r->d.rows, N);
  EXPECT_EQ(r->d.cols, M);
  EXPECT_EQ(r->d.ld, N);
}

TEST(GemmColumnMajor, ColumnMajorDKeepsRolesAndTransposesRowMajorOperands) {
  GemmDescriptor d{.a = Operand::tensor(DType::f32, {M, K}, {8, 1}),  // row-major, padded ld 8
                   .b = Operand::tensor(DType::f32, {K, N}, {1, 4}),  // column-major, ld 4
                   .d = Operand::tensor(DType::f32, {M, N}, {1, 7})};  // column-major, ld 7
  auto r = lower(d);
  ASSERT_TRUE(r.has_value()) << r.status().to_string();
  EXPECT_FALSE(r->swapped);
  EXPECT_EQ(r->m, M);
  EXPECT_EQ(r->n, N);
  EXPECT_TRUE(r->a.transposed);  // A = (K x M column-major, ld 8)^T
  EXPECT_EQ(r->a.rows, K);
  EXPECT_EQ(r->a.cols, M);
  EXPECT_EQ(r->a.ld, 8);
  EXPECT_FALSE(r->b.transposed);
  EXPECT_EQ(r->b.ld, 4);
  EXPECT_EQ(r->d.ld, 7);
}

TEST(GemmColumnMajor, LinearLayoutIsTnForFp8) {
  // torch linear: x [M, K] row-major, weight [N, K] row-major used as B = weight^T (strides [1, K]).
  GemmDescriptor d{.a = Operand::tensor(DType::f8e4m3, {M, K}), .b = Operand::tensor(DType::f8e4m3, {K, N}, {1, K}),
                   .d = Operand::tensor(DType::bf16, {M, N})};
  auto r = lower(d, ColumnMajorOptions{.a_transposed_b_not = true});
  ASSERT_TRUE(r.has_value()) << r.status().to_string();
  EXPECT_TRUE(r->swapped);
  EXPECT_TRUE(r->a.transposed);  // the weight, K x N column-major = [N, K] row-major
  EXPECT_EQ(r->a.ld, K);
  EXPECT_FALSE(r->b.transposed);
  EXPECT_EQ(r->b.ld, K);
  // Both row-major: no TN arrangement exists for a row-major D, nor (with the swap) for a
  // column-major one.
  GemmDescriptor nn = d;
  nn.b = Operand::tensor(DType::f8e4m3, {K, N});
  expect_not_supported(lower(nn, ColumnMajorOptions{.a_transposed_b_not = true}), "TN layout");
  // Without the TN rule the same problem lowers.
  EXPECT_TRUE(lower(nn).has_value());
}

TEST(GemmColumnMajor, BatchStridesAndBroadcast) {
  GemmDescriptor d{.a = Operand::tensor(DType::bf16, {2, 3, M, K}), .b = Operand::tensor(DType::bf16, {K, N}),
                   .d = Operand::tensor(DType::bf16, {2, 3, M, N})};
  auto r = lower(d);
  ASSERT_TRUE(r.has_value()) << r.status().to_string();
  EXPECT_EQ(r->batch, 6);
  EXPECT_EQ(r->b.batch_stride, M * K);  // swapped: the library's B is our A
  EXPECT_EQ(r->a.batch_stride, 0);      // our B, shared
  EXPECT_EQ(r->d.batch_stride, M * N);
  EXPECT_TRUE(r->outer.empty());
  // B of shape [1, 3, K, N] broadcast over the leading batch dim: its entries repeat with period
  // 3, which no single stride expresses. The leading dim becomes an outer loop of 2 calls, each a
  // strided batch of 3.
  d.b = Operand::tensor(DType::bf16, {1, 3, K, N});
  auto rb = lower(d);
  ASSERT_TRUE(rb.has_value()) << rb.status().to_string();
  EXPECT_EQ(rb->batch, 3);
  ASSERT_EQ(rb->outer.size(), 1u);
  EXPECT_EQ(rb->outer[0].size, 2);
  EXPECT_EQ(rb->outer[0].b, 3 * M * K);  // swapped: the library's B is our A
  EXPECT_EQ(rb->outer[0].a, 0);          // our B repeats over the outer dim
  EXPECT_EQ(rb->outer[0].d, 3 * M * N);
  EXPECT_EQ(rb->a.batch_stride, K * N);
  EXPECT_EQ(rb->b.batch_stride, M * K);
  EXPECT_EQ(rb->d.batch_stride, M * N);
  // A [2, 1, M, K] against B [3, K, N] (torch.matmul's broadcast): A's entries repeat 3 times
  // each; outer loop over A's dim, inner batch over B's with A's stride 0.
  GemmDescriptor e{.a = Operand::tensor(DType::bf16, {2, 1, M, K}), .b = Operand::tensor(DType::bf16, {3, K, N}),
                   .d = Operand::tensor(DType::bf16, {2, 3, M, N})};
  auto re = lower(e);
  ASSERT_TRUE(re.has_value()) << re.status().to_string();
  EXPECT_EQ(re->batch, 3);
  ASSERT_EQ(re->outer.size(), 1u);
  EXPECT_EQ(re->outer[0].size, 2);
  EXPECT_EQ(re->outer[0].b, M * K);  // our A advances per outer entry
  EXPECT_EQ(re->outer[0].a, 0);      // our B is shared by the outer entries
  EXPECT_EQ(re->outer[0].d, 3 * M * N);
  EXPECT_EQ(re->b.batch_stride, 0);  // inside one call A is shared
  EXPECT_EQ(re->a.batch_stride, K * N);
  // Three batch dims with the middle one broadcast in B only: the two leading dims are looped
  // when the trailing one alone folds.
  GemmDescriptor f{.a = Operand::tensor(DType::f32, {2, 3, 4, M, K}), .b = Operand::tensor(DType::f32, {2, 1, 4, K, N}),
                   .d = Operand::tensor(DType::f32, {2, 3, 4, M, N})};
  auto rf = lower(f);
  ASSERT_TRUE(rf.has_value()) << rf.status().to_string();
  EXPECT_EQ(rf->batch, 4);
  ASSERT_EQ(rf->outer.size(), 2u);
  EXPECT_EQ(rf->outer[0].size, 2);
  EXPECT_EQ(rf->outer[1].size, 3);
  EXPECT_EQ(rf->outer[1].a, 0);  // our B along the broadcast dim
  EXPECT_EQ(rf->outer[0].a, 4 * K * N);
  EXPECT_EQ(rf->outer[1].d, 4 * M * N);
  // An explicit zero batch stride folds.
  GemmDescriptor z{.a = Operand::tensor(DType::bf16, {4, M, K}, {0, K, 1}), .b = Operand::tensor(DType::bf16, {4, K, N}),
                   .d = Operand::tensor(DType::bf16, {4, M, N})};
  auto rz = lower(z);
  ASSERT_TRUE(rz.has_value()) << rz.status().to_string();
  EXPECT_EQ(rz->b.batch_stride, 0);
  EXPECT_EQ(rz->a.batch_stride, K * N);
}

TEST(GemmColumnMajor, GeneralAndNegativeStridesAreNotSupported) {
  GemmDescriptor d{.a = Operand::tensor(DType::f32, {M, K}, {2 * K, 2}), .b = Operand::tensor(DType::f32, {K, N}),
                   .d = Operand::tensor(DType::f32, {M, N})};
  expect_not_supported(lower(d), "A strides [6, 2] have no unit-stride matrix dim");
  d.a = Operand::tensor(DType::f32, {M, K}, {-K, 1});
  expect_not_supported(lower(d), "negative strides");
}

TEST(GemmColumnMajor, CAndPreActivationFollowD) {
  GemmDescriptor d{.a = Operand::tensor(DType::f16, {M, K}), .b = Operand::tensor(DType::f16, {K, N}),
                   .c = Operand::tensor(DType::f16, {M, N}, {16, 1}), .d = Operand::tensor(DType::f16, {M, N}),
                   .beta = 1.0, .activation = GemmActivation::gelu_tanh,
                   .pre_activation = Operand::tensor(DType::f16, {M, N}, {8, 1})};
  auto r = lower(d);
  ASSERT_TRUE(r.has_value()) << r.status().to_string();
  EXPECT_TRUE(r->has_c);
  EXPECT_EQ(r->c.ld, 16);
  EXPECT_TRUE(r->has_aux);
  EXPECT_EQ(r->aux.ld, 8);
  d.c = Operand::tensor(DType::f16, {M, N}, {1, M});
  expect_not_supported(lower(d), "C strides [1, 6] are not row-major D");
  d.c = Operand::tensor(DType::f16, {N});
  expect_not_supported(lower(d), "C of shape [5] broadcasts inside the matrix");
  d.beta = 0.0;  // C is not read: no constraint
  EXPECT_TRUE(lower(d).has_value());
}

TEST(GemmColumnMajor, VectorAxesMapToTheLibraryRowsOrColumns) {
  GemmDescriptor d{.a = Operand::tensor(DType::bf16, {M, K}), .b = Operand::tensor(DType::bf16, {K, N}),
                   .d = Operand::tensor(DType::bf16, {M, N}), .bias = Operand::tensor(DType::bf16, {N})};
  auto r = lower(d);  // row-major D: swapped, our columns are the library's rows
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->bias_along_lib_rows);
  EXPECT_FALSE(r->bias_grad_from_lib_a);  // rows axis: sums our A = the library's B
  d.d = Operand::tensor(DType::bf16, {M, N}, {1, M});
  d.bias_axis = GemmVectorAxis::rows;
  d.bias = Operand::tensor(DType::bf16, {M});
  auto c = lower(d);
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(c->swapped);
  EXPECT_TRUE(c->bias_along_lib_rows);
  EXPECT_TRUE(c->bias_grad_from_lib_a);
}

}  // namespace
