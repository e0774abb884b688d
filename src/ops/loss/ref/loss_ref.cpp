// The CPU reference for the loss family: every operand read through its strides, every sample's
// loss and gradient computed in double (loss_ref_math.cpp), reductions summed in index order.
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "baracuda/core/scalar_convert.hpp"
#include "ops/loss/loss_args.hpp"
#include "ops/loss/loss_impls.hpp"
#include "ops/loss/ref/loss_ref_math.hpp"

namespace baracuda::loss {
namespace {

// Element offset (in elements) of the logical row-major index `linear` of a strided view.
int64_t offset_of(const Layout& l, int64_t linear) {
  int64_t off = 0;
  for (int d = l.rank - 1; d >= 0; --d) {
    const int64_t s = l.sizes[d];
    if (s == 0) return 0;
    off += (linear % s) * l.strides[d];
    linear /= s;
  }
  return off;
}
double get(const TensorRef& t, int64_t linear) {
  return load_as_double(static_cast<const char*>(t.data) + offset_of(t.layout, linear) * static_cast<int64_t>(dtype_size(t.dtype)),
                        t.dtype);
}
int64_t get_int(const TensorRef& t, int64_t linear) {
  return load_as_int64(static_cast<const char*>(t.data) + offset_of(t.layout, linear) * static_cast<int64_t>(dtype_size(t.dtype)),
                       t.dtype);
}
void put(const TensorMut& t, int64_t linear, double v) {
  store_from_double(static_cast<char*>(t.data) + offset_of(t.layout, linear) * static_cast<int64_t>(dtype_size(t.dtype)), t.dtype, v);
}

// Value of a tensor broadcast (right-aligned) to `shape`, at the logical index `linear` of `shape`.
double get_broadcast(const TensorRef& t, const std::vector<int64_t>& shape, int64_t linear) {
  const int r = static_cast<int>(shape.size());
  int64_t off = 0;
  for (int d = r - 1; d >= 0; --d) {
    const int64_t idx = shape[d] == 0 ? 0 : linear % shape[d];
    linear = shape[d] == 0 ? 0 : linear / shape[d];
    const int td = t.rank() - (r - d);
    if (td >= 0 && t.size(td) != 1) off += idx * t.stride(td);
  }
  return load_as_double(static_cast<const char*>(t.data) + off * static_cast<int64_t>(dtype_size(t.dtype)), t.dtype);
}

class RefLoss final : public Executable<LossFamily> {
 public:
  RefLoss(LossDescriptor d, LossSignature sig) : d_(std::move(d)), sig_(std::move(sig)) {
    sku_.family = "loss";
    sku_.op = std::string(loss_op_info(d_.op).name) +
              (d_.direction == Direction::backward ? ".backward" : (d_.fused_backward ? ".fused_backward" : ""));
    sku_.dtypes = std::string(dtype_name(d_.input.dtype)) + "," + std::string(dtype_name(d_.target.dtype)) + "->" +
                  std::string(dtype_name(d_.input.dtype));
    sku_.layout = "strided";
    sku_.epilogue = std::string(loss_reduction_name(d_.reduction));
    sku_.arch = "cpu";
    sku_.backend = "cpu-reference";
    sku_.impl = "cpu_reference";
    pg_.math = "f64 math, sums in index order, one rounding to the output dtype";
    pg_.accumulator = DType::f64;
  }

  Status can_implement(const LossArgs& args) const override { return check_args(d_, sig_, args, Device::cpu()); }
  size_t workspace_size() const override { return 0; }
  const KernelSku& sku() const override { return sku_; }
  const PrecisionGuarantee& precision_guarantee() const override { return pg_; }

  Status run(const Stream&, Workspace, const LossArgs& args) const override {
    switch (d_.op) {
      case LossOp::cross_entropy: case LossOp::nll_loss: return run_class(args);
      case LossOp::cosine_embedding_loss: return run_cosine(args);
      default: return run_pointwise(args);
    }
  }

 private:
  bool bwd() const { return d_.direction == Direction::backward; }
  bool wants_grad() const { return bwd() || d_.fused_backward; }

  // The incoming gradient of sample `i` before the mean's division (1 in fused mode without one).
  double grad_of(const LossArgs& a, int64_t i) const {
    if (!a.grad_loss.defined()) return 1.0;
    return get(a.grad_loss, d_.reduction == LossReduction::none ? i : 0);
  }
  // Writes the reduced (or per-sample) loss.
  void store_loss(const LossArgs& a, const std::vector<double>& per_sample, double denom) const {
    if (!a.loss.defined()) return;
    if (d_.reduction == LossReduction::none) {
      for (size_t i = 0; i < per_sample.size(); ++i) put(a.loss, static_cast<int64_t>(i), per_sample[i]);
      return;
    }
    double total = 0.0;
    for (double v : per_sample) total += v;
    put(a.loss, 0, d_.reduction == LossReduction::mean ? total / denom : total);
  }

  Status run_class(const LossArgs& a) const {
    const int64_t N = sig_.batch, C = sig_.classes, D = sig_.inner, S = sig_.samples;
    const std::string where = tag(d_);
    std::vector<double> w;
    if (a.weight.defined())
      for (int64_t c = 0; c < C; ++c) w.push_back(get(a.weight, c));
    // Targets first: range errors before anything is written, and the mean's denominator.
    std::vector<int64_t> t(sig_.class_indices ? S : 0);
    double denom = sig_.class_indices ? 0.0 : static_cast<double>(S);
    if (sig_.class_indices) {
      for (int64_t s = 0; s < S; ++s) {
        t[s] = get_int(a.target, s);
        if (t[s] == d_.ignore_index) continue;
        if (t[s] < 0 || t[s] >= C)
          return invalid_argument(where + "target " + std::to_string(t[s]) + " at position " + std::to_string(s) +
                                  " is out of range for " + std::to_string(C) + " classes (ignore_index " +
                                  std::to_string(d_.ignore_index) + ")");
        denom += w.empty() ? 1.0 : w[t[s]];
      }
    }
    const ref::CrossEntropyParams params{d_.label_smoothing, d_.z_loss, w.empty() ? nullptr : w.data()};
    std::vector<double> per_sample(S, 0.0), x(C), q(C), g(C);
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t k = 0; k < D; ++k) {
        const int64_t s = n * D + k;
        auto at = [&](int64_t c) { return (n * C + c) * D + k; };
        double scale = 0.0;
        if (wants_grad()) {
          scale = grad_of(a, s);
          if (d_.reduction == LossReduction::mean) scale /= denom;
        }
        const bool ignored = sig_.class_indices && t[s] == d_.ignore_index;
        if (ignored) {
          g.assign(C, 0.0);
        } else if (d_.op == LossOp::nll_loss) {
          const double wt = w.empty() ? 1.0 : w[t[s]];
          per_sample[s] = -wt * get(a.input, at(t[s]));
          g.assign(C, 0.0);
          g[t[s]] = -wt * scale;
        } else {
          for (int64_t c = 0; c < C; ++c) x[c] = get(a.input, at(c));
          if (sig_.class_indices) {
            per_sample[s] = ref::cross_entropy_index(params, x.data(), C, t[s], scale, g.data());
          } else {
            for (int64_t c = 0; c < C; ++c) q[c] = get(a.target, at(c));
            per_sample[s] = ref::cross_entropy_probs(params, x.data(), q.data(), C, scale, g.data());
          }
        }
        if (wants_grad())
          for (int64_t c = 0; c < C; ++c) put(a.grad_input, at(c), g[c]);
      }
    }
    if (!bwd()) store_loss(a, per_sample, denom);
    return Status::ok();
  }

  Status run_cosine(const LossArgs& a) const {
    const int64_t N = sig_.batch, D = sig_.classes;
    std::vector<double> per_sample(N, 0.0);
    for (int64_t n = 0; n < N; ++n) {
      double dot = 0.0, m1 = 1e-12, m2 = 1e-12;  // PyTorch's EPSILON on each squared magnitude
      for (int64_t j = 0; j < D; ++j) {
        const double u = get(a.input, n * D + j), v = get(a.other, n * D + j);
        dot += u * v;
        m1 += u * u;
        m2 += v * v;
      }
      const double denom = std::sqrt(m1 * m2), cos = dot / denom;
      const double y = get(a.target, n);
      double coef = 0.0;  // d loss / d cos
      if (y == 1.0) {
        per_sample[n] = 1.0 - cos;
        coef = -1.0;
      } else if (y == -1.0) {
        per_sample[n] = std::max(0.0, cos - d_.margin);
        coef = cos - d_.margin >= 0.0 ? 1.0 : 0.0;
      }  // other values of y (NaN included) give 0, as PyTorch's where(y == 1) / where(y == -1)
      if (!bwd()) continue;
      double scale = grad_of(a, n) * coef;
      if (d_.reduction == LossReduction::mean) scale /= static_cast<double>(N);
      for (int64_t j = 0; j < D; ++j) {
        const double u = get(a.input, n * D + j), v = get(a.other, n * D + j);
        put(a.grad_input, n * D + j, scale * (v / denom - cos * u / m1));
        put(a.grad_other, n * D + j, scale * (u / denom - cos * v / m2));
      }
    }
    if (!bwd()) store_loss(a, per_sample, static_cast<double>(N));
    return Status::ok();
  }

  Status run_pointwise(const LossArgs& a) const {
    const int64_t n = sig_.samples;
    const ref::PointwiseParams p{d_.op, d_.beta, d_.delta, d_.margin, d_.log_target, a.pos_weight.defined()};
    const bool ranking = d_.op == LossOp::margin_ranking_loss;
    std::vector<double> per_sample(bwd() ? 0 : n);
    for (int64_t i = 0; i < n; ++i) {
      const double x = ranking ? get(a.input, i) - get(a.other, i) : get(a.input, i);
      const double t = get(a.target, i);
      const double w = a.weight.defined() ? get_broadcast(a.weight, d_.input.shape, i) : 1.0;
      const double pw = a.pos_weight.defined() ? get_broadcast(a.pos_weight, d_.input.shape, i) : 1.0;
      if (!bwd()) {
        per_sample[i] = ref::pointwise_loss(p, x, t, w, pw);
        continue;
      }
      double scale = grad_of(a, i);
      if (d_.reduction == LossReduction::mean) scale /= static_cast<double>(n);
      const double g = scale * ref::pointwise_grad(p, x, t, w, pw);
      put(a.grad_input, i, g);
      if (ranking) put(a.grad_other, i, -g);
    }
    if (!bwd()) store_loss(a, per_sample, static_cast<double>(n));
    return Status::ok();
  }

  LossDescriptor d_;
  LossSignature sig_;
  KernelSku sku_;
  PrecisionGuarantee pg_;
};

}  // namespace

Status ref_supports(const LossDescriptor&, const Device& device) {
  if (!device.is_cpu()) return not_supported("the CPU reference runs on cpu streams only");
  return Status::ok();
}

Result<LossExecPtr> ref_make(const LossDescriptor& desc, const Device&) {
  BARACUDA_ASSIGN_OR_RETURN(LossSignature sig, infer_signature(desc));
  return LossExecPtr(std::make_shared<RefLoss>(desc, std::move(sig)));
}

}  // namespace baracuda::loss
