// Run-time argument checks and the iteration-space view shared by every implementation.
#include <algorithm>
#include <numeric>
#include <string>

#include "ops/elementwise/elementwise_problem.hpp"

namespace baracuda::ew {
namespace {

std::string tag(const Problem& p) {
  return "[elementwise." + std::string(p.info.name) + (p.desc.direction == Direction::backward ? ".backward] " : "] ");
}

// Strides of a tensor of `shape` broadcast against the iteration space of rank `rank`.
Dims broadcast_strides(const Layout& l, const Bound& b) {
  Dims s{};
  int off = b.rank - l.rank;
  for (int d = 0; d < l.rank; ++d) s[off + d] = (l.sizes[d] == 1 && b.sizes[off + d] != 1) ? 0 : l.strides[d];
  return s;
}

}  // namespace

Status check_args(const Problem& p, const ElementwiseArgs& args, const Device& device) {
  const bool bwd = p.desc.direction == Direction::backward;
  const auto cat = p.info.category;
  const std::string where = tag(p);
  // Inputs.
  int arg = 0;
  if (bwd) {
    Operand dy = p.desc.grad_output ? *p.desc.grad_output : Operand::tensor(p.in_dtype[0], p.sig.iteration_shape);
    BARACUDA_TRY(check_tensor_arg(where + "input 0 (grad_output)", args.inputs[arg], dy, device, p.desc.alignment));
    ++arg;
  }
  for (size_t i = 0; i < p.desc.inputs.size(); ++i, ++arg) {
    const Operand& o = p.desc.inputs[i];
    if (o.is_scalar) {
      const Scalar& s = args.scalars[i];
      if (s.dtype != DType::boolean && s.dtype != DType::i64 && s.dtype != DType::f64)
        return invalid_argument(where + "scalar " + std::to_string(i) + " has kind " + std::string(dtype_name(s.dtype)));
      continue;
    }
    BARACUDA_TRY(check_tensor_arg(where + "input " + std::to_string(arg), args.inputs[arg], o, device, p.desc.alignment));
  }
  for (int i = arg; i < ElementwiseArgs::kMaxInputs; ++i)
    if (args.inputs[i].defined())
      return invalid_argument(where + "input " + std::to_string(i) + " is given but the op takes " + std::to_string(arg));

  // Outputs.
  const size_t nout = p.sig.outputs.size();
  for (size_t i = 0; i < ElementwiseArgs::kMaxOutputs; ++i) {
    const TensorMut& t = args.outputs[i];
    const std::string what = "output " + std::to_string(i);
    if (i >= nout) {
      if (t.defined()) return invalid_argument(where + what + " is given but the op has " + std::to_string(nout));
      continue;
    }
    if (!t.defined()) {
      if (!bwd) return invalid_argument(where + what + " is missing (undefined tensor)");
      continue;  // a gradient the caller does not want
    }
    if (bwd) {
      const Operand& in = p.desc.inputs[i];
      if (in.is_scalar) return invalid_argument(where + what + ": scalar operand " + std::to_string(i) + " has no gradient");
      if (cat == ElementwiseCategory::where && i == 0)
        return invalid_argument(where + "the condition is not differentiable: leave output 0 undefined");
      if (!is_floating(in.dtype) && !is_complex(in.dtype))
        return invalid_argument(where + what + ": input " + std::to_string(i) + " of dtype " +
                                std::string(dtype_name(in.dtype)) + " has no gradient");
    }
    BARACUDA_TRY(check_tensor_arg(where + what, t, p.sig.outputs[i], device, p.desc.alignment));
    if (has_internal_overlap(t))
      return invalid_argument(where + what + " has overlapping elements (strides " + shape_to_string(t.layout.stride()) + ")");
  }
  // Outputs may alias an input exactly (in-place), never partially; outputs never overlap each other.
  for (size_t i = 0; i < nout; ++i) {
    const TensorMut& o = args.outputs[i];
    for (int j = 0; j < arg; ++j) {
      const TensorRef& in = args.inputs[j];
      if (!memory_overlaps(as_ref(o), in)) continue;
      bool exact = in.data == o.data && in.dtype == o.dtype && in.rank() == o.rank() &&
                   std::equal(in.shape().begin(), in.shape().end(), o.shape().begin()) &&
                   std::equal(in.layout.stride().begin(), in.layout.stride().end(), o.layout.stride().begin());
      if (!exact)
        return invalid_argument(where + "output " + std::to_string(i) + " partially overlaps input " + std::to_string(j) +
                                " (in-place needs the same pointer, dtype, shape and strides)");
    }
    for (size_t k = i + 1; k < nout; ++k)
      if (memory_overlaps(as_ref(o), as_ref(args.outputs[k])))
        return invalid_argument(where + "outputs " + std::to_string(i) + " and " + std::to_string(k) + " overlap");
  }
  return Status::ok();
}

Bound bind(const Problem& p, const ElementwiseArgs& args) {
  Bound b;
  const bool bwd = p.desc.direction == Direction::backward;
  const auto cat = p.info.category;
  const auto& shape = p.sig.iteration_shape;
  b.rank = static_cast<int>(shape.size());
  for (int d = 0; d < b.rank; ++d) b.sizes[d] = shape[d];
  b.numel = 1;
  for (int d = 0; d < b.rank; ++d) b.numel *= b.sizes[d];
  b.nin = p.nin;
  b.nout = p.nout;

  int gated_dim = -1;
  if (cat == ElementwiseCategory::gated) gated_dim = p.desc.attrs.dim < 0 ? p.desc.attrs.dim + b.rank : p.desc.attrs.dim;

  int k = 0, arg = 0;
  auto bind_tensor = [&](const TensorRef& t) {
    BoundInput& in = b.in[k++];
    in.data = static_cast<const char*>(t.data);
    in.dtype = t.dtype;
    if (cat == ElementwiseCategory::prelu && arg == (bwd ? 2 : 1)) {
      // The weight broadcasts along the channel dim (1) or everywhere when it has one element.
      in.strides = Dims{};
      if (t.numel() > 1) in.strides[1] = t.rank() == 1 ? t.stride(0) : 1;
    } else {
      in.strides = broadcast_strides(t.layout, b);
    }
  };
  if (bwd) {
    bind_tensor(args.inputs[0]);
    ++arg;
  }
  for (size_t i = 0; i < p.desc.inputs.size(); ++i, ++arg) {
    if (p.desc.inputs[i].is_scalar) {
      BoundInput& in = b.in[k++];
      in.is_scalar = true;
      in.dtype = args.scalars[i].dtype;
      in.f = args.scalars[i].f;
      in.i = args.scalars[i].i;
      continue;
    }
    if (gated_dim >= 0) {  // two views: first and second half along gated_dim
      const TensorRef& x = args.inputs[arg];
      for (int half = 0; half < 2; ++half) {
        BoundInput& in = b.in[k++];
        in.dtype = x.dtype;
        in.strides = x.layout.strides;
        in.data = static_cast<const char*>(x.data) +
                  half * b.sizes[gated_dim] * x.stride(gated_dim) * static_cast<int64_t>(dtype_size(x.dtype));
      }
      continue;
    }
    bind_tensor(args.inputs[arg]);
  }

  auto bind_output = [&](int slot, const TensorMut& t, int64_t offset_elems) {
    BoundOutput& o = b.out[slot];
    if (!t.defined() || t.numel() == 0) return;
    o.data = static_cast<char*>(t.data) + offset_elems * static_cast<int64_t>(dtype_size(t.dtype));
    o.dtype = t.dtype;
    o.strides = t.layout.strides;
  };
  if (gated_dim >= 0 && bwd) {
    const TensorMut& dx = args.outputs[0];
    bind_output(0, dx, 0);
    bind_output(1, dx, b.sizes[gated_dim] * (dx.defined() ? dx.stride(gated_dim) : 0));
  } else if (cat == ElementwiseCategory::prelu && bwd) {
    bind_output(0, args.outputs[0], 0);
    const TensorMut& dw = args.outputs[1];
    if (dw.defined() && dw.numel() > 0) {
      b.prelu_dweight = static_cast<char*>(dw.data);
      b.prelu_dweight_dtype = dw.dtype;
      b.prelu_channels = dw.numel();
      b.prelu_channel_dim = dw.numel() > 1 ? 1 : -1;
    }
  } else {
    for (int i = 0; i < p.nout && i < ElementwiseArgs::kMaxOutputs; ++i) {
      if (cat == ElementwiseCategory::cast && i == 1) break;
      bind_output(i, args.outputs[i], 0);
    }
    if (cat == ElementwiseCategory::cast && p.desc.attrs.amax && p.desc.direction == Direction::forward)
      b.amax = static_cast<float*>(args.outputs[1].data);
  }
  if (cat == ElementwiseCategory::cast && p.desc.attrs.amax && !bwd) b.nout = 1;
  return b;
}

Bound collapse(const Bound& src) {
  Bound b = src;
  // 1. Order dims by the first written output's strides, largest first (coalesced inner dim).
  int ref = -1;
  for (int i = 0; i < b.nout; ++i)
    if (b.out[i].data) { ref = i; break; }
  std::array<int, kMaxRank> perm{};
  std::iota(perm.begin(), perm.begin() + b.rank, 0);
  if (ref >= 0)
    std::stable_sort(perm.begin(), perm.begin() + b.rank, [&](int x, int y) {
      return std::abs(b.out[ref].strides[x]) > std::abs(b.out[ref].strides[y]);
    });
  Bound p = b;
  for (int d = 0; d < b.rank; ++d) {
    p.sizes[d] = b.sizes[perm[d]];
    for (int i = 0; i < b.nin; ++i) p.in[i].strides[d] = b.in[i].strides[perm[d]];
    for (int i = 0; i < b.nout; ++i) p.out[i].strides[d] = b.out[i].strides[perm[d]];
  }
  if (p.prelu_channel_dim >= 0)
    for (int d = 0; d < b.rank; ++d)
      if (perm[d] == b.prelu_channel_dim) p.prelu_channel_dim = d;
  // 2. Drop size-1 dims and merge dims that are contiguous for every operand. prelu's channel
  //    dim is kept whole so the weight-gradient reduction can find it.
  Bound out = p;
  out.rank = 0;
  int new_channel = -1;
  for (int d = 0; d < p.rank; ++d) {
    if (p.sizes[d] == 1 && d != p.prelu_channel_dim) continue;
    bool can_merge = out.rank > 0 && d != p.prelu_channel_dim && (out.rank - 1) != new_channel;
    if (can_merge) {
      int o = out.rank - 1;
      for (int i = 0; i < p.nin && can_merge; ++i)
        can_merge = p.in[i].is_scalar || p.in[i].strides[d] * p.sizes[d] == out.in[i].strides[o];
      for (int i = 0; i < p.nout && can_merge; ++i)
        can_merge = !p.out[i].data || p.out[i].strides[d] * p.sizes[d] == out.out[i].strides[o];
    }
    if (can_merge) {
      int o = out.rank - 1;
      out.sizes[o] *= p.sizes[d];
      for (int i = 0; i < p.nin; ++i) out.in[i].strides[o] = p.in[i].strides[d];
      for (int i = 0; i < p.nout; ++i) out.out[i].strides[o] = p.out[i].strides[d];
    } else {
      int o = out.rank++;
      out.sizes[o] = p.sizes[d];
      for (int i = 0; i < p.nin; ++i) out.in[i].strides[o] = p.in[i].strides[d];
      for (int i = 0; i < p.nout; ++i) out.out[i].strides[o] = p.out[i].strides[d];
      if (d == p.prelu_channel_dim) new_channel = o;
    }
  }
  out.prelu_channel_dim = new_channel;
  for (int d = out.rank; d < kMaxRank; ++d) {
    out.sizes[d] = 1;
    for (int i = 0; i < p.nin; ++i) out.in[i].strides[d] = 0;
    for (int i = 0; i < p.nout; ++i) out.out[i].strides[d] = 0;
  }
  return out;
}

}  // namespace baracuda::ew
