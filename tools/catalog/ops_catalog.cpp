// Generates docs/ops.md from the registry: every op with the dtypes it accepts, the
// implementations that serve it, forward/backward, and its PyTorch/JAX names.
//
//   ops_catalog                 print the catalog
//   ops_catalog --check FILE    exit 1 (with a message) when FILE differs from the catalog
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "baracuda/baracuda.hpp"

using namespace baracuda;

namespace {

constexpr DType kCatalogDTypes[] = {DType::f64, DType::f32, DType::f16, DType::bf16, DType::f8e4m3, DType::f8e5m2,
                                    DType::i64, DType::i32, DType::i16, DType::i8,  DType::u8,     DType::boolean,
                                    DType::c64, DType::c128};

// A descriptor for `op` whose tensor inputs all have dtype t (shape [8, 64]).
ElementwiseDescriptor sample(const ElementwiseOpInfo& info, DType t, Direction dir) {
  ElementwiseDescriptor d{.op = info.op, .direction = dir};
  for (int i = 0; i < info.arity; ++i) {
    DType dt = (info.category == ElementwiseCategory::where && i == 0) ? DType::boolean : t;
    std::vector<int64_t> shape{8, 64};
    if (info.category == ElementwiseCategory::prelu && i == 1) shape = {64};
    d.inputs.push_back(Operand::tensor(dt, shape));
  }
  if (info.category == ElementwiseCategory::cast) d.output_dtype = DType::f32;
  if (info.category == ElementwiseCategory::prelu) d.inputs[0].shape = {8, 64, 3};
  return d;
}

std::string dtypes_accepted(const ElementwiseOpInfo& info, Direction dir) {
  std::string s;
  for (DType t : kCatalogDTypes)
    if (infer_signature(sample(info, t, dir))) s += (s.empty() ? "" : " ") + std::string(dtype_name(t));
  return s.empty() ? "-" : s;
}

// Implementations whose supports() accepts the op for some dtype (on an sm_90 device for CUDA ones).
std::string implementations(const ElementwiseOpInfo& info) {
  std::string s;
  for (const auto& impl : ElementwiseFamily::implementations()) {
    Device dev = impl.device_kind == DeviceKind::cuda ? Device::cuda(0, 90) : Device::cpu();
    bool any = false;
    for (DType t : kCatalogDTypes)
      for (Direction dir : {Direction::forward, Direction::backward})
        if (infer_signature(sample(info, t, dir)) && impl.supports(sample(info, t, dir), dev).is_ok()) any = true;
    if (any) s += (s.empty() ? "" : ", ") + std::string(impl.name);
  }
  return s;
}

std::string catalog() {
  std::ostringstream o;
  o << "# Op catalog\n\n"
    << "Generated from the registry by `tools/catalog/ops_catalog` (build target `ops_catalog`); the\n"
    << "ctest `ops_catalog_up_to_date` fails when this file is stale. Regenerate with\n"
    << "`build/tools/catalog/ops_catalog > docs/ops.md`.\n\n"
    << "Dtypes: those the forward (backward) accepts when every tensor input has that dtype (mixed dtypes\n"
    << "follow PyTorch promotion; `where` takes a bool condition). Implementations: those that serve\n"
    << "the op for some dtype, in dispatch order (CUDA ones on sm_80+).\n\n"
    << "## Elementwise (`ElementwisePlan`)\n\n"
    << "| op | arity | category | forward dtypes | backward dtypes | implementations | PyTorch | JAX |\n"
    << "|---|---:|---|---|---|---|---|---|\n";
  for (const ElementwiseOpInfo& info : all_elementwise_ops()) {
    std::string fwd = dtypes_accepted(info, Direction::forward);
    if (info.category == ElementwiseCategory::cast) fwd = "any pair of " + fwd;
    std::string bwd = info.differentiable ? dtypes_accepted(info, Direction::backward) : "not differentiable";
    o << "| " << info.name << " | " << info.arity << " | " << category_name(info.category) << " | " << fwd << " | "
      << bwd << " | " << implementations(info) << " | `" << info.torch_name << "` | "
      << (info.jax_name.empty() ? std::string("-") : "`" + std::string(info.jax_name) + "`") << " |\n";
  }
  o << "\n## Reductions (`ReducePlan`)\n\n"
    << "Over any set of axes, with keepdim. Dtypes: those the forward accepts (output dtype for that input).\n\n"
    << "| op | forward dtypes (-> output) | backward | implementations | PyTorch | JAX |\n"
    << "|---|---|---|---|---|---|\n";
  for (const ReduceOpInfo& info : all_reduce_ops()) {
    std::string fwd, bwd, impls;
    for (DType t : kCatalogDTypes) {
      ReduceDescriptor d{.op = info.op, .input = Operand::tensor(t, {8, 64}), .axes = {1}};
      auto sig = infer_signature(d);
      if (sig) {
        fwd += (fwd.empty() ? "" : ", ") + std::string(dtype_name(t)) + "->";
        for (size_t i = 0; i < sig->outputs.size(); ++i)
          fwd += (i ? "+" : "") + std::string(dtype_name(sig->outputs[i].dtype));
      }
      d.direction = Direction::backward;
      if (info.differentiable && infer_signature(d)) bwd += (bwd.empty() ? "" : " ") + std::string(dtype_name(t));
    }
    for (const auto& impl : ReduceFamily::implementations()) impls += (impls.empty() ? "" : ", ") + std::string(impl.name);
    o << "| " << info.name << " | " << (fwd.empty() ? "-" : fwd) << " | "
      << (info.differentiable ? bwd : std::string("not differentiable")) << " | " << impls << " | `" << info.torch_name
      << "` | " << (info.jax_name.empty() ? std::string("-") : "`" + std::string(info.jax_name) + "`") << " |\n";
  }
  o << "\n## Scans (`ScanPlan`)\n\n"
    << "Along one axis (negative allowed), with exclusive / reverse (not for cummax/cummin). Dtypes: those the\n"
    << "forward accepts (output dtype for that input). Implementations: those that serve the op for some\n"
    << "dtype, forward (backward).\n\n"
    << "| op | forward dtypes (-> output) | backward dtypes | implementations | PyTorch | JAX |\n"
    << "|---|---|---|---|---|---|\n";
  for (const ScanOpInfo& info : all_scan_ops()) {
    std::string fwd, bwd, impls;
    for (DType t : kCatalogDTypes) {
      ScanDescriptor d{.op = info.op, .input = Operand::tensor(t, {8, 64}), .axis = 1};
      auto sig = infer_signature(d);
      if (sig) {
        fwd += (fwd.empty() ? "" : ", ") + std::string(dtype_name(t)) + "->";
        for (size_t i = 0; i < sig->outputs.size(); ++i)
          fwd += (i ? "+" : "") + std::string(dtype_name(sig->outputs[i].dtype));
      }
      d.direction = Direction::backward;
      if (info.differentiable && infer_signature(d)) bwd += (bwd.empty() ? "" : " ") + std::string(dtype_name(t));
    }
    for (const auto& impl : ScanFamily::implementations()) {
      Device dev = impl.device_kind == DeviceKind::cuda ? Device::cuda(0, 90) : Device::cpu();
      bool f = false, b = false;
      for (DType t : kCatalogDTypes) {
        ScanDescriptor d{.op = info.op, .input = Operand::tensor(t, {8, 64}), .axis = 1};
        f = f || (infer_signature(d) && impl.supports(d, dev).is_ok());
        d.direction = Direction::backward;
        b = b || (infer_signature(d) && impl.supports(d, dev).is_ok());
      }
      if (f || b)
        impls += (impls.empty() ? "" : ", ") + std::string(impl.name) + (f && b ? "" : f ? " (forward)" : " (backward)");
    }
    o << "| " << info.name << " | " << (fwd.empty() ? "-" : fwd) << " | "
      << (info.differentiable ? (bwd.empty() ? "-" : bwd) : std::string("not differentiable")) << " | " << impls
      << " | `" << info.torch_name << "` | " << (info.jax_name.empty() ? std::string("-") : "`" + std::string(info.jax_name) + "`")
      << " |\n";
  }
  o << "\n## Normalization (`NormPlan`)\n\n"
    << "layer/rms over the trailing normalized_shape; group/instance/batch over (N, C, *). Parameters may be\n"
    << "x's dtype or f32; statistics are f32 (f64 for f64 x). Implementations: those that serve the op for\n"
    << "some dtype.\n\n"
    << "| op | forward dtypes | backward dtypes | implementations | PyTorch | JAX |\n"
    << "|---|---|---|---|---|---|\n";
  for (const NormOpInfo& info : all_norm_ops()) {
    auto sample_norm = [&](DType t, Direction dir) {
      const bool rows = info.op == NormOp::layer_norm || info.op == NormOp::rms_norm ||
                        info.op == NormOp::add_layer_norm || info.op == NormOp::add_rms_norm;
      NormDescriptor d{.op = info.op, .direction = dir,
                       .input = Operand::tensor(t, rows ? std::vector<int64_t>{8, 64} : std::vector<int64_t>{8, 64, 4})};
      if (rows) d.normalized_shape = {64};
      d.num_groups = 8;
      return d;
    };
    std::string fwd, bwd, impls;
    for (DType t : kCatalogDTypes) {
      if (infer_signature(sample_norm(t, Direction::forward))) fwd += (fwd.empty() ? "" : " ") + std::string(dtype_name(t));
      if (infer_signature(sample_norm(t, Direction::backward))) bwd += (bwd.empty() ? "" : " ") + std::string(dtype_name(t));
    }
    for (const auto& impl : NormFamily::implementations()) {
      Device dev = impl.device_kind == DeviceKind::cuda ? Device::cuda(0, 90) : Device::cpu();
      bool any = false;
      for (DType t : kCatalogDTypes)
        for (Direction dir : {Direction::forward, Direction::backward})
          if (infer_signature(sample_norm(t, dir)) && impl.supports(sample_norm(t, dir), dev).is_ok()) any = true;
      if (any) impls += (impls.empty() ? "" : ", ") + std::string(impl.name);
    }
    o << "| " << info.name << " | " << (fwd.empty() ? "-" : fwd) << " | " << (bwd.empty() ? "-" : bwd) << " | " << impls
      << " | `" << info.torch_name << "` | "
      << (info.jax_name.empty() ? std::string("-") : "`" + std::string(info.jax_name) + "`") << " |\n";
  }
  o << "\n## Softmax (`SoftmaxPlan`)\n\n"
    << "Along any one dim, with temperature, a boolean or additive mask (broadcastable), and dtype=.\n"
    << "Dtypes: input -> output with the default output dtype; `dtype=f32` is also accepted on every\n"
    << "backend for 16-bit inputs. Backward inputs: dy and the forward output y.\n\n"
    << "| op | forward dtypes (-> output) | backward | implementations | PyTorch | JAX |\n"
    << "|---|---|---|---|---|---|\n";
  for (const SoftmaxOpInfo& info : all_softmax_ops()) {
    std::string fwd, bwd, impls;
    for (DType t : kCatalogDTypes) {
      SoftmaxDescriptor d{.op = info.op, .input = Operand::tensor(t, {8, 64})};
      auto sig = infer_signature(d);
      if (sig) fwd += (fwd.empty() ? "" : ", ") + std::string(dtype_name(t)) + "->" + std::string(dtype_name(sig->outputs[0].dtype));
      d.direction = Direction::backward;
      if (infer_signature(d)) bwd += (bwd.empty() ? "" : " ") + std::string(dtype_name(t));
    }
    for (const auto& impl : SoftmaxFamily::implementations()) {
      Device dev = impl.device_kind == DeviceKind::cuda ? Device::cuda(0, 90) : Device::cpu();
      bool any = false;
      for (DType t : kCatalogDTypes)
        if (impl.supports(SoftmaxDescriptor{.op = info.op, .input = Operand::tensor(t, {8, 64})}, dev).is_ok()) any = true;
      if (any) impls += (impls.empty() ? "" : ", ") + std::string(impl.name);
    }
    o << "| " << info.name << " | " << (fwd.empty() ? "-" : fwd) << " | " << (bwd.empty() ? "-" : bwd) << " | " << impls
      << " | `" << info.torch_name << "` | `" << info.jax_name << "` |\n";
  }
  o << "\n## Losses (`LossPlan`)\n\n"
    << "Reduction none / mean / sum, forward and backward (cross_entropy also a fused forward+backward).\n"
    << "Dtypes: those of the input (logits, predictions) the forward accepts; class ops take i64/i32\n"
    << "class indices (cross_entropy also class probabilities of the input's dtype).\n\n"
    << "| op | dtypes | implementations | PyTorch | JAX |\n"
    << "|---|---|---|---|---|\n";
  for (const LossOpInfo& info : all_loss_ops()) {
    std::string dts, impls;
    for (DType t : kCatalogDTypes) {
      LossDescriptor d{.op = info.op, .input = Operand::tensor(t, {8, 64})};
      if (info.op == LossOp::cross_entropy || info.op == LossOp::nll_loss) {
        d.target = Operand::tensor(DType::i64, {8});
      } else if (info.op == LossOp::cosine_embedding_loss) {
        d.other = Operand::tensor(t, {8, 64});
        d.target = Operand::tensor(t, {8});
      } else {
        d.target = Operand::tensor(t, {8, 64});
        if (info.op == LossOp::margin_ranking_loss) d.other = Operand::tensor(t, {8, 64});
      }
      if (infer_signature(d)) dts += (dts.empty() ? "" : " ") + std::string(dtype_name(t));
    }
    for (const auto& impl : LossFamily::implementations()) impls += (impls.empty() ? "" : ", ") + std::string(impl.name);
    o << "| " << info.name << " | " << (dts.empty() ? "-" : dts) << " | " << impls << " | `" << info.torch_name << "` | "
      << (info.jax_name.empty() ? std::string("-") : "`" + std::string(info.jax_name) + "`") << " |\n";
  }
  return o.str();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string text = catalog();
  if (argc == 3 && std::string(argv[1]) == "--check") {
    std::ifstream f(argv[2]);
    std::stringstream have;
    have << f.rdbuf();
    if (have.str() != text) {
      std::fprintf(stderr, "%s is stale: regenerate it with `ops_catalog > %s`\n", argv[2], argv[2]);
      return 1;
    }
    std::printf("%s is up to date\n", argv[2]);
    return 0;
  }
  std::fputs(text.c_str(), stdout);
  return 0;
}
