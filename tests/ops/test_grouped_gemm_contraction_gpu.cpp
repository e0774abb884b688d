// The CUTLASS sm_90a grouped GEMM's contraction split (the MoE weight gradient,
// D[g] = alpha * A[:, off[g]:off[g+1]] @ B[off[g]:off[g+1], :]) against the CPU reference plan on
// the same random inputs. A is the X^T view of a row-major X [K_total, M] (strides [1, M]), B a
// row-major dY [K_total, N], D [G, M, N] poisoned with 0xFF before each run. Covers bf16 and f16,
// i32 and i64 offsets, empty groups (D[g] must be exactly 0), skewed sizes, contraction lengths
// that are not multiples of the 64-wide k tile (1, 7, 65, 130), M and N that are not multiples of
// the 128 tile, alpha, K_total = 0, bad offsets (D untouched, empty groups included, status 1),
// run-to-run determinism, and the layout refusals.
//
// Skips without a GPU, without an sm_90 device, or in a build without
// CUTLASS (decided with a rows-split probe, so that a refusal of the contraction split fails).
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "baracuda/baracuda.hpp"
#include "device_buffer.hpp"
#include "gpu_test_support.hpp"
#include "grouped_gemm_gpu_support.hpp"
#include "gtest_helpers.hpp"
#include "test_support.hpp"

namespace {

using namespace baracuda;
using bt::DeviceBuffer;
using bt::HostTensor;


// Empty when the CUTLASS grouped kernel serves this machine (judged on the rows split, so that a
// refusal of the contraction split fails instead of skipping).
std::string skip_reason() {
  return bt::grouped_gpu_skip_reason({.a = Operand::tensor(DType::bf16, {8, 64}),
                                      .b = Operand::tensor(DType::bf16, {1, 64, 64}),
                                      .d = Operand::tensor(DType::bf16, {8, 64})});
}

#define SKIP_WITHOUT_CUTLASS_GPU()            \
  do {                                        \
    const std::string why = skip_reason();    \
    if (!why.empty()) GTEST_SKIP() << why;    \
  } while (0)

struct Case {
  DType dtype = DType::bf16;
  DType offsets_dtype = DType::i32;
  int64_t m = 64, n = 64;
  std::vector<int64_t> sizes;  // contraction length per group
  double alpha = 1.0;
  std::string name() const {
    std::string s = std::string(dtype_name(dtype)) + " offsets " + std::string(dtype_name(offsets_dtype)) +
                    " M=" + std::to_string(m) + " N=" + std::to_string(n) + " alpha=" + std::to_string(alpha) +
                    " K_g";
    for (int64_t v : sizes) s += " " + std::to_string(v);
    return s;
  }
};

using Problem = bt::GroupedProblem;

Problem make_problem(const Case& c, uint64_t seed) {
  const auto G = static_cast<int64_t>(c.sizes.size());
  int64_t K = 0;
  for (int64_t s : c.sizes) K += s;
  Problem p{HostTensor(c.dtype, {c.m, K}, {1, c.m}),  // X^T of a row-major X [K_total, M]
            HostTensor(c.dtype, {K, c.n}), HostTensor(c.offsets_dtype, {G + 1}), HostTensor(c.dtype, {G, c.m, c.n}),
            {}};
  std::mt19937_64 rng(seed);
  bt::fill_uniform(p.a, rng, -1, 1);
  bt::fill_uniform(p.b, rng, -1, 1);
  bt::set_group_offsets(p.offsets, c.sizes);
  p.desc = {.a = p.a.operand(), .b = p.b.operand(), .d = p.d.operand(), .offsets_dtype = c.offsets_dtype,
            .alpha = c.alpha, .status = true, .split = GroupedGemmSplit::contraction};
  return p;
}

using GpuRun = bt::GroupedGpuRun;

// Runs the CUDA plan (D poisoned), which must be the CUTLASS one.
Status run_gpu(const Problem& p, GpuRun& out, const std::vector<int64_t>* offsets_override = nullptr) {
  std::string backend;
  BARACUDA_TRY(bt::run_grouped_gpu(p, out, offsets_override, &backend));
  EXPECT_EQ(backend, "cutlass");
  return Status::ok();
}

HostTensor run_reference(const Problem& p) { return bt::run_grouped_reference(p); }

void check_case(const Case& c, uint64_t seed) {
  SCOPED_TRACE(c.name());
  Problem p = make_problem(c, seed);
  GpuRun got;
  ASSERT_OK(run_gpu(p, got));
  EXPECT_EQ(got.status, 0);
  const HostTensor want = run_reference(p);
  // The rows split's tolerance (test_grouped_gemm_gpu.cpp) with the longest group's K: f32
  // accumulation error ~ eps_f32 * sqrt(K) * K, plus one ulp of D for the two roundings.
  int64_t k_max = 1;
  for (int64_t s : c.sizes) k_max = std::max(k_max, s);
  const double out_eps = c.dtype == DType::bf16 ? 1.0 / 128 : 1.0 / 1024;
  const double acc_tol = 8 * 1.2e-7 * std::sqrt(static_cast<double>(k_max)) * static_cast<double>(k_max) * std::abs(c.alpha);
  const int64_t mn = c.m * c.n;
  int bad = 0;
  for (int64_t i = 0; i < want.numel() && bad < 10; ++i) {
    const int64_t g = i / mn;
    const double w = want.get(i), v = got.d.get(i);
    // An empty group is an empty sum: exactly zero, whatever the poison was.
    const double tol = c.sizes[static_cast<size_t>(g)] == 0 ? 0.0 : acc_tol + out_eps * std::abs(w) + 1e-6;
    if (!(std::abs(v - w) <= tol)) {
      ++bad;
      ADD_FAILURE() << "D[" << g << "][" << (i % mn) / c.n << ", " << i % c.n << "]: got " << v << ", want " << w
                    << " (tol " << tol << ", K_g " << c.sizes[static_cast<size_t>(g)] << ")";
    }
  }
}

TEST(GroupedGemmContractionGpu, MatchesTheReferenceAcrossShapesDtypesAndGroupings) {
  SKIP_WITHOUT_CUTLASS_GPU();
  const std::vector<std::vector<int64_t>> groupings = {
      {200},                             // G = 1, not a k-tile multiple
      {0, 130, 7},                       // an empty first group, one k-tile + 2, a short one
      {65, 0, 128, 1, 0, 300, 64, 0},    // empty groups among uneven ones, an empty last group
      {1000, 1, 0, 2, 3, 0, 0, 1},       // skewed: one large group, many tiny or empty ones
  };
  const std::pair<int64_t, int64_t> mn[] = {{64, 64}, {136, 64}, {64, 264}, {256, 192}};
  uint64_t seed = 1;
  for (DType t : {DType::bf16, DType::f16})
    for (const auto& sizes : groupings)
      for (auto [m, n] : mn) {
        Case c{.dtype = t, .offsets_dtype = (seed % 2) ? DType::i32 : DType::i64, .m = m, .n = n, .sizes = sizes};
        check_case(c, seed++);
      }
}

TEST(GroupedGemmContractionGpu, AlphaAndManyGroups) {
  SKIP_WITHOUT_CUTLASS_GPU();
  std::vector<int64_t> sizes;
  for (int g = 0; g < 40; ++g) sizes.push_back((g * 37) % 150);  // 40 groups (more than one warp's 32), some empty
  check_case(Case{.dtype = DType::bf16, .m = 128, .n = 64, .sizes = sizes, .alpha = -0.75}, 99);
  check_case(Case{.dtype = DType::f16, .offsets_dtype = DType::i64, .m = 64, .n = 128, .sizes = {33, 0, 70},
                  .alpha = 0.5},
             100);
}

TEST(GroupedGemmContractionGpu, EveryGroupEmptyWritesZeros) {
  SKIP_WITHOUT_CUTLASS_GPU();
  check_case(Case{.m = 64, .n = 72, .sizes = {0, 0, 0}}, 3);  // K_total = 0: D = 0 everywhere
}

TEST(GroupedGemmContractionGpu, BadOffsetsLeaveDUntouchedAndSetStatus) {
  SKIP_WITHOUT_CUTLASS_GPU();
  // Group 1 is empty in the valid offsets, so a wrongly zeroed group would show as well.
  bt::expect_bad_offsets_rejected(make_problem(Case{.m = 64, .n = 64, .sizes = {10, 0, 30}}, 4),
                                  {{0, 10, 10, 50}, {0, 20, 10, 40}, {1, 10, 10, 40}, {0, -5, 10, 40}});
}

TEST(GroupedGemmContractionGpu, DeterministicRunToRun) {
  SKIP_WITHOUT_CUTLASS_GPU();
  bt::expect_deterministic(make_problem(Case{.m = 192, .n = 128, .sizes = {3000, 0, 129}}, 8));
}

TEST(GroupedGemmContractionGpu, PlanAndLayoutRefusals) {
  SKIP_WITHOUT_CUTLASS_GPU();
  Problem p = make_problem(Case{.m = 64, .n = 64, .sizes = {5, 6}}, 5);
  auto stream = Stream::cuda();
  ASSERT_OK(stream.status());
  auto plan = GroupedGemmPlan::select(*stream, p.desc);
  ASSERT_OK(plan.status());
  EXPECT_GT(plan->workspace_size(), 0u);
  EXPECT_NE(plan->sku().layout.find("split=contraction"), std::string::npos) << plan->sku().layout;
  // A row-major A (unit stride along K) is not the layout this kernel reads.
  GroupedGemmDescriptor d = p.desc;
  d.a = Operand::tensor(p.desc.a.dtype, {64, 11});
  auto refused = GroupedGemmPlan::select(*stream, d);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.status().message().find("unit stride along M"), std::string::npos) << refused.status().message();
  // M not a multiple of 8 (TMA's 16-byte rule on A's contiguous extent).
  d = p.desc;
  d.a = Operand::tensor(p.desc.a.dtype, {60, 11}, {1, 64});
  d.d = Operand::tensor(p.desc.a.dtype, {2, 60, 64});
  refused = GroupedGemmPlan::select(*stream, d);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.status().message().find("multiples of 8"), std::string::npos) << refused.status().message();
}

}  // namespace
