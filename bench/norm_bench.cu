// Norm benchmark: layer_norm / rms_norm forward and layer_norm backward through NormPlan, timed
// with CUDA events (median after warm-up), GB/s against the copy bandwidth measured in the same
// run. Bytes follow /work/shared/baseline_torch.py so the numbers compare with PERF-BASELINE.md:
// forward 2*2*rows*cols (read x, write y), backward 3*2*rows*cols (read dy and x, write dx); the
// parameter and statistics traffic (a row or a column of values) is not counted.
//
// After those headline rows (bf16 layer/rms norms), coverage rows time the rest of the family:
// layer/rms norm in f32 and f16, add_layer_norm, layer_norm without affine and over two trailing
// dims, group_norm, batch_norm (training, backward, eval) and instance_norm. Their bytes come from
// the signature: every operand once (inputs read, outputs written), so parameters and statistics
// count too (at most a few hundred KB next to 134 MB or more: the two conventions differ by < 0.1%).
// bench/twins/norm.py holds their PyTorch twins, under the same case names.
//
//   baracuda_norm_bench [--json out.json] [--reps N] [--only SUBSTRING]
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "baracuda/baracuda.hpp"
#include "bench_fill.cuh"
#include "bench_harness.hpp"

using namespace baracuda;
using bench::Buffer;
using bench::median_ms;
using bench::Record;

namespace {

// One coverage row: its case name and the descriptor it times.
struct CoverageCase {
  std::string name;
  NormDescriptor desc;
};

// Bytes of a coverage row: every input read once, every output written once; the running
// statistics that batch_norm training updates in place are outputs that are also read. 0 for an
// invalid descriptor (the row then prints select's status instead of a rate).
double signature_bytes(const NormDescriptor& desc) {
  auto sig = infer_signature(desc);
  if (!sig) return 0.0;
  auto bytes = [](const Operand& o) {
    double n = double(dtype_size(o.dtype));
    for (int64_t v : o.shape) n *= double(v);
    return n;
  };
  double total = 0.0;
  for (const Operand& o : sig->inputs) total += bytes(o);
  for (size_t i = 0; i < sig->outputs.size(); ++i) {
    const NormRole r = sig->output_roles[i];
    const bool in_place = r == NormRole::running_mean || r == NormRole::running_var;
    total += (in_place ? 2.0 : 1.0) * bytes(sig->outputs[i]);
  }
  return total;
}

// "32x512x64x64"
std::string dims(const std::vector<int64_t>& shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(shape[i]);
  }
  return s;
}

// The coverage rows, in print order. Names are <prefix>_<dtype>_<shape of x>, built from the
// descriptor so that a name cannot disagree with what it times; bench/twins/norm.py mirrors them.
// Forwards that serve inference (layer/rms/add/group/instance norm, batch_norm eval) do not save
// statistics, like the headline rows and torch without autograd; batch_norm training saves them,
// as torch's training forward does for its backward. Backwards read dy, x and the saved mean/rstd;
// "_bwd" differentiates x only, "_bwd_dw" / "_bwd_dwdb" the affine parameters too.
std::vector<CoverageCase> coverage_cases() {
  std::vector<CoverageCase> cases;
  auto add = [&](const std::string& prefix, const NormDescriptor& d) {
    cases.push_back({prefix + "_" + std::string(dtype_name(d.input.dtype)) + "_" + dims(d.input.shape), d});
  };
  auto backward = [](NormDescriptor d, bool param_grads) {
    d.direction = Direction::backward;
    d.param_grads = param_grads;
    return d;
  };

  // layer_norm and rms_norm over r rows of c values of dtype t, parameters in t: the forwards
  // (no saved statistics), then the backwards with parameter gradients.
  auto add_row_norms = [&](DType t, int64_t r, int64_t c) {
    NormDescriptor ln{.op = NormOp::layer_norm, .input = Operand::tensor(t, {r, c}), .normalized_shape = {c}};
    ln.save_stats = false;
    NormDescriptor rms = ln;
    rms.op = NormOp::rms_norm;
    add("layernorm", ln);
    add("rmsnorm", rms);
    add("layernorm_bwd_dwdb", backward(ln, true));
    add("rmsnorm_bwd_dw", backward(rms, true));
  };

  // layer/rms norm in the dtypes the headline rows (bf16) leave out.
  for (DType t : {DType::f32, DType::f16}) add_row_norms(t, 32768, 4096);

  // Fused residual add + layer_norm, returning y and the sum (the add_rmsnorm headline row's twin).
  for (auto [r, c] : {std::pair<int64_t, int64_t>{32768, 4096}, {65536, 1024}}) {
    NormDescriptor add_ln{.op = NormOp::add_layer_norm, .input = Operand::tensor(DType::bf16, {r, c}),
                          .normalized_shape = {c}};
    add_ln.save_stats = false;
    add("add_layernorm", add_ln);
  }

  // layer_norm without weight and bias (the headline shape, to isolate the affine's cost).
  NormDescriptor plain{.op = NormOp::layer_norm, .input = Operand::tensor(DType::bf16, {32768, 4096}),
                       .normalized_shape = {4096}, .weight = false, .bias = false};
  plain.save_stats = false;
  add("layernorm_noaffine", plain);
  add("layernorm_noaffine_bwd", backward(plain, false));

  // layer_norm over the last two dims: rows of 32 x 1024 values, weight and bias [32, 1024].
  NormDescriptor two{.op = NormOp::layer_norm, .input = Operand::tensor(DType::bf16, {4096, 32, 1024}),
                     .normalized_shape = {32, 1024}};
  two.save_stats = false;
  add("layernorm_last2dims", two);
  add("layernorm_last2dims_bwd_dwdb", backward(two, true));

  // PERF-BASELINE's other bf16 layer/rms norm shapes: rows of 8192, and rows of 65536, wider than
  // the rows engines' 32768 (torch: layer_norm fwd 0.2359 / 0.4815 ms, its dx,dw,db 0.5279 at
  // 16384x8192; rms_norm fwd 0.2165 / 0.4379).
  for (auto [r, c] : {std::pair<int64_t, int64_t>{16384, 8192}, {4096, 65536}}) add_row_norms(DType::bf16, r, c);

  // group_norm, 32 groups of 16 channels, affine (a diffusion U-Net's GroupNorm32).
  for (DType t : {DType::bf16, DType::f32}) {
    NormDescriptor gn{.op = NormOp::group_norm, .input = Operand::tensor(t, {32, 512, 64, 64}), .num_groups = 32};
    gn.save_stats = false;
    add("groupnorm", gn);
    add("groupnorm_bwd", backward(gn, false));
    add("groupnorm_bwd_dwdb", backward(gn, true));
  }

  // batch_norm, NCHW, affine: training (batch statistics, saved mean/rstd, running stats updated
  // with momentum 0.1), its backward from the saved statistics, and eval (running statistics).
  for (DType t : {DType::bf16, DType::f32}) {
    NormDescriptor bn{.op = NormOp::batch_norm, .input = Operand::tensor(t, {32, 256, 64, 64})};
    add("batchnorm_train", bn);
    add("batchnorm_bwd", backward(bn, false));
    add("batchnorm_bwd_dwdb", backward(bn, true));
    NormDescriptor eval = bn;
    eval.training = false;
    add("batchnorm_eval", eval);
  }

  // instance_norm, affine, no running statistics (torch's F.instance_norm default).
  NormDescriptor in{.op = NormOp::instance_norm, .input = Operand::tensor(DType::bf16, {32, 256, 64, 64})};
  in.save_stats = false;
  add("instancenorm", in);
  add("instancenorm_bwd", backward(in, false));
  add("instancenorm_bwd_dwdb", backward(in, true));
  return cases;
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Options opts = bench::parse_options(argc, argv);
  const std::string& json_path = opts.json_path;
  const int reps = opts.reps;
  const bench::Session session = bench::open_session(reps);  // stream, device, same-run roofline
  cudaStream_t s = session.raw;
  const Stream* stream = &session.stream;
  const cudaDeviceProp& prop = session.prop;
  const double copy_gbs = session.copy_gbs;

  std::vector<Record> records;
  // One case: buffers for every operand of the signature (random x/dy/residual, weights near 1,
  // plausible statistics), the plan's workspace, then the timing.
  auto run_case = [&](const std::string& case_name, const char* op_name, const NormDescriptor& desc, double bytes) {
    if (!bench::wanted(opts, case_name)) return;
    auto plan = NormPlan::select(*stream, desc);
    if (!plan) {
      std::printf("%-34s select failed: %s\n", case_name.c_str(), plan.status().to_string().c_str());
      return;
    }
    auto sig = infer_signature(desc);
    std::vector<std::unique_ptr<Buffer>> bufs;
    NormArgs args;
    auto alloc = [&](const Operand& o, uint64_t seed, float lo, float hi) {
      int64_t n = 1;
      for (int64_t v : o.shape) n *= v;
      bufs.push_back(std::make_unique<Buffer>(n * dtype_size(o.dtype)));
      if (o.dtype == DType::f32) bench::fill_uniform<float>(bufs.back()->p, n, seed, lo, hi, s);
      else if (o.dtype == DType::f16) bench::fill_uniform<__half>(bufs.back()->p, n, seed, lo, hi, s);
      else bench::fill_uniform<__nv_bfloat16>(bufs.back()->p, n, seed, lo, hi, s);
      return bufs.back()->p;
    };
    for (size_t i = 0; i < sig->inputs.size(); ++i) {
      const NormRole r = sig->input_roles[i];
      // Positive where the math needs it: rstd, weight, and batch_norm eval's running_var (rsqrt).
      const bool stat = r == NormRole::rstd || r == NormRole::weight || r == NormRole::running_var;
      void* p = alloc(sig->inputs[i], 100 + i, stat ? 0.5f : -2.f, stat ? 1.5f : 2.f);
      args.inputs[i] = *make_tensor_ref(p, sig->inputs[i].dtype, sig->inputs[i].shape, {}, stream->device());
    }
    for (size_t i = 0; i < sig->outputs.size(); ++i) {
      // [0, 1) also starts batch_norm training's in-place running_mean/var from plausible values.
      void* p = alloc(sig->outputs[i], 200 + i, 0.f, 1.f);
      args.outputs[i] = *make_tensor_mut(p, sig->outputs[i].dtype, sig->outputs[i].shape, {}, stream->device());
    }
    Buffer ws(plan->workspace_size());
    Status st = plan->run(*stream, {ws.p, plan->workspace_size()}, args);
    if (!st.is_ok()) {
      std::printf("%-34s run failed: %s\n", case_name.c_str(), st.to_string().c_str());
      return;
    }
    const double ms = median_ms([&] { (void)plan->run(*stream, {ws.p, plan->workspace_size()}, args); }, reps, s);
    const double gbs = bytes / (ms * 1e6);
    std::printf("%-34s %9.4f ms %8.1f GB/s %5.1f%% of copy  [%s]\n", case_name.c_str(), ms, gbs, 100.0 * gbs / copy_gbs,
                plan->sku().to_string().c_str());
    records.push_back({op_name, case_name, std::string(dtype_name(desc.input.dtype)), shape_to_string(desc.input.shape),
                       plan->sku().impl, ms, gbs});
  };

  const DType dt = DType::bf16;
  for (auto [r, c] : {std::pair<int64_t, int64_t>{32768, 4096}, {opts.wide_rows, 32768}, {65536, 1024}}) {
    const std::string shape = std::to_string(r) + "x" + std::to_string(c);
    const double elems = double(r) * c;
    NormDescriptor ln{.op = NormOp::layer_norm, .input = Operand::tensor(dt, {r, c}), .normalized_shape = {c}};
    ln.save_stats = false;  // inference forward, like F.layer_norm without autograd
    run_case("layernorm_bf16_" + shape, "layer_norm", ln, 2.0 * 2 * elems);
    NormDescriptor rms = ln;
    rms.op = NormOp::rms_norm;
    run_case("rmsnorm_bf16_" + shape, "rms_norm", rms, 2.0 * 2 * elems);
    // torch's layernorm_bwd case differentiates x only (weight and bias do not require grad).
    NormDescriptor lb = ln;
    lb.direction = Direction::backward;
    lb.param_grads = false;
    run_case("layernorm_bwd_bf16_" + shape, "layer_norm.backward", lb, 3.0 * 2 * elems);
    lb.param_grads = true;
    run_case("layernorm_bwd_dwdb_bf16_" + shape, "layer_norm.backward", lb, 3.0 * 2 * elems);
    NormDescriptor rb = rms;
    rb.direction = Direction::backward;
    run_case("rmsnorm_bwd_dw_bf16_" + shape, "rms_norm.backward", rb, 3.0 * 2 * elems);
    NormDescriptor add = rms;
    add.op = NormOp::add_rms_norm;
    run_case("add_rmsnorm_bf16_" + shape, "add_rms_norm", add, 4.0 * 2 * elems);  // x, residual in; y, sum out
  }

  // Coverage rows (after the headline rows, which keep their order); op is the family's op name.
  for (const CoverageCase& c : coverage_cases()) {
    const std::string op =
        std::string(norm_op_info(c.desc.op).name) + (c.desc.direction == Direction::backward ? ".backward" : "");
    run_case(c.name, op.c_str(), c.desc, signature_bytes(c.desc));
  }

  if (!json_path.empty() && !bench::write_json(json_path, "norm", prop.name, copy_gbs, records)) return 1;
  cudaStreamDestroy(s);
  return 0;
}
