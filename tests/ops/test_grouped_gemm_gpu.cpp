// The CUTLASS sm_90a grouped GEMM against the CPU reference plan on the same random inputs:
// G in {1, 3, 8}, uneven group sizes with empty groups and sizes that are not multiples of the
// 128-row tile, K and N in {64, 192, 4096} (never both 4096, so the f64 reference stays cheap),
// bf16 and f16, i32 and i64 offsets, B stored [G, K, N] and [G, N, K], alpha, D poisoned with 0xFF
// before each run and compared element by element (tolerance c * eps * sqrt(K) + one rounding);
// bad offsets leave D untouched and set the status word; determinism; each tiling
// BARACUDA_GROUPED_TILING selects, on a skewed routing.
//
// Skips without a GPU, without an sm_90 device, or in a build without CUTLASS.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <optional>
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

struct Case {
  DType dtype = DType::bf16;
  DType offsets_dtype = DType::i32;
  int64_t k = 64, n = 64;
  std::vector<int64_t> sizes;  // rows per group
  bool b_nk = false;           // B stored [G, N, K]
  double alpha = 1.0;
  std::string name() const {
    std::string s = std::string(dtype_name(dtype)) + " G=" + std::to_string(sizes.size()) + " K=" + std::to_string(k) +
                    " N=" + std::to_string(n) + (b_nk ? " B[G,N,K]" : " B[G,K,N]") + " sizes";
    for (int64_t v : sizes) s += " " + std::to_string(v);
    return s;
  }
};

using Problem = bt::GroupedProblem;

Problem make_problem(const Case& c, uint64_t seed) {
  const auto G = static_cast<int64_t>(c.sizes.size());
  int64_t M = 0;
  for (int64_t s : c.sizes) M += s;
  Problem p{HostTensor(c.dtype, {M, c.k}),
            c.b_nk ? HostTensor(c.dtype, {G, c.k, c.n}, {c.n * c.k, 1, c.k}) : HostTensor(c.dtype, {G, c.k, c.n}),
            HostTensor(c.offsets_dtype, {G + 1}), HostTensor(c.dtype, {M, c.n}), {}};
  std::mt19937_64 rng(seed);
  bt::fill_uniform(p.a, rng, -1, 1);
  bt::fill_uniform(p.b, rng, -1, 1);
  bt::set_group_offsets(p.offsets, c.sizes);
  p.desc = {.a = p.a.operand(), .b = p.b.operand(), .d = p.d.operand(), .offsets_dtype = c.offsets_dtype,
            .alpha = c.alpha, .status = true};
  return p;
}

using GpuRun = bt::GroupedGpuRun;

Status run_gpu(const Problem& p, GpuRun& out, const std::vector<int64_t>* offsets_override = nullptr) {
  return bt::run_grouped_gpu(p, out, offsets_override);
}

HostTensor run_reference(const Problem& p) { return bt::run_grouped_reference(p); }

// sku: receives the SKU of the plan that ran.
void check_case(const Case& c, uint64_t seed, KernelSku* sku = nullptr) {
  SCOPED_TRACE(c.name());
  Problem p = make_problem(c, seed);
  GpuRun got;
  ASSERT_OK(run_gpu(p, got));
  if (sku) *sku = got.sku;
  EXPECT_EQ(got.status, 0);
  const HostTensor want = run_reference(p);
  // f32 accumulation of K products of values in [-1, 1]: error ~ eps_f32 * sqrt(K) * |terms|, then
  // one rounding of D. The reference rounds its own (differently ordered) sum once: where the two
  // f32 sums straddle a rounding boundary they round one unit in the last place apart (seen on the
  // H200 in about 1 of 4000 elements at K = 192), so the allowance is one ulp of D: 2^-7 |D| for
  // bf16, 2^-10 |D| for f16.
  const double out_eps = c.dtype == DType::bf16 ? 1.0 / 128 : 1.0 / 1024;
  const double acc_tol = 8 * 1.2e-7 * std::sqrt(static_cast<double>(c.k)) * static_cast<double>(c.k) * std::abs(c.alpha);
  int bad = 0;
  for (int64_t i = 0; i < want.numel() && bad < 10; ++i) {
    const double w = want.get(i), g = got.d.get(i);
    const double tol = acc_tol + out_eps * std::abs(w) + 1e-6;
    if (!(std::abs(g - w) <= tol)) {
      ++bad;
      ADD_FAILURE() << "element " << i << " (row " << i / c.n << ", col " << i % c.n << "): got " << g << ", want " << w
                    << " (tol " << tol << ")";
    }
  }
}

Case probe_case() { return Case{.sizes = {8}}; }

#define SKIP_WITHOUT_CUTLASS_GPU()                                               \
  do {                                                                           \
    const std::string why = bt::grouped_gpu_skip_reason(make_problem(probe_case(), 0).desc);     \
    if (!why.empty()) GTEST_SKIP() << why;                                       \
  } while (0)

TEST(GroupedGemmGpu, MatchesTheReferenceAcrossShapesDtypesAndLayouts) {
  SKIP_WITHOUT_CUTLASS_GPU();
  const std::vector<std::vector<int64_t>> groupings = {
      {77},                                  // G = 1, not a tile multiple
      {0, 130, 5},                           // G = 3, an empty first group, one tile + 2 rows
      {33, 0, 128, 1, 0, 200, 7, 0},         // G = 8, empty groups among uneven ones, an empty last group
  };
  const std::pair<int64_t, int64_t> kn[] = {{64, 64}, {192, 64}, {64, 192}, {4096, 192}, {192, 4096}, {4096, 64}};
  uint64_t seed = 1;
  for (DType t : {DType::bf16, DType::f16})
    for (bool b_nk : {false, true})
      for (const auto& sizes : groupings)
        for (auto [k, n] : kn) {
          Case c{.dtype = t, .offsets_dtype = (seed % 2) ? DType::i32 : DType::i64, .k = k, .n = n, .sizes = sizes,
                 .b_nk = b_nk};
          check_case(c, seed++);
        }
}

TEST(GroupedGemmGpu, AlphaAndManyGroups) {
  SKIP_WITHOUT_CUTLASS_GPU();
  std::vector<int64_t> sizes;
  for (int g = 0; g < 40; ++g) sizes.push_back((g * 37) % 150);  // 40 groups (more than one warp's 32), some empty
  check_case(Case{.dtype = DType::bf16, .k = 192, .n = 64, .sizes = sizes, .b_nk = true, .alpha = -0.75}, 99);
}

TEST(GroupedGemmGpu, AllGroupsEmpty) {
  SKIP_WITHOUT_CUTLASS_GPU();
  Problem p = make_problem(Case{.sizes = {0, 0, 0}}, 3);
  GpuRun got;
  ASSERT_OK(run_gpu(p, got));
  EXPECT_EQ(got.status, 0);
}

TEST(GroupedGemmGpu, BadOffsetsLeaveDUntouchedAndSetStatus) {
  SKIP_WITHOUT_CUTLASS_GPU();
  bt::expect_bad_offsets_rejected(make_problem(Case{.k = 64, .n = 64, .sizes = {10, 20, 30}}, 4),
                                  {{0, 10, 30, 70}, {0, 20, 10, 60}, {1, 10, 30, 60}, {0, -5, 30, 60}});
}

TEST(GroupedGemmGpu, DeterministicRunToRun) {
  SKIP_WITHOUT_CUTLASS_GPU();
  bt::expect_deterministic(make_problem(Case{.k = 4096, .n = 192, .sizes = {300, 0, 129}, .b_nk = true}, 8));
}

// Sets an environment variable for one scope and puts back what was there before, also when an
// assertion leaves the scope early.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    EXPECT_EQ(setenv(name, value, 1), 0) << name;
  }
  ~ScopedEnv() { (void)(old_ ? setenv(name_, old_->c_str(), 1) : unsetenv(name_)); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// The tilings BARACUDA_GROUPED_TILING selects (read when the plan is made) and what the SKU's
// tactic then names.
struct TilingChoice {
  const char* env;
  const char* tactic;
};
constexpr TilingChoice kTilings[] = {{"128x128_2x1", "tile 128x128x64, cluster 2x1x1"},
                                     {"128x128_1x2", "tile 128x128x64, cluster 1x2x1"},
                                     {"128x256_1x2", "tile 128x256x64, cluster 1x2x1"}};

// The routing the 1x2 clusters are for: empty groups, a single row, one row either side of a
// 128-row tile, odd numbers of M tiles (a 2x1 cluster leaves half idle), a group of 5 tiles. N = 264
// is 3 tiles of 128 (an odd count for a 1x2 cluster) or 2 of 256, each with a partial last tile.
TEST(GroupedGemmGpu, EachTilingMatchesTheReferenceOnSkewedGroups) {
  SKIP_WITHOUT_CUTLASS_GPU();
  const std::vector<int64_t> sizes = {0, 1, 127, 129, 300, 0, 513, 64};
  uint64_t seed = 40;
  for (const TilingChoice& t : kTilings) {
    SCOPED_TRACE(std::string("BARACUDA_GROUPED_TILING=") + t.env);
    ScopedEnv env("BARACUDA_GROUPED_TILING", t.env);
    for (DType dtype : {DType::bf16, DType::f16}) {
      KernelSku sku;
      check_case(Case{.dtype = dtype, .k = 136, .n = 264, .sizes = sizes, .b_nk = true}, seed++, &sku);
      EXPECT_NE(sku.tactic.find(t.tactic), std::string::npos) << sku.to_string();
    }
  }
}

// Without the switch the 128x256 / 1x2 tiling runs where it is built. The 1x2 tilings are built for
// B [G, N, K] only: B [G, K, N] runs the default one, as does a
// value the switch does not know.
TEST(GroupedGemmGpu, TilingFallsBackToTheDefault) {
  SKIP_WITHOUT_CUTLASS_GPU();
  const std::vector<int64_t> sizes = {0, 129, 1, 300};
  const char* default_tactic = kTilings[0].tactic;
  {
    // Unset: the preferred 128x256 / 1x2 tiling where it is built (B [G, N, K]), the default
    // elsewhere.
    ScopedEnv env("BARACUDA_GROUPED_TILING", "");
    ASSERT_EQ(unsetenv("BARACUDA_GROUPED_TILING"), 0);
    KernelSku nk, kn;
    check_case(Case{.dtype = DType::bf16, .k = 136, .n = 264, .sizes = sizes, .b_nk = true}, 48, &nk);
    EXPECT_NE(nk.tactic.find(kTilings[2].tactic), std::string::npos) << nk.to_string();
    check_case(Case{.dtype = DType::bf16, .k = 136, .n = 264, .sizes = sizes, .b_nk = false}, 49, &kn);
    EXPECT_NE(kn.tactic.find(default_tactic), std::string::npos) << kn.to_string();
  }
  {
    ScopedEnv env("BARACUDA_GROUPED_TILING", "128x256_1x2");
    KernelSku sku;
    check_case(Case{.dtype = DType::bf16, .k = 136, .n = 264, .sizes = sizes, .b_nk = false}, 50, &sku);
    EXPECT_NE(sku.tactic.find(default_tactic), std::string::npos) << sku.to_string();
  }
  {
    ScopedEnv env("BARACUDA_GROUPED_TILING", "256x128_1x1");
    KernelSku sku;
    check_case(Case{.dtype = DType::f16, .k = 136, .n = 264, .sizes = sizes, .b_nk = true}, 51, &sku);
    EXPECT_NE(sku.tactic.find(default_tactic), std::string::npos) << sku.to_string();
  }
}

TEST(GroupedGemmGpu, WorkspaceAndLayoutChecks) {
  SKIP_WITHOUT_CUTLASS_GPU();
  Problem p = make_problem(Case{.k = 64, .n = 64, .sizes = {5, 6}}, 5);
  auto stream = Stream::cuda();
  ASSERT_OK(stream.status());
  auto plan = GroupedGemmPlan::select(*stream, p.desc);
  ASSERT_OK(plan.status());
  EXPECT_GT(plan->workspace_size(), 0u);
  EXPECT_EQ(plan->sku().backend, "cutlass");
  // A B without a unit stride along K or N cannot be read by TMA: the CUDA plan refuses it.
  GroupedGemmDescriptor d = p.desc;
  d.b = Operand::tensor(p.desc.b.dtype, {2, 64, 64}, {64 * 64 * 4, 128, 2});
  auto refused = GroupedGemmPlan::select(*stream, d);
  EXPECT_FALSE(refused.has_value());
  // A padded row stride that breaks TMA's 16-byte rule (K = 64, lda = 68 is fine; 66 is not).
  d = p.desc;
  d.a = Operand::tensor(p.desc.a.dtype, {11, 64}, {66, 1});
  EXPECT_FALSE(GroupedGemmPlan::select(*stream, d).has_value());
}

}  // namespace
