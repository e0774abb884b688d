// Core: dtypes and promotion, layouts, Status/Result, the plan mechanism (explain, preferences,
// environment switches, dispatch log, sku, run preconditions), host scalar conversions.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <memory>
#include <span>
#include <string>

#include "baracuda/baracuda.hpp"
#include "core/scalar_convert_generic.hpp"
#include "test_support.hpp"

namespace {

using namespace baracuda;
using bt::HostTensor;


ElementwiseDescriptor gelu_desc(DType dt = DType::f32) {
  ElementwiseDescriptor d;
  d.op = ElementwiseOp::gelu;
  d.inputs = {Operand::tensor(dt, {4})};
  return d;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// ---------------------------------------------------------------------------------------------
// DType

TEST(DType, SizesAndNames) {
  struct Row {
    DType t;
    size_t size;
    const char* name;
  };
  const Row rows[] = {{DType::f64, 8, "f64"},     {DType::f32, 4, "f32"},       {DType::f16, 2, "f16"},
                      {DType::bf16, 2, "bf16"},   {DType::f8e4m3, 1, "f8e4m3"}, {DType::f8e5m2, 1, "f8e5m2"},
                      {DType::i64, 8, "i64"},     {DType::i32, 4, "i32"},       {DType::i16, 2, "i16"},
                      {DType::i8, 1, "i8"},       {DType::u8, 1, "u8"},         {DType::boolean, 1, "bool"},
                      {DType::c64, 8, "c64"},     {DType::c128, 16, "c128"}};
  ASSERT_EQ(std::size(rows), static_cast<size_t>(kNumDTypes));
  for (const Row& r : rows) {
    EXPECT_EQ(dtype_size(r.t), r.size) << r.name;
    EXPECT_EQ(dtype_name(r.t), r.name);
    auto back = dtype_from_name(r.name);
    ASSERT_TRUE(back.has_value()) << r.name;
    EXPECT_EQ(*back, r.t);
  }
  EXPECT_FALSE(dtype_from_name("float32").has_value());
  EXPECT_FALSE(dtype_from_name("").has_value());
  EXPECT_TRUE(is_fp8(DType::f8e5m2));
  EXPECT_TRUE(is_floating(DType::f8e4m3));
  EXPECT_FALSE(is_integral(DType::boolean));
  EXPECT_TRUE(is_signed_integral(DType::i8));
  EXPECT_FALSE(is_signed_integral(DType::u8));
  EXPECT_EQ(accumulator_dtype(DType::bf16), DType::f32);
  EXPECT_EQ(accumulator_dtype(DType::f64), DType::f64);
  EXPECT_EQ(accumulator_dtype(DType::u8), DType::i64);
}

TEST(DType, PromoteTypesMatchesPyTorch) {
  auto p = [](DType a, DType b) { return promote_types(a, b); };
  EXPECT_EQ(p(DType::u8, DType::i8), DType::i16);
  EXPECT_EQ(p(DType::i8, DType::u8), DType::i16);
  EXPECT_EQ(p(DType::u8, DType::i16), DType::i16);
  EXPECT_EQ(p(DType::u8, DType::i64), DType::i64);
  EXPECT_EQ(p(DType::i32, DType::f16), DType::f16);
  EXPECT_EQ(p(DType::i64, DType::bf16), DType::bf16);
  EXPECT_EQ(p(DType::f16, DType::bf16), DType::f32);
  EXPECT_EQ(p(DType::bf16, DType::f16), DType::f32);
  EXPECT_EQ(p(DType::i64, DType::f32), DType::f32);
  EXPECT_EQ(p(DType::f32, DType::f64), DType::f64);
  EXPECT_EQ(p(DType::f16, DType::f32), DType::f32);
  EXPECT_EQ(p(DType::i16, DType::i32), DType::i32);
  EXPECT_EQ(p(DType::c64, DType::f64), DType::c128);
  EXPECT_EQ(p(DType::c64, DType::f32), DType::c64);
  EXPECT_EQ(p(DType::c64, DType::i64), DType::c64);
  EXPECT_EQ(p(DType::c128, DType::f16), DType::c128);
  for (DType t : kAllDTypes) {
    // bool promotes to anything but float8 (PyTorch refuses every float8 promotion).
    const std::optional<DType> want = is_fp8(t) && t != DType::boolean ? std::nullopt : std::optional<DType>(t);
    EXPECT_EQ(p(DType::boolean, t), want) << dtype_name(t);
    EXPECT_EQ(p(t, DType::boolean), want) << dtype_name(t);
    EXPECT_EQ(p(t, t), t);
  }
  // fp8 with any other dtype: PyTorch refuses.
  for (DType t : kAllDTypes) {
    if (t != DType::f8e4m3) {
      EXPECT_FALSE(p(DType::f8e4m3, t).has_value()) << dtype_name(t);
    }
    if (t != DType::f8e5m2) {
      EXPECT_FALSE(p(t, DType::f8e5m2).has_value()) << dtype_name(t);
    }
  }
  // Symmetric everywhere.
  for (DType a : kAllDTypes)
    for (DType b : kAllDTypes) EXPECT_EQ(p(a, b), p(b, a)) << dtype_name(a) << "," << dtype_name(b);
}

TEST(DType, CanCast) {
  EXPECT_TRUE(can_cast(DType::i32, DType::f32));
  EXPECT_TRUE(can_cast(DType::f32, DType::f16));
  EXPECT_TRUE(can_cast(DType::boolean, DType::u8));
  EXPECT_TRUE(can_cast(DType::boolean, DType::boolean));
  EXPECT_TRUE(can_cast(DType::f64, DType::c64));
  EXPECT_TRUE(can_cast(DType::i64, DType::i8));  // same category: allowed (narrowing is fine)
  EXPECT_FALSE(can_cast(DType::f32, DType::i32));
  EXPECT_FALSE(can_cast(DType::f16, DType::boolean));
  EXPECT_FALSE(can_cast(DType::i8, DType::boolean));
  EXPECT_FALSE(can_cast(DType::c64, DType::f64));
  EXPECT_FALSE(can_cast(DType::c128, DType::i64));
}

TEST(DType, ResultTypeTiers) {
  auto rt = [](std::vector<Operand> ops) { return result_type(ops); };
  auto t = [](DType d) { return Operand::tensor(d, {3}); };
  auto zero_dim = [](DType d) { return Operand::tensor(d, {}); };
  auto r = rt({t(DType::i32), Operand::scalar(DType::f64)});
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_EQ(*r, DType::f32);
  EXPECT_EQ(*rt({t(DType::bf16), Operand::scalar(DType::f64)}), DType::bf16);
  EXPECT_EQ(*rt({t(DType::i8), Operand::scalar(DType::i64)}), DType::i8);
  EXPECT_EQ(*rt({t(DType::u8), Operand::scalar(DType::i64)}), DType::u8);
  EXPECT_EQ(*rt({t(DType::f16), zero_dim(DType::f64)}), DType::f16);
  EXPECT_EQ(*rt({t(DType::i32), zero_dim(DType::f64)}), DType::f64);
  EXPECT_EQ(*rt({t(DType::boolean), Operand::scalar(DType::i64)}), DType::i64);
  EXPECT_EQ(*rt({t(DType::boolean), Operand::scalar(DType::boolean)}), DType::boolean);
  EXPECT_EQ(*rt({t(DType::i16), t(DType::i32)}), DType::i32);
  EXPECT_EQ(*rt({zero_dim(DType::i64), Operand::scalar(DType::f64)}), DType::f32);
  EXPECT_EQ(*rt({t(DType::f16), t(DType::bf16), Operand::scalar(DType::f64)}), DType::f32);
  auto bad = rt({t(DType::f8e4m3), t(DType::f16)});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.status().code(), StatusCode::invalid_argument);
  EXPECT_TRUE(contains(bad.status().message(), "f8e4m3")) << bad.status().message();
  EXPECT_FALSE(rt({}));
}

// ---------------------------------------------------------------------------------------------
// Layout and tensors

TEST(Layout, MakeErrors) {
  std::vector<int64_t> nine(9, 1);
  auto r9 = Layout::make(nine);
  ASSERT_FALSE(r9);
  EXPECT_EQ(r9.status().code(), StatusCode::invalid_argument);
  EXPECT_TRUE(contains(r9.status().message(), "rank 9")) << r9.status().message();

  std::vector<int64_t> neg{2, -3};
  auto rn = Layout::make(neg);
  ASSERT_FALSE(rn);
  EXPECT_EQ(rn.status().code(), StatusCode::invalid_argument);
  EXPECT_TRUE(contains(rn.status().message(), "-3")) << rn.status().message();

  std::vector<int64_t> sizes{2, 3}, strides{1};
  auto rs = Layout::make(sizes, strides);
  ASSERT_FALSE(rs);
  EXPECT_EQ(rs.status().code(), StatusCode::invalid_argument);
  EXPECT_TRUE(contains(rs.status().message(), "1 strides for 2 sizes")) << rs.status().message();

  std::vector<int64_t> huge{int64_t{1} << 40, int64_t{1} << 40};
  auto ro = Layout::make(huge);
  ASSERT_FALSE(ro);
  EXPECT_EQ(ro.status().code(), StatusCode::invalid_argument);
  EXPECT_TRUE(contains(ro.status().message(), "overflow")) << ro.status().message();

  // The tensor builders report the same errors.
  float x = 0;
  auto t = make_tensor_ref(&x, DType::f32, nine);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.status().code(), StatusCode::invalid_argument);
}

TEST(Layout, MakeAndQueries) {
  std::vector<int64_t> sizes{2, 3, 4};
  auto l = Layout::make(sizes);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->rank, 3);
  EXPECT_EQ(l->numel(), 24);
  EXPECT_EQ(l->strides[0], 12);
  EXPECT_EQ(l->strides[1], 4);
  EXPECT_EQ(l->strides[2], 1);
  EXPECT_TRUE(l->is_contiguous());
  EXPECT_EQ(l->to_string(), "[2, 3, 4] strides [12, 4, 1]");

  std::vector<int64_t> tsizes{3, 2}, tstrides{1, 3};
  auto tr = Layout::make(tsizes, tstrides);
  ASSERT_TRUE(tr);
  EXPECT_FALSE(tr->is_contiguous());

  // Size-1 dims may have any stride.
  std::vector<int64_t> s1{1, 5}, st1{99, 1};
  EXPECT_TRUE(Layout::make(s1, st1)->is_contiguous());

  auto scalar = Layout::make({});
  ASSERT_TRUE(scalar);
  EXPECT_EQ(scalar->rank, 0);
  EXPECT_EQ(scalar->numel(), 1);
  EXPECT_TRUE(scalar->defined());
  EXPECT_FALSE(Layout{}.defined());

  std::vector<int64_t> empty{3, 0, 2};
  EXPECT_EQ(Layout::make(empty)->numel(), 0);
  EXPECT_EQ(contiguous_strides(empty), (std::vector<int64_t>{2, 2, 1}));
  EXPECT_EQ(shape_to_string(empty), "[3, 0, 2]");

  alignas(64) float buf[16] = {};
  auto ref = make_tensor_ref(buf + 1, DType::f32, {3});
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref->alignment(), 4u);
  EXPECT_EQ(make_tensor_ref(buf + 4, DType::f32, {3})->alignment(), 16u);
  EXPECT_GE(make_tensor_ref(buf, DType::f32, {3})->alignment(), 64u);
}

// ---------------------------------------------------------------------------------------------
// Status / Result

TEST(Status, Basics) {
  Status ok = Status::ok();
  EXPECT_TRUE(ok.is_ok());
  EXPECT_TRUE(static_cast<bool>(ok));
  EXPECT_EQ(ok.to_string(), "ok");
  Status s = not_supported("[x] nope");
  EXPECT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), StatusCode::not_supported);
  EXPECT_EQ(s.message(), "[x] nope");
  EXPECT_EQ(s.to_string(), "not_supported: [x] nope");
  EXPECT_EQ(invalid_argument("a").code(), StatusCode::invalid_argument);
  EXPECT_EQ(misaligned("a").code(), StatusCode::misaligned);
  EXPECT_EQ(workspace_too_small("a").code(), StatusCode::workspace_too_small);
  EXPECT_EQ(backend_error("a").code(), StatusCode::backend_error);
  EXPECT_EQ(internal_error("a").code(), StatusCode::internal);
  EXPECT_EQ(status_code_name(StatusCode::workspace_too_small), "workspace_too_small");
  EXPECT_EQ(status_code_name(StatusCode::misaligned), "misaligned");
}

Status fails_at(int step, int& reached) {
  BARACUDA_TRY(step == 1 ? invalid_argument("step 1") : Status::ok());
  reached = 1;
  BARACUDA_TRY(step == 2 ? misaligned("step 2") : Status::ok());
  reached = 2;
  return Status::ok();
}

Result<int> half_of(int v) {
  if (v % 2) return invalid_argument("odd " + std::to_string(v));
  return v / 2;
}

Result<int> quarter_of(int v) {
  BARACUDA_ASSIGN_OR_RETURN(int h, half_of(v));
  BARACUDA_ASSIGN_OR_RETURN(int q, half_of(h));
  return q;
}

TEST(Status, ResultAndMacros) {
  Result<int> r = 5;
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 5);
  EXPECT_TRUE(r.status().is_ok());
  Result<int> e = invalid_argument("bad");
  EXPECT_FALSE(e);
  EXPECT_EQ(e.status().code(), StatusCode::invalid_argument);
  EXPECT_EQ(e.status().message(), "bad");
  Result<int> from_ok = Status::ok();  // a Result can't hold "ok" without a value
  ASSERT_FALSE(from_ok);
  EXPECT_EQ(from_ok.status().code(), StatusCode::internal);

  int reached = 0;
  Status s1 = fails_at(1, reached);
  EXPECT_EQ(s1.code(), StatusCode::invalid_argument);
  EXPECT_EQ(reached, 0);
  Status s2 = fails_at(2, reached);
  EXPECT_EQ(s2.code(), StatusCode::misaligned);
  EXPECT_EQ(reached, 1);
  EXPECT_TRUE(fails_at(0, reached).is_ok());
  EXPECT_EQ(reached, 2);

  EXPECT_EQ(*quarter_of(12), 3);
  auto q = quarter_of(6);
  ASSERT_FALSE(q);
  EXPECT_EQ(q.status().message(), "odd 3");
}

// ---------------------------------------------------------------------------------------------
// Device / workspace

TEST(Device, Basics) {
  EXPECT_EQ(Device::cpu().to_string(), "cpu");
  EXPECT_EQ(Device::cuda(1, 90).to_string(), "cuda:1(sm_90)");
  EXPECT_TRUE(Device::cuda(0, 80).same_place(Device::cuda(0, 90)));
  EXPECT_FALSE(Device::cuda(0, 90).same_place(Device::cuda(1, 90)));
  EXPECT_FALSE(Device::cpu().same_place(Device::cuda(0, 90)));
  EXPECT_TRUE(Stream::cpu().is_cpu());
  EXPECT_EQ(Stream::cpu().cuda_stream(), nullptr);
  if (!built_with_cuda()) {
    EXPECT_EQ(cuda_device_count(), 0);
    auto s = Stream::cuda();
    ASSERT_FALSE(s);
    EXPECT_EQ(s.status().code(), StatusCode::not_supported);
    EXPECT_TRUE(contains(s.status().message(), "BARACUDA_CUDA=OFF")) << s.status().message();
  }
}

TEST(Workspace, LayoutBooking) {
  WorkspaceLayout w;
  EXPECT_EQ(w.book(10), 0u);
  EXPECT_EQ(w.book(100), 256u);
  EXPECT_EQ(w.book(8, 8), 360u);
  EXPECT_EQ(w.total(), 368u);
}

// ---------------------------------------------------------------------------------------------
// Plan mechanism (on the elementwise family)

TEST(Plan, ExplainListsEveryImplementation) {
  auto cands = ElementwisePlan::explain(Stream::cpu(), gelu_desc());
  auto impls = ElementwiseFamily::implementations();
  ASSERT_EQ(cands.size(), impls.size());
  int chosen = 0;
  for (size_t i = 0; i < cands.size(); ++i) {
    EXPECT_EQ(cands[i].impl, impls[i].name);
    EXPECT_EQ(cands[i].backend, impls[i].backend);
    if (cands[i].impl == "cpu_reference") {
      EXPECT_TRUE(cands[i].status.is_ok()) << cands[i].status.to_string();
      EXPECT_TRUE(cands[i].chosen);
    } else {
      // CUDA implementations are refused on a CPU stream, and say why.
      EXPECT_EQ(cands[i].status.code(), StatusCode::not_supported);
      EXPECT_TRUE(contains(cands[i].status.message(), "runs on cuda")) << cands[i].status.message();
      EXPECT_FALSE(cands[i].chosen);
    }
    chosen += cands[i].chosen;
  }
  EXPECT_EQ(chosen, 1);
  EXPECT_EQ(cands.back().impl, "cpu_reference");

  // An invalid descriptor: explain lists nothing, select says why.
  ElementwiseDescriptor bad = gelu_desc(DType::i32);
  EXPECT_TRUE(ElementwisePlan::explain(Stream::cpu(), bad).empty());
  auto p = ElementwisePlan::select(Stream::cpu(), bad);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.status().code(), StatusCode::invalid_argument);
}

TEST(Plan, ForceAndExclude) {
  PlanPreference force_cuda;
  force_cuda.force = "cuda_vectorized";
  auto p = ElementwisePlan::select(Stream::cpu(), gelu_desc(), force_cuda);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.status().code(), StatusCode::not_supported);
  const std::string m = p.status().message();
  EXPECT_TRUE(contains(m, "[elementwise] no implementation for gelu(f32[4])")) << m;
  EXPECT_TRUE(contains(m, "on cpu")) << m;
  EXPECT_TRUE(contains(m, "cpu_reference: not the forced implementation 'cuda_vectorized'")) << m;
  if (built_with_cuda()) {
    EXPECT_TRUE(contains(m, "cuda_vectorized: runs on cuda")) << m;
  }

  auto cands = ElementwisePlan::explain(Stream::cpu(), gelu_desc(), force_cuda);
  for (const Candidate& c : cands) EXPECT_FALSE(c.chosen) << c.impl;

  PlanPreference force_backend;
  force_backend.force = "cpu-reference";  // a backend name works too
  auto pb = ElementwisePlan::select(Stream::cpu(), gelu_desc(), force_backend);
  ASSERT_TRUE(pb) << pb.status().to_string();
  EXPECT_EQ(pb->sku().impl, "cpu_reference");

  PlanPreference exclude;
  exclude.exclude = {"cpu_reference"};
  auto pe = ElementwisePlan::select(Stream::cpu(), gelu_desc(), exclude);
  ASSERT_FALSE(pe);
  EXPECT_EQ(pe.status().code(), StatusCode::not_supported);
  EXPECT_TRUE(contains(pe.status().message(), "cpu_reference: excluded by the preference")) << pe.status().message();

  PlanPreference exclude_other;
  exclude_other.exclude = {"cuda_vectorized", "baracuda-cuda"};
  EXPECT_TRUE(ElementwisePlan::select(Stream::cpu(), gelu_desc(), exclude_other));

  PlanPreference det;
  det.deterministic = true;
  auto pd = ElementwisePlan::select(Stream::cpu(), gelu_desc(), det);
  ASSERT_TRUE(pd);
  EXPECT_TRUE(pd->precision_guarantee().deterministic);
}

TEST(Plan, EnvironmentOverride) {
  bt::ScopedEnv guard("BARACUDA_IMPL");
  setenv("BARACUDA_IMPL", "cuda_strided", 1);
  EXPECT_EQ(detail::forced_implementation_from_env(), "cuda_strided");
  auto p = ElementwisePlan::select(Stream::cpu(), gelu_desc());
  ASSERT_FALSE(p);
  EXPECT_EQ(p.status().code(), StatusCode::not_supported);
  EXPECT_TRUE(contains(p.status().message(), "not the forced implementation 'cuda_strided'")) << p.status().message();
  // The environment wins over the preference.
  PlanPreference pref;
  pref.force = "cpu_reference";
  EXPECT_FALSE(ElementwisePlan::select(Stream::cpu(), gelu_desc(), pref));

  setenv("BARACUDA_IMPL", "cpu_reference", 1);
  EXPECT_TRUE(ElementwisePlan::select(Stream::cpu(), gelu_desc()));
  unsetenv("BARACUDA_IMPL");
  EXPECT_EQ(detail::forced_implementation_from_env(), "");
  EXPECT_TRUE(ElementwisePlan::select(Stream::cpu(), gelu_desc()));
}

// select_on: the plan an implementation composes at plan time (it knows the device, not the
// stream). BARACUDA_IMPL names the outer family's implementation and is not applied to it.
TEST(Plan, SelectOnDeviceForComposedPlans) {
  auto p = ElementwisePlan::select_on(Device::cpu(), gelu_desc());
  ASSERT_TRUE(p) << p.status().to_string();
  EXPECT_TRUE(p->device().is_cpu());
  EXPECT_EQ(p->sku().impl, "cpu_reference");
  bt::ScopedEnv guard("BARACUDA_IMPL");
  setenv("BARACUDA_IMPL", "cuda_strided", 1);
  EXPECT_FALSE(ElementwisePlan::select(Stream::cpu(), gelu_desc()));
  EXPECT_TRUE(ElementwisePlan::select_on(Device::cpu(), gelu_desc()));
  PlanPreference pref;  // an explicit preference still applies
  pref.force = "cuda_strided";
  EXPECT_FALSE(ElementwisePlan::select_on(Device::cpu(), gelu_desc(), pref));
  unsetenv("BARACUDA_IMPL");
}

// A toy family: one implementation whose plan depends on the preference (make_with_preference)
// and one with only make().
struct ToyDescriptor {};
struct ToyArgs {};
struct ToyFamily {
  static constexpr std::string_view name = "toy";
  using Descriptor = ToyDescriptor;
  using Args = ToyArgs;
  static Status validate(const ToyDescriptor&) { return Status::ok(); }
  static std::string describe(const ToyDescriptor&) { return "toy()"; }
  static std::span<const Implementation<ToyFamily>> implementations();
};

class ToyExecutable final : public Executable<ToyFamily> {
 public:
  explicit ToyExecutable(std::string tactic) { sku_.tactic = std::move(tactic); }
  Status can_implement(const ToyArgs&) const override { return Status::ok(); }
  size_t workspace_size() const override { return 0; }
  Status run(const Stream&, Workspace, const ToyArgs&) const override { return Status::ok(); }
  const KernelSku& sku() const override { return sku_; }
  const PrecisionGuarantee& precision_guarantee() const override { return pg_; }

 private:
  KernelSku sku_;
  PrecisionGuarantee pg_;
};

using ToyExecPtr = std::shared_ptr<const Executable<ToyFamily>>;
Status toy_supports(const ToyDescriptor&, const Device&) { return Status::ok(); }
Result<ToyExecPtr> toy_make(const ToyDescriptor&, const Device&) { return ToyExecPtr(std::make_shared<ToyExecutable>("make")); }
Result<ToyExecPtr> toy_make_with_preference(const ToyDescriptor&, const Device&, const PlanPreference& pref) {
  return ToyExecPtr(std::make_shared<ToyExecutable>(std::string("with preference: autotune ") +
                                                    (pref.autotune ? "on" : "off") + ", tf32 " +
                                                    (pref.allow_tf32 ? "on" : "off")));
}

std::span<const Implementation<ToyFamily>> ToyFamily::implementations() {
  static const Implementation<ToyFamily> impls[] = {
      {"tuned", "toy", DeviceKind::cpu, toy_supports, toy_make, toy_make_with_preference},
      {"plain", "toy", DeviceKind::cpu, toy_supports, toy_make},
  };
  return impls;
}

TEST(Plan, MakeWithPreferenceSeesThePreference) {
  auto p = Plan<ToyFamily>::select(Stream::cpu(), ToyDescriptor{});
  ASSERT_TRUE(p) << p.status().to_string();
  EXPECT_EQ(p->sku().tactic, "with preference: autotune off, tf32 off");
  PlanPreference pref;
  pref.autotune = true;
  pref.allow_tf32 = true;
  auto q = Plan<ToyFamily>::select(Stream::cpu(), ToyDescriptor{}, pref);
  ASSERT_TRUE(q) << q.status().to_string();
  EXPECT_EQ(q->sku().tactic, "with preference: autotune on, tf32 on");
  // An entry without make_with_preference is made by make().
  pref.force = "plain";
  auto r = Plan<ToyFamily>::select(Stream::cpu(), ToyDescriptor{}, pref);
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_EQ(r->sku().tactic, "make");
}

TEST(Plan, MaxWorkspaceBytes) {
  PlanPreference pref;
  pref.max_workspace_bytes = 0;
  auto p = ElementwisePlan::select(Stream::cpu(), gelu_desc(), pref);
  ASSERT_TRUE(p) << p.status().to_string();
  EXPECT_EQ(p->workspace_size(), 0u);
  // prelu backward: the CPU reference needs no scratch either, so a zero limit still selects it.
  ElementwiseDescriptor d;
  d.op = ElementwiseOp::prelu;
  d.direction = Direction::backward;
  d.inputs = {Operand::tensor(DType::f32, {2, 3, 4}), Operand::tensor(DType::f32, {3})};
  auto pp = ElementwisePlan::select(Stream::cpu(), d, pref);
  ASSERT_TRUE(pp) << pp.status().to_string();
  EXPECT_EQ(pp->workspace_size(), 0u);
}

TEST(Plan, DispatchLog) {
  bt::ScopedEnv guard("BARACUDA_LOG");
  setenv("BARACUDA_LOG", "alloc,dispatch", 1);
  EXPECT_TRUE(detail::dispatch_log_enabled());
  testing::internal::CaptureStderr();
  auto p = ElementwisePlan::select(Stream::cpu(), gelu_desc());
  std::string err = testing::internal::GetCapturedStderr();
  ASSERT_TRUE(p);
  EXPECT_TRUE(contains(err, "[baracuda dispatch] elementwise gelu(f32[4])")) << err;
  EXPECT_TRUE(contains(err, "* cpu_reference (cpu-reference): chosen")) << err;

  setenv("BARACUDA_LOG", "alloc", 1);
  EXPECT_FALSE(detail::dispatch_log_enabled());
  testing::internal::CaptureStderr();
  auto p2 = ElementwisePlan::select(Stream::cpu(), gelu_desc());
  std::string err2 = testing::internal::GetCapturedStderr();
  ASSERT_TRUE(p2);
  EXPECT_EQ(err2, "");
}

TEST(Plan, SkuAndPrecisionGuarantee) {
  auto p = ElementwisePlan::select(Stream::cpu(), gelu_desc());
  ASSERT_TRUE(p);
  const KernelSku& s = p->sku();
  EXPECT_EQ(s.family, "elementwise");
  EXPECT_EQ(s.op, "gelu");
  EXPECT_EQ(s.dtypes, "f32->f32");
  EXPECT_EQ(s.layout, "strided");
  EXPECT_EQ(s.epilogue, "");
  EXPECT_EQ(s.arch, "cpu");
  EXPECT_EQ(s.backend, "cpu-reference");
  EXPECT_EQ(s.impl, "cpu_reference");
  EXPECT_EQ(s.to_string(), "elementwise.gelu f32->f32 strided cpu cpu-reference/cpu_reference");
  const PrecisionGuarantee& g = p->precision_guarantee();
  EXPECT_EQ(g.accumulator, DType::f64);
  EXPECT_TRUE(g.deterministic);
  EXPECT_TRUE(g.bit_stable);
  EXPECT_TRUE(contains(g.to_string(), "accumulates in f64; deterministic")) << g.to_string();
  EXPECT_EQ(p->device().kind, DeviceKind::cpu);
  EXPECT_EQ(p->descriptor().op, ElementwiseOp::gelu);

  ElementwiseDescriptor bwd = gelu_desc(DType::bf16);
  bwd.direction = Direction::backward;
  auto pb = ElementwisePlan::select(Stream::cpu(), bwd);
  ASSERT_TRUE(pb);
  EXPECT_EQ(pb->sku().op, "gelu.backward");
  EXPECT_EQ(pb->sku().dtypes, "bf16,bf16->bf16");

  ElementwiseDescriptor cast;
  cast.op = ElementwiseOp::cast;
  cast.inputs = {Operand::tensor(DType::f32, {8})};
  cast.output_dtype = DType::f8e4m3;
  cast.attrs.amax = true;
  auto pc = ElementwisePlan::select(Stream::cpu(), cast);
  ASSERT_TRUE(pc) << pc.status().to_string();
  EXPECT_EQ(pc->sku().epilogue, "amax");
  EXPECT_EQ(pc->sku().dtypes, "f32->f8e4m3,f32");

  ElementwiseDescriptor mul;
  mul.op = ElementwiseOp::mul;
  mul.inputs = {Operand::tensor(DType::i32, {8}), Operand::scalar(DType::f64)};
  auto pm = ElementwisePlan::select(Stream::cpu(), mul);
  ASSERT_TRUE(pm) << pm.status().to_string();
  EXPECT_EQ(pm->sku().dtypes, "i32,scalar:f64->f32");

  ElementwiseDescriptor band;
  band.op = ElementwiseOp::bitwise_and;
  band.inputs = {Operand::tensor(DType::i16, {8}), Operand::tensor(DType::i16, {8})};
  auto pi = ElementwisePlan::select(Stream::cpu(), band);
  ASSERT_TRUE(pi);
  EXPECT_EQ(pi->precision_guarantee().accumulator, DType::i64);
}

TEST(Plan, RunPreconditions) {
  const Stream cpu = Stream::cpu();
  // A plan selected for a CUDA device, run on the CPU stream.
  Status s = detail::check_run_preconditions("elementwise", Device::cuda(0, 90), cpu, 0, {});
  EXPECT_EQ(s.code(), StatusCode::invalid_argument);
  EXPECT_TRUE(contains(s.message(), "[elementwise] device mismatch")) << s.message();
  EXPECT_TRUE(contains(s.message(), "cuda:0(sm_90)")) << s.message();

  alignas(256) static char buf[1024];
  Status w = detail::check_run_preconditions("elementwise", Device::cpu(), cpu, 1024, Workspace{buf, 512});
  EXPECT_EQ(w.code(), StatusCode::workspace_too_small);
  EXPECT_TRUE(contains(w.message(), "workspace of 512 bytes, the plan needs 1024")) << w.message();

  Status n = detail::check_run_preconditions("elementwise", Device::cpu(), cpu, 16, Workspace{nullptr, 64});
  EXPECT_EQ(n.code(), StatusCode::invalid_argument);
  EXPECT_TRUE(contains(n.message(), "null workspace pointer")) << n.message();

  EXPECT_TRUE(detail::check_run_preconditions("elementwise", Device::cpu(), cpu, 1024, Workspace{buf, 1024}).is_ok());
  EXPECT_TRUE(detail::check_run_preconditions("elementwise", Device::cpu(), cpu, 0, Workspace{}).is_ok());
}

TEST(Plan, RunOnAnotherDeviceFails) {
  // A CPU plan given a CUDA stream (only possible where a GPU is present).
  if (cuda_device_count() == 0) {
    // Without a GPU, the plan's own stream works and the CUDA stream can't be made.
    EXPECT_FALSE(Stream::cuda());
  } else {
    auto gpu = Stream::cuda();
    ASSERT_TRUE(gpu);
    auto p = ElementwisePlan::select(Stream::cpu(), gelu_desc());
    ASSERT_TRUE(p);
    HostTensor x = bt::host(DType::f32, {4}, {1, 2, 3, 4}), y(DType::f32, {4});
    ElementwiseArgs a;
    a.inputs[0] = x.ref();
    a.outputs[0] = y.mut();
    Status s = p->run(*gpu, {}, a);
    EXPECT_EQ(s.code(), StatusCode::invalid_argument);
    EXPECT_TRUE(contains(s.message(), "device mismatch")) << s.message();
  }
  // The device check runs before the arguments are looked at.
  auto p = ElementwisePlan::select(Stream::cpu(), gelu_desc());
  ASSERT_TRUE(p);
  HostTensor x = bt::host(DType::f32, {4}, {1, 2, 3, 4}), y(DType::f32, {4});
  ElementwiseArgs a;
  a.inputs[0] = x.ref();
  a.outputs[0] = y.mut();
  ASSERT_TRUE(p->run(Stream::cpu(), {}, a).is_ok());
  EXPECT_NEAR(y.get(0), 0.8413447460685429, 1e-6);
}

// ---------------------------------------------------------------------------------------------
// Host scalar conversions

// f16 and bf16 convert by bit arithmetic where the value is normal in the format, by the generic
// mini-float form elsewhere (src/core/scalar_convert.cpp). The two must give the same bits for
// every input: every one of the 65536 encodings decoded (NaN: both NaN), and encoded from the
// value itself, from the midpoints to its neighbours (ties: to even), from the doubles next to
// those midpoints, and from values just inside and outside the format's range.
TEST(ScalarConvert, F16AndBf16FastPathsMatchTheGenericForm) {
  for (DType t : {DType::f16, DType::bf16}) {
    const bool bf = t == DType::bf16;
    const auto fast_decode = [&](uint32_t b) {
      return bf ? bf16_bits_to_float(static_cast<uint16_t>(b)) : f16_bits_to_float(static_cast<uint16_t>(b));
    };
    const auto fast_encode = [&](double x) -> uint32_t { return bf ? float_to_bf16_bits(x) : float_to_f16_bits(x); };
    int bad = 0, checked = 0;
    const auto expect_encode = [&](double x) {
      ++checked;
      const uint32_t want = detail::narrow_float_encode_generic(x, t), got = fast_encode(x);
      if (want != got && ++bad <= 10) ADD_FAILURE() << dtype_name(t) << " encode(" << x << "): " << got << ", generic " << want;
    };
    for (uint32_t b = 0; b < 65536; ++b) {
      const double want = detail::narrow_float_decode_generic(b, t);
      const double got = fast_decode(b);
      ++checked;
      if (std::isnan(want) ? !std::isnan(got) : (got != want || std::signbit(got) != std::signbit(want))) {
        if (++bad <= 10) ADD_FAILURE() << dtype_name(t) << " decode(" << b << "): " << got << ", generic " << want;
      }
      if (std::isnan(want) || std::isinf(want)) continue;
      expect_encode(want);
      // The next encoding up in magnitude (the largest finite one's is inf: its midpoint is the
      // overflow threshold, computed from the spacing below).
      const uint32_t up = b + 1;
      const double next = detail::narrow_float_decode_generic(up, t);
      const double mid = std::isinf(next) ? want + (want - detail::narrow_float_decode_generic(b - 1, t)) / 2
                                          : (want + next) / 2;  // exact in double
      for (double x : {mid, std::nextafter(mid, 0.0), std::nextafter(mid, mid * 2), want * (1 + 0x1p-30), want * (1 - 0x1p-30)})
        expect_encode(x);
    }
    for (double x : {0.0, -0.0, std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
                     std::numeric_limits<double>::quiet_NaN(), 1e300, -1e300, 1e-300, -1e-300, 0x1p128, 0x1p-126,
                     std::nextafter(0x1p-126, 0.0), 0x1p-14, std::nextafter(0x1p-14, 0.0), 65504.0, 65519.999, 65520.0,
                     std::numeric_limits<double>::denorm_min()})
      expect_encode(x);
    EXPECT_EQ(bad, 0) << dtype_name(t) << ": " << bad << " of " << checked << " conversions differ";
  }
}

TEST(ScalarConvert, RoundingAndSaturation) {
  // bf16: round to nearest, ties to even.
  EXPECT_EQ(bf16_bits_to_float(float_to_bf16_bits(1.0 + std::ldexp(1.0, -8))), 1.0f);
  EXPECT_EQ(bf16_bits_to_float(float_to_bf16_bits(1.0 + 3 * std::ldexp(1.0, -8))), 1.0f + std::ldexp(1.0f, -6));
  EXPECT_EQ(float_to_bf16_bits(1.0), 0x3F80);
  EXPECT_EQ(float_to_bf16_bits(-2.0), 0xC000);
  // f16.
  EXPECT_EQ(float_to_f16_bits(1.0), 0x3C00);
  EXPECT_EQ(f16_bits_to_float(0x7BFF), 65504.0f);
  EXPECT_TRUE(std::isinf(f16_bits_to_float(float_to_f16_bits(65520.0))));  // tie to even rounds up to inf
  EXPECT_EQ(f16_bits_to_float(float_to_f16_bits(65519.0)), 65504.0f);
  EXPECT_EQ(f16_bits_to_float(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(f16_bits_to_float(float_to_f16_bits(1.0 + std::ldexp(1.0, -11))), 1.0f);  // tie to even
  // fp8: saturating.
  EXPECT_EQ(fp8_bits_to_float(float_to_fp8_bits(1000.0, DType::f8e4m3), DType::f8e4m3), 448.0f);
  EXPECT_EQ(fp8_bits_to_float(float_to_fp8_bits(-1000.0, DType::f8e4m3), DType::f8e4m3), -448.0f);
  EXPECT_EQ(fp8_bits_to_float(float_to_fp8_bits(1e6, DType::f8e5m2), DType::f8e5m2), 57344.0f);
  EXPECT_EQ(fp8_bits_to_float(float_to_fp8_bits(INFINITY, DType::f8e4m3), DType::f8e4m3), 448.0f);
  EXPECT_EQ(fp8_bits_to_float(float_to_fp8_bits(-INFINITY, DType::f8e5m2), DType::f8e5m2), -57344.0f);
  EXPECT_TRUE(std::isnan(fp8_bits_to_float(float_to_fp8_bits(NAN, DType::f8e4m3), DType::f8e4m3)));
  EXPECT_TRUE(std::isnan(fp8_bits_to_float(float_to_fp8_bits(NAN, DType::f8e5m2), DType::f8e5m2)));
  EXPECT_EQ(float_to_fp8_bits(1.0, DType::f8e4m3), 0x38);
  EXPECT_EQ(float_to_fp8_bits(1.0, DType::f8e5m2), 0x3C);
  EXPECT_EQ(fp8_bits_to_float(0x01, DType::f8e4m3), std::ldexp(1.0f, -9));  // smallest subnormal
  EXPECT_EQ(fp8_bits_to_float(float_to_fp8_bits(1.0625, DType::f8e4m3), DType::f8e4m3), 1.0f);  // tie to even

  // Integers: float -> int truncates and saturates, NaN -> 0; int -> int wraps.
  int8_t i8 = 0;
  store_from_double(&i8, DType::i8, 300.0);
  EXPECT_EQ(i8, 127);
  store_from_double(&i8, DType::i8, -300.0);
  EXPECT_EQ(i8, -128);
  store_from_double(&i8, DType::i8, -2.9);
  EXPECT_EQ(i8, -2);
  store_from_double(&i8, DType::i8, NAN);
  EXPECT_EQ(i8, 0);
  store_from_int64(&i8, DType::i8, 300);
  EXPECT_EQ(i8, 44);
  uint8_t u8 = 0;
  store_from_double(&u8, DType::u8, -5.0);
  EXPECT_EQ(u8, 0);
  store_from_int64(&u8, DType::u8, -1);
  EXPECT_EQ(u8, 255);
  store_from_double(&u8, DType::boolean, NAN);
  EXPECT_EQ(u8, 1);
  uint16_t h = float_to_f16_bits(-1.5);
  EXPECT_EQ(load_as_double(&h, DType::f16), -1.5);
  EXPECT_EQ(load_as_int64(&h, DType::f16), -1);
  int64_t big = (int64_t{1} << 40) + 3;
  EXPECT_EQ(load_as_int64(&big, DType::i64), big);
}

}  // namespace
