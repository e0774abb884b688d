// Scan benchmark: times baracuda's scan plans with CUDA events (median of many runs after warm-up,
// workspace clearing included) and reports GB/s against the device copy bandwidth measured in the
// same run. Bytes count the input read once and the output written once (as
// /work/shared/baseline_torch.py does for torch's cumsum).
//
//   baracuda_scan_bench [--json out.json] [--reps N]
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

// Pseudo-random f32 values in [-4, 4).
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
  auto run_case = [&](const char* case_name, ScanOp op, std::vector<int64_t> shape, int axis) {
    ScanDescriptor desc;
    desc.op = op;
    desc.input = Operand::tensor(DType::f32, shape);
    desc.axis = axis;
    auto plan = ScanPlan::select(*stream, desc);
    if (!plan) { std::printf("%-28s select failed: %s\n", case_name, plan.status().to_string().c_str()); return; }
    int64_t n = 1;
    for (int64_t v : shape) n *= v;
    Buffer x(n * sizeof(float)), y(n * sizeof(float)), ws(plan->workspace_size());
    bench::fill_uniform<float>(x.p, n, 1234, -4.f, 4.f, s);
    ScanArgs args;
    args.inputs[0] = *make_tensor_ref(x.p, DType::f32, shape, {}, stream->device());
    args.outputs[0] = *make_tensor_mut(y.p, DType::f32, shape, {}, stream->device());
    Workspace w{ws.p, plan->workspace_size()};
    Status st = plan->run(*stream, w, args);
    if (!st.is_ok()) { std::printf("%-28s run failed: %s\n", case_name, st.to_string().c_str()); return; }
    double ms = median_ms([&] { (void)plan->run(*stream, w, args); }, reps, s);
    double bytes = 2.0 * double(n) * sizeof(float);
    double gbs = bytes / (ms * 1e6);
    std::printf("%-28s %9.4f ms %8.1f GB/s %5.1f%% of copy  workspace %zu B  [%s]\n", case_name, ms, gbs,
                100.0 * gbs / copy_gbs, plan->workspace_size(), plan->sku().to_string().c_str());
    records.push_back({std::string(scan_op_info(op).name), case_name, "f32", shape_to_string(shape), plan->sku().impl, ms, gbs});
  };

  run_case("cumsum_rows_f32_16k", ScanOp::cumsum, {16384, 16384}, 1);
  run_case("cumsum_flat_f32_268M", ScanOp::cumsum, {int64_t(1) << 28}, 0);
  run_case("cumsum_dim0_f32_1Mx8", ScanOp::cumsum, {1000000, 8}, 0);

  if (!json_path.empty() && !bench::write_json(json_path, "scan", prop.name, copy_gbs, records)) return 1;
  cudaStreamDestroy(s);
  return 0;
}
