// Softmax benchmark: times the softmax plans (forward and backward, bf16, the transformer shapes of
// /work/shared/baseline_torch.py) with CUDA events (median of many runs after warm-up) and reports
// GB/s against the device copy bandwidth measured in the same run. Bytes as in the torch baseline:
// forward reads x and writes y (2 * 2 * rows * cols), backward reads dy and y and writes dx
// (3 * 2 * rows * cols). Every buffer is larger than the 60 MB L2.
//
//   baracuda_softmax_bench [--json out.json] [--reps N]
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

// Fills n bf16 values with pseudo-random values in [-4, 4).
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
  const int64_t shapes[][2] = {{32768, 4096}, {4096, 32768}, {65536, 1024}};
  for (const auto& rc : shapes) {
    const std::vector<int64_t> shape{rc[0], rc[1]};
    const int64_t n = rc[0] * rc[1];
    const size_t bytes = static_cast<size_t>(n) * 2;
    Buffer x(bytes), y(bytes), dy(bytes), dx(bytes);
    bench::fill_uniform<__nv_bfloat16>(x.p, n, 1234, -4.f, 4.f, s);
    bench::fill_uniform<__nv_bfloat16>(dy.p, n, 4321, -4.f, 4.f, s);
    const Device dev = stream->device();
    const std::string dims = std::to_string(rc[0]) + "x" + std::to_string(rc[1]);
    for (Direction dir : {Direction::forward, Direction::backward}) {
      const bool bwd = dir == Direction::backward;
      SoftmaxDescriptor desc{.op = SoftmaxOp::softmax, .direction = dir, .input = Operand::tensor(DType::bf16, shape),
                             .dim = -1};
      const std::string cas = std::string(bwd ? "softmax_bwd_bf16_" : "softmax_bf16_") + dims;
      auto plan = SoftmaxPlan::select(*stream, desc);
      if (!plan) {
        std::printf("%-28s select failed: %s\n", cas.c_str(), plan.status().to_string().c_str());
        continue;
      }
      SoftmaxArgs args;
      if (bwd) {
        args.inputs[0] = *make_tensor_ref(dy.p, DType::bf16, shape, {}, dev);
        args.inputs[1] = *make_tensor_ref(y.p, DType::bf16, shape, {}, dev);
        args.outputs[0] = *make_tensor_mut(dx.p, DType::bf16, shape, {}, dev);
      } else {
        args.inputs[0] = *make_tensor_ref(x.p, DType::bf16, shape, {}, dev);
        args.outputs[0] = *make_tensor_mut(y.p, DType::bf16, shape, {}, dev);  // y feeds the backward
      }
      Status st = plan->run(*stream, {}, args);
      if (!st.is_ok()) {
        std::printf("%-28s run failed: %s\n", cas.c_str(), st.to_string().c_str());
        continue;
      }
      const double ms = median_ms([&] { (void)plan->run(*stream, {}, args); }, reps, s);
      const double moved = (bwd ? 3.0 : 2.0) * 2.0 * static_cast<double>(n);
      const double gbs = moved / (ms * 1e6);
      std::printf("%-28s %9.4f ms %8.1f GB/s %5.1f%% of copy  [%s]\n", cas.c_str(), ms, gbs, 100.0 * gbs / copy_gbs,
                  plan->sku().to_string().c_str());
      records.push_back({bwd ? "softmax.backward" : "softmax", cas, "bf16", shape_to_string(shape), plan->sku().impl, ms, gbs});
    }
  }

  if (!json_path.empty() && !bench::write_json(json_path, "softmax", prop.name, copy_gbs, records)) return 1;
  cudaStreamDestroy(s);
  return 0;
}
