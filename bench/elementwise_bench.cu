// Elementwise benchmark: times baracuda plans with CUDA events (median of many runs after
// warm-up) and reports GB/s against the device copy bandwidth measured in the same run.
// Bytes count each input read once and each output written once. Every buffer is far larger
// than the 60 MB L2, so repeated runs stream from HBM.
//
//   baracuda_bench [--json out.json] [--reps N]
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

// Fills n bytes with pseudo-random finite values of the dtype in [-4, 4).
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
  std::vector<Record> records;
  auto run_case = [&](const char* op_name, ElementwiseDescriptor desc, DType dt, int nin_tensors, const char* case_name,
                      std::vector<int64_t> in_shape, std::vector<int64_t> out_shape, DType out_dt) {
    auto plan = ElementwisePlan::select(*stream, desc);
    if (!plan) { std::printf("%-28s select failed: %s\n", case_name, plan.status().to_string().c_str()); return; }
    int64_t in_elems = 1, out_elems = 1;
    for (auto v : in_shape) in_elems *= v;
    for (auto v : out_shape) out_elems *= v;
    std::vector<std::unique_ptr<Buffer>> ins;
    ElementwiseArgs args;
    for (int i = 0; i < nin_tensors; ++i) {
      ins.push_back(std::make_unique<Buffer>(in_elems * dtype_size(dt)));
      if (dt == DType::f32) bench::fill_uniform<float>(ins.back()->p, in_elems, 1234 + i, -4.f, 4.f, s);
      else bench::fill_uniform<__nv_bfloat16>(ins.back()->p, in_elems, 1234 + i, -4.f, 4.f, s);
      args.inputs[i] = *make_tensor_ref(ins.back()->p, dt, in_shape, {}, stream->device());
    }
    Buffer out(out_elems * dtype_size(out_dt));
    args.outputs[0] = *make_tensor_mut(out.p, out_dt, out_shape, {}, stream->device());
    Status st = plan->run(*stream, {}, args);
    if (!st.is_ok()) { std::printf("%-28s run failed: %s\n", case_name, st.to_string().c_str()); return; }
    double ms = median_ms([&] { (void)plan->run(*stream, {}, args); }, reps, s);
    double bytes = double(in_elems) * dtype_size(dt) * nin_tensors + double(out_elems) * dtype_size(out_dt);
    double gbs = bytes / (ms * 1e6);
    std::printf("%-28s %-8s %9.4f ms %8.1f GB/s %5.1f%% of copy  [%s]\n", case_name, op_name, ms, gbs,
                100.0 * gbs / copy_gbs, plan->sku().to_string().c_str());
    std::string shape = shape_to_string(in_shape);
    records.push_back({op_name, case_name, std::string(dtype_name(dt)), shape, plan->sku().impl, ms, gbs});
  };

  for (DType dt : {DType::bf16, DType::f32}) {
    const std::string d(dtype_name(dt));
    std::vector<int64_t> flat{n};
    auto unary = [&](ElementwiseOp op, const char* name) {
      ElementwiseDescriptor desc{.op = op, .inputs = {Operand::tensor(dt, flat)}};
      run_case(name, desc, dt, 1, (std::string(name) + "_" + d + "_268M").c_str(), flat, flat, dt);
    };
    auto binary = [&](ElementwiseOp op, const char* name) {
      ElementwiseDescriptor desc{.op = op, .inputs = {Operand::tensor(dt, flat), Operand::tensor(dt, flat)}};
      run_case(name, desc, dt, 2, (std::string(name) + "_" + d + "_268M").c_str(), flat, flat, dt);
    };
    binary(ElementwiseOp::add, "add");
    binary(ElementwiseOp::mul, "mul");
    unary(ElementwiseOp::gelu_tanh, "gelu_tanh");
    unary(ElementwiseOp::silu, "silu");
    unary(ElementwiseOp::exp, "exp");
    {
      DType to = dt == DType::f32 ? DType::bf16 : DType::f32;
      ElementwiseDescriptor desc{.op = ElementwiseOp::cast, .inputs = {Operand::tensor(dt, flat)}, .output_dtype = to};
      std::string name = "cast_" + d + "_to_" + std::string(dtype_name(to)) + "_268M";
      run_case("cast", desc, dt, 1, name.c_str(), flat, flat, to);
    }
    {
      // Fused SwiGLU on x = [rows, 2H] -> [rows, H]: silu(x[:, :H]) * x[:, H:].
      std::vector<int64_t> xs{32768, 8192}, ys{32768, 4096};
      ElementwiseDescriptor desc{.op = ElementwiseOp::swiglu, .inputs = {Operand::tensor(dt, xs)}};
      run_case("swiglu", desc, dt, 1, ("swiglu_" + d + "_268M").c_str(), xs, ys, dt);
    }
    {
      // PERF-BASELINE's layout: g of shape (2^27, 2), the halves interleaved element by element.
      std::vector<int64_t> xs{n / 2, 2}, ys{n / 2, 1};
      ElementwiseDescriptor desc{.op = ElementwiseOp::swiglu, .inputs = {Operand::tensor(dt, xs)}};
      run_case("swiglu", desc, dt, 1, ("swiglu_" + d + "_134M_interleaved").c_str(), xs, ys, dt);
    }
  }

  if (!json_path.empty() && !bench::write_json(json_path, "elementwise", prop.name, copy_gbs, records)) return 1;
  cudaStreamDestroy(s);
  return 0;
}
