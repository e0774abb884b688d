// Loss benchmark: cross_entropy on [8192, 128256] bf16 logits (a Llama-3 vocabulary), forward and
// the fused forward+backward, timed with CUDA events (median after warm-up), GB/s against the
// device copy bandwidth measured in the same run. Bytes as /work/shared/baseline_torch.py counts
// them: forward reads the logits once (2 N V); forward+backward 3 x 2 N V (read for the loss, read
// again and write the gradient). The 2.1 GB of logits are far larger than L2.
//
//   baracuda_loss_bench [--json out.json] [--reps N]
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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

// Pseudo-random logits in [-4, 4) and class indices in [0, classes).
__global__ void fill_targets(int64_t* t, int64_t n, int64_t classes) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    t[i] = (i * 7919) % classes;
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

  const int64_t N = 8192, V = 128256;
  Buffer logits(size_t(N * V) * 2), targets(size_t(N) * 8), grad(size_t(N * V) * 2), loss(8);
  bench::fill_uniform<__nv_bfloat16>(logits.p, N * V, 1234, -4.f, 4.f, s);
  fill_targets<<<64, 256, 0, s>>>(static_cast<int64_t*>(targets.p), N, V);
  const Device dev = stream->device();
  std::vector<Record> records;

  auto run_case = [&](const char* case_name, bool fused, double bytes) {
    LossDescriptor d;
    d.op = LossOp::cross_entropy;
    d.fused_backward = fused;
    d.input = Operand::tensor(DType::bf16, {N, V});
    d.target = Operand::tensor(DType::i64, {N});
    auto plan = LossPlan::select(*stream, d);
    if (!plan) {
      std::printf("%-40s select failed: %s\n", case_name, plan.status().to_string().c_str());
      return;
    }
    Buffer ws(plan->workspace_size());
    LossArgs a;
    a.input = *make_tensor_ref(logits.p, DType::bf16, {N, V}, dev);
    a.target = *make_tensor_ref(targets.p, DType::i64, {N}, dev);
    a.loss = *make_tensor_mut(loss.p, DType::bf16, std::span<const int64_t>(), {}, dev);
    if (fused) a.grad_input = *make_tensor_mut(grad.p, DType::bf16, {N, V}, dev);
    const Workspace w{ws.p, plan->workspace_size()};
    if (Status st = plan->run(*stream, w, a); !st.is_ok()) {
      std::printf("%-40s run failed: %s\n", case_name, st.to_string().c_str());
      return;
    }
    const double ms = median_ms([&] { (void)plan->run(*stream, w, a); }, reps, s);
    const double gbs = bytes / (ms * 1e6);
    std::printf("%-40s %9.4f ms %8.1f GB/s %5.1f%% of copy  [%s]\n", case_name, ms, gbs, 100.0 * gbs / copy_gbs,
                plan->sku().to_string().c_str());
    records.push_back({fused ? "cross_entropy.fused_backward" : "cross_entropy", case_name, "bf16",
                       shape_to_string(std::vector<int64_t>{N, V}), plan->sku().impl, ms, gbs});
  };
  run_case("cross_entropy_bf16_8192x128256", false, 2.0 * N * V);
  run_case("cross_entropy_fwdbwd_bf16_8192x128256", true, 3.0 * 2.0 * N * V);

  if (!json_path.empty() && !bench::write_json(json_path, "loss", prop.name, copy_gbs, records)) return 1;
  cudaStreamDestroy(s);
  return 0;
}
