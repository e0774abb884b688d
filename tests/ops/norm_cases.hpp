#pragma once
// Test cases of the norm family shared by the CPU and GPU tests: operands allocated from the
// signature (x-shaped ones with the descriptor's strides), filled with random values from
// well-conditioned ranges; a backward case gets its mean/rstd from the CPU forward of the same x.
#include <random>
#include <string>
#include <vector>

#include "baracuda/baracuda.hpp"
#include "test_support.hpp"

namespace bt {

struct NormCase {
  NormDescriptor desc;
  NormSignature sig;
  std::vector<HostTensor> inputs, outputs;
  NormArgs args() {
    NormArgs a;
    for (size_t i = 0; i < inputs.size(); ++i) a.inputs[i] = inputs[i].ref();
    for (size_t i = 0; i < outputs.size(); ++i) a.outputs[i] = outputs[i].mut();
    return a;
  }
  HostTensor& in(NormRole r) { return inputs[sig.input_index(r)]; }
  HostTensor& out(NormRole r) { return outputs[sig.output_index(r)]; }
};

inline Status run_norm_cpu(const NormDescriptor& d, NormArgs a) {
  auto plan = NormPlan::select(Stream::cpu(), d);
  if (!plan) return plan.status();
  return plan->run(Stream::cpu(), {}, a);
}

// Strided layout over `shape` with every row padded by `pad` elements (rows of the last dim).
inline std::vector<int64_t> padded_strides(const std::vector<int64_t>& shape, int64_t pad) {
  std::vector<int64_t> s(shape.size());
  int64_t acc = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    s[i] = acc;
    acc *= shape[i] + (i + 1 == shape.size() ? pad : 0);
  }
  return s;
}

inline Result<NormCase> make_norm_case(const NormDescriptor& d, uint64_t seed) {
  NormCase c;
  c.desc = d;
  BARACUDA_ASSIGN_OR_RETURN(c.sig, infer_signature(d));
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i < c.sig.inputs.size(); ++i) {
    const Operand& o = c.sig.inputs[i];
    HostTensor t(o.dtype, o.shape, o.strides);
    switch (c.sig.input_roles[i]) {
      case NormRole::x: fill_uniform(t, rng, -2.0, 4.0); break;  // nonzero mean
      case NormRole::weight: fill_uniform(t, rng, 0.5, 1.5); break;
      case NormRole::running_var: fill_uniform(t, rng, 0.5, 1.5); break;
      case NormRole::running_mean: fill_uniform(t, rng, -0.5, 0.5); break;
      default: fill_uniform(t, rng, -1.0, 1.0); break;
    }
    c.inputs.push_back(std::move(t));
  }
  for (const Operand& o : c.sig.outputs) {
    HostTensor t(o.dtype, o.shape, o.strides);
    t.fill_bytes(0xFF);  // NaN for floats: every element must be written
    c.outputs.push_back(std::move(t));
  }
  // Running stats updated in place start from plausible values.
  for (NormRole r : {NormRole::running_mean, NormRole::running_var}) {
    const int i = c.sig.output_index(r);
    if (i >= 0) fill_uniform(c.outputs[i], rng, 0.5, 1.0);
  }
  if (d.direction == Direction::backward && c.sig.input_index(NormRole::rstd) >= 0) {
    // Saved statistics of x from the CPU forward.
    NormDescriptor f = d;
    f.direction = Direction::forward;
    f.save_stats = true;
    f.strides.clear();
    if (f.op == NormOp::batch_norm) f.track_running_stats = false;
    BARACUDA_ASSIGN_OR_RETURN(NormCase fc, make_norm_case(f, seed + 1));
    fc.inputs[fc.sig.input_index(NormRole::x)] = c.in(NormRole::x);
    if (f.op == NormOp::add_layer_norm || f.op == NormOp::add_rms_norm) {
      // Backward's x is the saved sum: feed it as x with a zero residual.
      fc.in(NormRole::residual).fill_bytes(0);
    }
    BARACUDA_TRY(run_norm_cpu(f, fc.args()));
    if (c.sig.input_index(NormRole::mean) >= 0) c.in(NormRole::mean) = fc.out(NormRole::mean);
    c.in(NormRole::rstd) = fc.out(NormRole::rstd);
  }
  return c;
}

}  // namespace bt
