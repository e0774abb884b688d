// Reduction benchmark: times baracuda ReducePlans with CUDA events (median of many runs after
// warm-up) and reports GB/s against the device copy bandwidth measured in the same run. The
// cases are PERF-BASELINE.md's (shapes from /work/shared/baseline_torch.py: x has 2^28 elements,
// X is x viewed as 16384 x 16384). Bytes count the input read once and the outputs written once.
// Every input is far larger than the 60 MB L2, so repeated runs stream from HBM. The JSON has
// elementwise_bench.cu's record format (family "reduce"); bench/torch_compare.py adds PyTorch's
// same-run times.
//
//   baracuda_reduce_bench [--json out.json] [--reps N]
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

// Pseudo-random values in [-4, 4) (f32 or bf16).
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

  const int64_t n = int64_t(1) << 28;
  const Device dev = stream->device();
  std::vector<Record> records;
  // One input buffer per dtype, reused by every case (2^28 elements: 512 MiB bf16, 1 GiB f32).
  Buffer x_bf16(n * 2), x_f32(n * 4);
  bench::fill_uniform<__nv_bfloat16>(x_bf16.p, n, 1234, -4.f, 4.f, s);
  bench::fill_uniform<float>(x_f32.p, n, 1234, -4.f, 4.f, s);
  CHECK_CUDA(cudaStreamSynchronize(s));

  auto run_case = [&](const char* case_name, ReduceOp op, DType dt, std::vector<int64_t> shape, std::vector<int> axes) {
    ReduceDescriptor desc{.op = op, .input = Operand::tensor(dt, shape), .axes = axes};
    const char* op_name = reduce_op_info(op).name.data();
    auto plan = ReducePlan::select(*stream, desc);
    if (!plan) {
      std::printf("%-28s select failed: %s\n", case_name, plan.status().to_string().c_str());
      return;
    }
    auto sig = infer_signature(desc);
    ReduceArgs args;
    args.inputs[0] = *make_tensor_ref(dt == DType::f32 ? x_f32.p : x_bf16.p, dt, shape, {}, dev);
    std::vector<std::unique_ptr<Buffer>> outs;
    double bytes = double(n) * dtype_size(dt);
    for (size_t k = 0; k < sig->outputs.size(); ++k) {
      const Operand& o = sig->outputs[k];
      int64_t elems = 1;
      for (int64_t v : o.shape) elems *= v;
      outs.push_back(std::make_unique<Buffer>(elems * dtype_size(o.dtype)));
      args.outputs[k] = *make_tensor_mut(outs.back()->p, o.dtype, o.shape, {}, dev);
      bytes += double(elems) * dtype_size(o.dtype);
    }
    Buffer ws(plan->workspace_size());
    const Workspace w{ws.p, plan->workspace_size()};
    Status st = plan->run(*stream, w, args);
    if (!st.is_ok()) {
      std::printf("%-28s run failed: %s\n", case_name, st.to_string().c_str());
      return;
    }
    const double ms = median_ms([&] { (void)plan->run(*stream, w, args); }, reps, s);
    const double gbs = bytes / (ms * 1e6);
    std::printf("%-28s %-10s %9.4f ms %8.1f GB/s %5.1f%% of copy  [%s]\n", case_name, op_name, ms, gbs,
                100.0 * gbs / copy_gbs, plan->sku().to_string().c_str());
    records.push_back({op_name, case_name, std::string(dtype_name(dt)), shape_to_string(shape), plan->sku().impl, ms, gbs});
  };

  const std::vector<int64_t> flat{n}, X{16384, 16384};
  run_case("sum_bf16_268M", ReduceOp::sum, DType::bf16, flat, {});
  run_case("sum_rows_bf16_16k", ReduceOp::sum, DType::bf16, X, {1});
  run_case("sum_cols_bf16_16k", ReduceOp::sum, DType::bf16, X, {0});
  run_case("amax_rows_bf16_16k", ReduceOp::amax, DType::bf16, X, {1});
  run_case("argmax_rows_bf16_16k", ReduceOp::argmax, DType::bf16, X, {1});
  run_case("var_mean_rows_f32_16k", ReduceOp::var_mean, DType::f32, X, {1});
  run_case("logsumexp_rows_f32_16k", ReduceOp::logsumexp, DType::f32, X, {1});

  if (!json_path.empty() && !bench::write_json(json_path, "reduce", prop.name, copy_gbs, records)) return 1;
  cudaStreamDestroy(s);
  return 0;
}
