// Norm benchmark: layer_norm / rms_norm forward and layer_norm backward through NormPlan, timed
// with CUDA events (median after warm-up), GB/s against the copy bandwidth measured in the same
// run. Bytes follow /work/shared/baseline_torch.py so the numbers compare with PERF-BASELINE.md:
// forward 2*2*rows*cols (read x, write y), backward 3*2*rows*cols (read dy and x, write dx); the
// parameter and statistics traffic (a row or a column of values) is not counted.
//
//   baracuda_norm_bench [--json out.json] [--reps N]
#include <cuda_bf16.h>
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

// Fills n elements with pseudo-random values in [lo, hi) (f32 or bf16).
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
      else bench::fill_uniform<__nv_bfloat16>(bufs.back()->p, n, seed, lo, hi, s);
      return bufs.back()->p;
    };
    for (size_t i = 0; i < sig->inputs.size(); ++i) {
      const NormRole r = sig->input_roles[i];
      const bool stat = r == NormRole::rstd || r == NormRole::weight;
      void* p = alloc(sig->inputs[i], 100 + i, stat ? 0.5f : -2.f, stat ? 1.5f : 2.f);
      args.inputs[i] = *make_tensor_ref(p, sig->inputs[i].dtype, sig->inputs[i].shape, {}, stream->device());
    }
    for (size_t i = 0; i < sig->outputs.size(); ++i) {
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
  for (auto [r, c] : {std::pair<int64_t, int64_t>{32768, 4096}, {4096, 32768}, {65536, 1024}}) {
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

  if (!json_path.empty() && !bench::write_json(json_path, "norm", prop.name, copy_gbs, records)) return 1;
  cudaStreamDestroy(s);
  return 0;
}
