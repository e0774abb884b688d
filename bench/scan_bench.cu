// Scan benchmark: times baracuda's scan plans with CUDA events (median of many runs after warm-up,
// workspace clearing included) and reports GB/s against the device copy bandwidth measured in the
// same run. Bytes count the input read once and the output written once (as
// /work/shared/baseline_torch.py does for torch's cumsum).
//
// After those headline rows come the coverage cases (cumprod, logcumsumexp, cummax/cummin, bf16,
// exclusive, reverse, backward), each with a PyTorch twin of the same name in bench/twins/scan.py.
// Their bytes are every operand the kernel reads, once, plus every output, once (cummax/cummin's
// i64 indices at 8 bytes each).
//
//   baracuda_scan_bench [--json out.json] [--reps N] [--only SUBSTRING]
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

int64_t numel_of(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t v : shape) n *= v;
  return n;
}

// Fills n f32 or bf16 values, uniform in [lo, hi) (the dtypes of the coverage cases).
void fill_float(void* p, DType t, int64_t n, uint64_t seed, float lo, float hi, cudaStream_t s) {
  if (t == DType::f32) bench::fill_uniform<float>(p, n, seed, lo, hi, s);
  else bench::fill_uniform<__nv_bfloat16>(p, n, seed, lo, hi, s);
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
  auto run_case = [&](const char* case_name, ScanOp op, std::vector<int64_t> shape, int axis) {
    if (!bench::wanted(opts, case_name)) return;
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
  // PERF-BASELINE's other two cumsum shapes: torch 1.2215 ms along the rows, 3.2703 ms down the
  // columns (656.7 GB/s).
  run_case("cumsum_rows_f32_8192x32768", ScanOp::cumsum, {8192, 32768}, 1);
  run_case("cumsum_dim0_f32_8192x32768", ScanOp::cumsum, {8192, 32768}, 0);

  // ---- Coverage cases (twins in bench/twins/scan.py) ----
  // One timed plan, with a buffer for every operand of the descriptor's signature: forward {x} ->
  // {y} (cummax/cummin: {values, i64 indices}), backward {dy, x} -> {dx}; x uniform in [lo, hi), dy
  // in [-1, 1). Bytes: every input once and every output once, except x in cumsum's backward: that
  // is the opposite-direction cumsum of dy alone (scan.hpp), the plan never reads x, and counting it
  // would overstate the traffic. A case that cannot be selected or run prints why, and the driver
  // goes on.
  auto run_scan = [&](const std::string& cas, const ScanDescriptor& desc, float lo, float hi) {
    if (!bench::wanted(opts, cas)) return;
    const bool bwd = desc.direction == Direction::backward;
    auto sig = infer_signature(desc);
    if (!sig) {
      std::printf("%-28s invalid descriptor: %s\n", cas.c_str(), sig.status().to_string().c_str());
      return;
    }
    auto plan = ScanPlan::select(*stream, desc);
    if (!plan) {
      std::printf("%-28s select failed: %s\n", cas.c_str(), plan.status().to_string().c_str());
      return;
    }
    const Device dev = stream->device();
    std::vector<std::unique_ptr<Buffer>> bufs;
    ScanArgs args;
    double moved = 0;
    for (size_t i = 0; i < sig->inputs.size(); ++i) {
      const Operand& o = sig->inputs[i];
      const int64_t n = numel_of(o.shape);
      bufs.push_back(std::make_unique<Buffer>(n * dtype_size(o.dtype)));
      const bool is_dy = bwd && i == 0;
      fill_float(bufs.back()->p, o.dtype, n, 1234 + i, is_dy ? -1.f : lo, is_dy ? 1.f : hi, s);
      args.inputs[i] = *make_tensor_ref(bufs.back()->p, o.dtype, o.shape, o.strides, dev);
      const bool unread_x = bwd && desc.op == ScanOp::cumsum && i == 1;
      if (!unread_x) moved += double(n) * dtype_size(o.dtype);
    }
    for (size_t i = 0; i < sig->outputs.size(); ++i) {
      const Operand& o = sig->outputs[i];
      const int64_t n = numel_of(o.shape);
      bufs.push_back(std::make_unique<Buffer>(n * dtype_size(o.dtype)));
      args.outputs[i] = *make_tensor_mut(bufs.back()->p, o.dtype, o.shape, o.strides, dev);
      moved += double(n) * dtype_size(o.dtype);
    }
    Buffer ws(plan->workspace_size());
    const Workspace w{ws.p, plan->workspace_size()};
    Status st = plan->run(*stream, w, args);
    if (!st.is_ok()) {
      std::printf("%-28s run failed: %s\n", cas.c_str(), st.to_string().c_str());
      return;
    }
    const double ms = median_ms([&] { (void)plan->run(*stream, w, args); }, reps, s);
    const double gbs = moved / (ms * 1e6);
    std::printf("%-28s %9.4f ms %8.1f GB/s %5.1f%% of copy  workspace %zu B  [%s]\n", cas.c_str(), ms, gbs,
                100.0 * gbs / copy_gbs, plan->workspace_size(), plan->sku().to_string().c_str());
    records.push_back({std::string(scan_op_info(desc.op).name) + (bwd ? ".backward" : ""), cas,
                       std::string(dtype_name(desc.input.dtype)), shape_to_string(desc.input.shape), plan->sku().impl,
                       ms, gbs});
  };
  auto scan_desc = [](ScanOp op, DType t, std::vector<int64_t> shape, int axis) {
    ScanDescriptor d;
    d.op = op;
    d.input = Operand::tensor(t, std::move(shape));
    d.axis = axis;
    return d;
  };

  const std::vector<int64_t> rows{16384, 16384};
  // Factors in [0.999, 1.001): 16384 of them keep every product finite and away from 0 (values in
  // [-4, 4) would overflow to inf or flush to 0 within a few dozen steps), and no zero in x keeps
  // torch's cumprod backward on its zero-free path.
  run_scan("cumprod_rows_f32_16k", scan_desc(ScanOp::cumprod, DType::f32, rows, 1), 0.999f, 1.001f);
  run_scan("logcumsumexp_rows_f32_16k", scan_desc(ScanOp::logcumsumexp, DType::f32, rows, 1), -4.f, 4.f);
  run_scan("cummax_rows_f32_16k", scan_desc(ScanOp::cummax, DType::f32, rows, 1), -4.f, 4.f);
  run_scan("cummin_rows_f32_16k", scan_desc(ScanOp::cummin, DType::f32, rows, 1), -4.f, 4.f);
  run_scan("cumsum_rows_bf16_16k", scan_desc(ScanOp::cumsum, DType::bf16, rows, 1), -4.f, 4.f);
  ScanDescriptor excl = scan_desc(ScanOp::cumsum, DType::f32, rows, 1);
  excl.exclusive = true;
  run_scan("cumsum_excl_rows_f32_16k", excl, -4.f, 4.f);
  ScanDescriptor rev = scan_desc(ScanOp::cumsum, DType::f32, rows, 1);
  rev.reverse = true;
  run_scan("cumsum_rev_rows_f32_16k", rev, -4.f, 4.f);
  run_scan("cumsum_flat_bf16_268M", scan_desc(ScanOp::cumsum, DType::bf16, {int64_t(1) << 28}, 0), -4.f, 4.f);
  ScanDescriptor sum_bwd = scan_desc(ScanOp::cumsum, DType::f32, rows, 1);
  sum_bwd.direction = Direction::backward;
  run_scan("cumsum_bwd_rows_f32_16k", sum_bwd, -4.f, 4.f);
  ScanDescriptor prod_bwd = scan_desc(ScanOp::cumprod, DType::f32, rows, 1);
  prod_bwd.direction = Direction::backward;
  run_scan("cumprod_bwd_rows_f32_16k", prod_bwd, 0.999f, 1.001f);

  if (!json_path.empty() && !bench::write_json(json_path, "scan", prop.name, copy_gbs, records)) return 1;
  cudaStreamDestroy(s);
  return 0;
}
