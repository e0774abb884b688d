// Normalization descriptors: the op table, shape/dtype validation with messages that quote the
// values, the operand slots of every op and direction (norm.hpp lists them).
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "baracuda/ops/norm.hpp"

namespace baracuda {
namespace {

constexpr NormOpInfo kOps[] = {
#define BARACUDA_X(name, torch, jax) {NormOp::name, #name, torch, jax},
    BARACUDA_NORM_OPS(BARACUDA_X)
#undef BARACUDA_X
};

std::string tag(const NormDescriptor& d) {
  return "[norm." + std::string(norm_op_info(d.op).name) + (d.direction == Direction::backward ? ".backward] " : "] ");
}

std::string dt(DType t) { return std::string(dtype_name(t)); }

bool is_row_op(NormOp op) {
  return op == NormOp::layer_norm || op == NormOp::rms_norm || op == NormOp::add_layer_norm ||
         op == NormOp::add_rms_norm;
}
bool is_rms(NormOp op) { return op == NormOp::rms_norm || op == NormOp::add_rms_norm; }
bool is_add(NormOp op) { return op == NormOp::add_layer_norm || op == NormOp::add_rms_norm; }

// rms_norm's default eps: the machine epsilon of the dtype the math runs in, as PyTorch's
// rms_norm (numeric_limits<opmath_t>::epsilon(): f32's for f16/bf16/f32 inputs, f64's for f64).
// Not finfo(input dtype): with bf16's 2^-7, a one-element row's dx is w*dy*eps/(x^2+eps)^1.5,
// visibly nonzero where PyTorch's is ~0 (the H200 parity run caught it).
double dtype_eps(DType t) {
  return t == DType::f64 ? std::numeric_limits<double>::epsilon() : std::numeric_limits<float>::epsilon();
}

}  // namespace

std::span<const NormOpInfo> all_norm_ops() { return kOps; }

const NormOpInfo& norm_op_info(NormOp op) {
  auto i = static_cast<size_t>(op);
  if (i >= std::size(kOps)) {
    static const NormOpInfo invalid{op, "invalid", "", ""};
    return invalid;
  }
  return kOps[i];
}

std::string_view norm_role_name(NormRole r) {
  switch (r) {
    case NormRole::x: return "x";
    case NormRole::residual: return "residual";
    case NormRole::weight: return "weight";
    case NormRole::bias: return "bias";
    case NormRole::dy: return "dy";
    case NormRole::dsum: return "dsum";
    case NormRole::mean: return "mean";
    case NormRole::rstd: return "rstd";
    case NormRole::running_mean: return "running_mean";
    case NormRole::running_var: return "running_var";
    case NormRole::y: return "y";
    case NormRole::sum: return "sum";
    case NormRole::dx: return "dx";
    case NormRole::dweight: return "dweight";
    case NormRole::dbias: return "dbias";
  }
  return "invalid";
}

int NormSignature::input_index(NormRole r) const {
  auto it = std::find(input_roles.begin(), input_roles.end(), r);
  return it == input_roles.end() ? -1 : static_cast<int>(it - input_roles.begin());
}
int NormSignature::output_index(NormRole r) const {
  auto it = std::find(output_roles.begin(), output_roles.end(), r);
  return it == output_roles.end() ? -1 : static_cast<int>(it - output_roles.begin());
}

Result<NormSignature> infer_signature(const NormDescriptor& d) {
  const NormOpInfo& info = norm_op_info(d.op);
  if (info.name == "invalid") return invalid_argument("[norm] unknown op id " + std::to_string(static_cast<int>(d.op)));
  const std::string where = tag(d);
  const Operand& x = d.input;
  if (x.is_scalar) return invalid_argument(where + "the input must be a tensor");
  auto layout = Layout::make(x.shape, x.strides);
  if (!layout) return invalid_argument(where + layout.status().message());
  if (!is_plain_floating(x.dtype))
    return invalid_argument(where + "needs a floating input (f64, f32, f16, bf16), got " + dt(x.dtype));

  NormSignature sig;
  sig.param_dtype = d.param_dtype ? *d.param_dtype : x.dtype;
  if (sig.param_dtype != x.dtype && sig.param_dtype != DType::f32)
    return invalid_argument(where + "weight/bias dtype must be x's dtype (" + dt(x.dtype) + ") or f32, got " +
                            dt(sig.param_dtype));
  sig.stats_dtype = x.dtype == DType::f64 ? DType::f64 : DType::f32;
  sig.eps = d.eps ? *d.eps : (is_rms(d.op) ? dtype_eps(x.dtype) : 1e-5);
  if (!(sig.eps >= 0.0) || std::isinf(sig.eps))
    return invalid_argument(where + "eps must be finite and >= 0, got " + std::to_string(sig.eps));
  const bool has_bias = d.bias && !is_rms(d.op);
  const int rank = static_cast<int>(x.shape.size());

  std::vector<int64_t> param_shape, stats_shape;
  if (is_row_op(d.op)) {
    const int k = static_cast<int>(d.normalized_shape.size());
    if (k == 0) return invalid_argument(where + "normalized_shape is empty; it must name at least one trailing dim");
    bool match = k <= rank;
    for (int i = 0; match && i < k; ++i) match = d.normalized_shape[i] == x.shape[rank - k + i];
    if (!match)
      return invalid_argument(where + "normalized_shape " + shape_to_string(d.normalized_shape) +
                              " does not match the trailing dims of the input " + shape_to_string(x.shape));
    param_shape = d.normalized_shape;
    stats_shape.assign(x.shape.begin(), x.shape.end() - k);
    sig.outer = 1;
    for (int64_t s : stats_shape) sig.outer *= s;
    sig.channels = 1;
    for (int64_t s : d.normalized_shape) sig.channels *= s;
    sig.inner = 1;
    sig.groups = sig.outer;
    sig.group_size = sig.channels;
  } else {
    if (rank < 2)
      return invalid_argument(where + "needs an input of shape (N, C, *) with rank >= 2, got " + shape_to_string(x.shape));
    const int64_t n = x.shape[0], c = x.shape[1];
    sig.outer = n;
    sig.channels = c;
    sig.inner = 1;
    for (int i = 2; i < rank; ++i) sig.inner *= x.shape[i];
    param_shape = {c};
    if (d.op == NormOp::group_norm) {
      if (d.num_groups <= 0) return invalid_argument(where + "num_groups must be positive, got " + std::to_string(d.num_groups));
      if (c % d.num_groups != 0)
        return invalid_argument(where + "num_channels " + std::to_string(c) + " is not divisible by num_groups " +
                                std::to_string(d.num_groups));
      stats_shape = {n, d.num_groups};
      sig.groups = n * d.num_groups;
      sig.group_size = (c / d.num_groups) * sig.inner;
    } else if (d.op == NormOp::instance_norm) {
      stats_shape = {n, c};
      sig.groups = n * c;
      sig.group_size = sig.inner;
    } else {  // batch_norm
      stats_shape = {c};
      sig.groups = c;
      sig.group_size = n * sig.inner;
      if (d.training && d.direction == Direction::forward && sig.group_size == 1)
        return invalid_argument(where + "expected more than 1 value per channel when training, got input " +
                                shape_to_string(x.shape));
      if (d.training && d.track_running_stats && !(d.momentum >= 0.0 && d.momentum <= 1.0))
        return invalid_argument(where + "momentum must be in [0, 1], got " + std::to_string(d.momentum));
    }
  }

  const bool bn_eval = d.op == NormOp::batch_norm && !d.training;
  const bool bn_running_out = d.op == NormOp::batch_norm && d.training && d.track_running_stats;
  auto xs = [&](NormRole role) -> Result<Operand> {  // an x-shaped operand of x's dtype
    Operand o = Operand::tensor(x.dtype, x.shape);
    if (role == NormRole::x) return x;
    for (const auto& rs : d.strides) {
      if (rs.role != role) continue;
      auto l = Layout::make(x.shape, rs.strides);
      if (!l) return invalid_argument(where + std::string(norm_role_name(role)) + ": " + l.status().message());
      o.strides = rs.strides;
    }
    return o;
  };
  for (const auto& rs : d.strides) {
    const NormRole r = rs.role;
    if (!(r == NormRole::residual || r == NormRole::y || r == NormRole::sum || r == NormRole::dy ||
          r == NormRole::dsum || r == NormRole::dx))
      return invalid_argument(where + "strides can be given for residual, y, sum, dy, dsum, dx; not for " +
                              std::string(norm_role_name(r)));
  }
  const Operand param = Operand::tensor(sig.param_dtype, param_shape);
  const Operand stats = Operand::tensor(sig.stats_dtype, stats_shape);
  auto add_in = [&](NormRole r, Operand o) {
    sig.inputs.push_back(std::move(o));
    sig.input_roles.push_back(r);
  };
  auto add_out = [&](NormRole r, Operand o) {
    sig.outputs.push_back(std::move(o));
    sig.output_roles.push_back(r);
  };
  const bool stats_are_running = bn_eval;
  if (d.direction == Direction::forward) {
    add_in(NormRole::x, x);
    if (is_add(d.op)) { BARACUDA_ASSIGN_OR_RETURN(Operand r, xs(NormRole::residual)); add_in(NormRole::residual, r); }
    if (stats_are_running) {
      add_in(NormRole::running_mean, param);
      add_in(NormRole::running_var, param);
    }
    if (d.weight) add_in(NormRole::weight, param);
    if (has_bias) add_in(NormRole::bias, param);
    { BARACUDA_ASSIGN_OR_RETURN(Operand y, xs(NormRole::y)); add_out(NormRole::y, y); }
    if (is_add(d.op)) { BARACUDA_ASSIGN_OR_RETURN(Operand s, xs(NormRole::sum)); add_out(NormRole::sum, s); }
    if (d.save_stats && !bn_eval) {
      if (!is_rms(d.op)) add_out(NormRole::mean, stats);
      add_out(NormRole::rstd, stats);
    }
    if (bn_running_out) {
      add_out(NormRole::running_mean, param);
      add_out(NormRole::running_var, param);
    }
  } else {
    { BARACUDA_ASSIGN_OR_RETURN(Operand dy, xs(NormRole::dy)); add_in(NormRole::dy, dy); }
    if (is_add(d.op)) { BARACUDA_ASSIGN_OR_RETURN(Operand ds, xs(NormRole::dsum)); add_in(NormRole::dsum, ds); }
    add_in(NormRole::x, x);
    if (stats_are_running) {
      add_in(NormRole::running_mean, param);
      add_in(NormRole::running_var, param);
    } else {
      if (!is_rms(d.op)) add_in(NormRole::mean, stats);
      add_in(NormRole::rstd, stats);
    }
    if (d.weight) add_in(NormRole::weight, param);
    { BARACUDA_ASSIGN_OR_RETURN(Operand dx, xs(NormRole::dx)); add_out(NormRole::dx, dx); }
    if (d.weight && d.param_grads) add_out(NormRole::dweight, param);
    if (has_bias && d.param_grads) add_out(NormRole::dbias, param);
  }
  return sig;
}

Status NormFamily::validate(const NormDescriptor& desc) { return infer_signature(desc).status(); }

std::string NormFamily::describe(const NormDescriptor& d) {
  std::string s = std::string(norm_op_info(d.op).name) + (d.direction == Direction::backward ? ".backward(" : "(");
  s += dt(d.input.dtype) + shape_to_string(d.input.shape);
  if (!d.normalized_shape.empty()) s += ", normalized_shape " + shape_to_string(d.normalized_shape);
  if (d.op == NormOp::group_norm) s += ", groups " + std::to_string(d.num_groups);
  if (d.op == NormOp::batch_norm) s += d.training ? ", training" : ", eval";
  if (d.weight) s += ", weight";
  if (d.bias && !is_rms(d.op)) s += ", bias";
  if (d.param_dtype) s += ", params " + dt(*d.param_dtype);
  return s + ")";
}

}  // namespace baracuda
