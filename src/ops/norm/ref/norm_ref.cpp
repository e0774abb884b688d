// The CPU reference for the normalization family: every element of x is mapped to its
// normalization group and affine channel (norm.hpp), statistics are computed in double with two
// passes (mean, then the mean of squared deviations), results are rounded once to the output
// dtype. Walks every operand through its own strides. The oracle of the CUDA kernels.
#include <cmath>
#include <memory>
#include <vector>

#include "baracuda/core/scalar_convert.hpp"
#include "baracuda/ops/norm.hpp"
#include "ops/norm/norm_impls.hpp"

namespace baracuda {
namespace {

std::string tag(const NormDescriptor& d) {
  return "[norm." + std::string(norm_op_info(d.op).name) + (d.direction == Direction::backward ? ".backward] " : "] ");
}

// Element offset (in elements) of logical row-major element `linear` of a strided view.
int64_t offset_of(std::span<const int64_t> sizes, std::span<const int64_t> strides, int64_t linear) {
  int64_t off = 0;
  for (size_t d = sizes.size(); d-- > 0;) {
    const int64_t s = sizes[d];
    off += (linear % s) * strides[d];
    linear /= s;
  }
  return off;
}

// Reads/writes logical element i of a tensor as double.
double get(const TensorRef& t, int64_t i) {
  const char* p = static_cast<const char*>(t.data) + offset_of(t.shape(), t.layout.stride(), i) * dtype_size(t.dtype);
  return load_as_double(p, t.dtype);
}
void put(const TensorMut& t, int64_t i, double v) {
  char* p = static_cast<char*>(t.data) + offset_of(t.shape(), t.layout.stride(), i) * dtype_size(t.dtype);
  store_from_double(p, t.dtype, v);
}
double round_to(DType t, double v) {
  unsigned char buf[8];
  store_from_double(buf, t, v);
  return load_as_double(buf, t);
}

class RefNorm final : public Executable<NormFamily> {
 public:
  RefNorm(NormDescriptor d, NormSignature sig) : d_(std::move(d)), sig_(std::move(sig)) {
    sku_.family = "norm";
    sku_.op = std::string(norm_op_info(d_.op).name) + (d_.direction == Direction::backward ? ".backward" : "");
    sku_.dtypes = norm_sku_dtypes(sig_);
    sku_.layout = "strided";
    sku_.arch = "cpu";
    sku_.backend = "cpu-reference";
    sku_.impl = "cpu_reference";
    pg_.math = "f64 math, two-pass statistics, one rounding to the output dtype";
    pg_.accumulator = DType::f64;
  }

  Status can_implement(const NormArgs& args) const override {
    return check_norm_args(tag(d_), sig_, args, Device::cpu(), 1);
  }
  size_t workspace_size() const override { return 0; }
  const KernelSku& sku() const override { return sku_; }
  const PrecisionGuarantee& precision_guarantee() const override { return pg_; }

  Status run(const Stream&, Workspace, const NormArgs& args) const override {
    if (d_.direction == Direction::forward) forward(args);
    else backward(args);
    return Status::ok();
  }

 private:
  const TensorRef* in(const NormArgs& a, NormRole r) const {
    int i = sig_.input_index(r);
    return i < 0 ? nullptr : &a.inputs[i];
  }
  const TensorMut* out(const NormArgs& a, NormRole r) const {
    int i = sig_.output_index(r);
    return i < 0 || !a.outputs[i].defined() ? nullptr : &a.outputs[i];
  }
  // Normalization group and affine channel of logical element i of x.
  int64_t group_of(int64_t i) const {
    switch (d_.op) {
      case NormOp::group_norm: {
        const int64_t n = i / (sig_.channels * sig_.inner), c = (i / sig_.inner) % sig_.channels;
        return n * d_.num_groups + c / (sig_.channels / d_.num_groups);
      }
      case NormOp::instance_norm: return i / sig_.inner;
      case NormOp::batch_norm: return (i / sig_.inner) % sig_.channels;
      default: return sig_.channels == 0 ? 0 : i / sig_.channels;
    }
  }
  int64_t channel_of(int64_t i) const { return (i / sig_.inner) % sig_.channels; }
  bool rms() const { return d_.op == NormOp::rms_norm || d_.op == NormOp::add_rms_norm; }
  bool bn_eval() const { return d_.op == NormOp::batch_norm && !d_.training; }

  void forward(const NormArgs& a) const {
    const TensorRef& x = *in(a, NormRole::x);
    const int64_t numel = x.numel();
    const TensorRef* res = in(a, NormRole::residual);
    const TensorMut* sum_out = out(a, NormRole::sum);
    std::vector<double> v(numel);
    for (int64_t i = 0; i < numel; ++i) {
      v[i] = get(x, i);
      if (res) {
        v[i] = round_to(x.dtype, v[i] + get(*res, i));  // the sum in x's dtype, as stored
        if (sum_out) put(*sum_out, i, v[i]);
      }
    }
    std::vector<double> mean(sig_.groups, 0.0), var(sig_.groups, 0.0), rstd(sig_.groups);
    const double n = static_cast<double>(sig_.group_size);
    if (bn_eval()) {
      const TensorRef& rm = *in(a, NormRole::running_mean);
      const TensorRef& rv = *in(a, NormRole::running_var);
      for (int64_t g = 0; g < sig_.groups; ++g) {
        mean[g] = get(rm, g);
        var[g] = get(rv, g);
      }
    } else if (rms()) {
      for (int64_t i = 0; i < numel; ++i) var[group_of(i)] += v[i] * v[i];
      for (double& s : var) s /= n;
    } else {
      for (int64_t i = 0; i < numel; ++i) mean[group_of(i)] += v[i];
      for (double& s : mean) s /= n;
      for (int64_t i = 0; i < numel; ++i) {
        const double dev = v[i] - mean[group_of(i)];
        var[group_of(i)] += dev * dev;
      }
      for (double& s : var) s /= n;
    }
    for (int64_t g = 0; g < sig_.groups; ++g) rstd[g] = 1.0 / std::sqrt(var[g] + sig_.eps);

    const TensorRef* w = in(a, NormRole::weight);
    const TensorRef* b = in(a, NormRole::bias);
    const TensorMut& y = *out(a, NormRole::y);
    for (int64_t i = 0; i < numel; ++i) {
      const int64_t g = group_of(i), c = channel_of(i);
      double r = (v[i] - mean[g]) * rstd[g];
      if (w) r *= get(*w, c);
      if (b) r += get(*b, c);
      put(y, i, r);
    }
    if (const TensorMut* m = out(a, NormRole::mean))
      for (int64_t g = 0; g < sig_.groups; ++g) put(*m, g, mean[g]);
    if (const TensorMut* r = out(a, NormRole::rstd))
      for (int64_t g = 0; g < sig_.groups; ++g) put(*r, g, rstd[g]);
    // batch_norm training: running stats blend in the batch mean and the unbiased variance.
    const TensorMut* rm = out(a, NormRole::running_mean);
    const TensorMut* rv = out(a, NormRole::running_var);
    if (rm && rv) {
      const double m = d_.momentum;
      for (int64_t g = 0; g < sig_.groups; ++g) {
        const double unbiased = var[g] * n / (n - 1.0);
        put(*rm, g, (1.0 - m) * get(as_ref(*rm), g) + m * mean[g]);
        put(*rv, g, (1.0 - m) * get(as_ref(*rv), g) + m * unbiased);
      }
    }
  }

  void backward(const NormArgs& a) const {
    const TensorRef& dy = *in(a, NormRole::dy);
    const TensorRef& x = *in(a, NormRole::x);
    const TensorRef* dsum = in(a, NormRole::dsum);
    const TensorRef* w = in(a, NormRole::weight);
    const int64_t numel = x.numel();
    std::vector<double> mean(sig_.groups, 0.0), rstd(sig_.groups);
    if (bn_eval()) {
      for (int64_t g = 0; g < sig_.groups; ++g) {
        mean[g] = get(*in(a, NormRole::running_mean), g);
        rstd[g] = 1.0 / std::sqrt(get(*in(a, NormRole::running_var), g) + sig_.eps);
      }
    } else {
      const TensorRef* m = in(a, NormRole::mean);
      for (int64_t g = 0; g < sig_.groups; ++g) {
        if (m) mean[g] = get(*m, g);
        rstd[g] = get(*in(a, NormRole::rstd), g);
      }
    }
    std::vector<double> xhat(numel), dyv(numel), gv(numel);
    std::vector<double> sum_g(sig_.groups, 0.0), sum_gx(sig_.groups, 0.0);
    std::vector<double> dw(sig_.channels, 0.0), db(sig_.channels, 0.0);
    for (int64_t i = 0; i < numel; ++i) {
      const int64_t g = group_of(i), c = channel_of(i);
      xhat[i] = (get(x, i) - mean[g]) * rstd[g];
      dyv[i] = get(dy, i);
      gv[i] = w ? dyv[i] * get(*w, c) : dyv[i];
      sum_g[g] += gv[i];
      sum_gx[g] += gv[i] * xhat[i];
      dw[c] += dyv[i] * xhat[i];
      db[c] += dyv[i];
    }
    const double n = static_cast<double>(sig_.group_size);
    const TensorMut& dx = *out(a, NormRole::dx);
    for (int64_t i = 0; i < numel; ++i) {
      const int64_t g = group_of(i);
      double r;
      if (bn_eval()) r = gv[i] * rstd[g];
      else if (rms()) r = rstd[g] * (gv[i] - xhat[i] * sum_gx[g] / n);
      else r = rstd[g] * (gv[i] - sum_g[g] / n - xhat[i] * sum_gx[g] / n);
      if (dsum) r += get(*dsum, i);
      put(dx, i, r);
    }
    if (const TensorMut* t = out(a, NormRole::dweight))
      for (int64_t c = 0; c < sig_.channels; ++c) put(*t, c, dw[c]);
    if (const TensorMut* t = out(a, NormRole::dbias))
      for (int64_t c = 0; c < sig_.channels; ++c) put(*t, c, db[c]);
  }

  NormDescriptor d_;
  NormSignature sig_;
  KernelSku sku_;
  PrecisionGuarantee pg_;
};

}  // namespace

Status norm_ref_supports(const NormDescriptor&, const Device& device) {
  if (!device.is_cpu()) return not_supported("the CPU reference runs on cpu streams only");
  return Status::ok();
}

Result<std::shared_ptr<const Executable<NormFamily>>> norm_ref_make(const NormDescriptor& desc, const Device&) {
  BARACUDA_ASSIGN_OR_RETURN(NormSignature sig, infer_signature(desc));
  return std::shared_ptr<const Executable<NormFamily>>(std::make_shared<RefNorm>(desc, std::move(sig)));
}

}  // namespace baracuda
