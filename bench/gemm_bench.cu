// GEMM benchmark: the shapes of /work/shared/baseline_torch.py (A @ B with both operands
// row-major; fp8 as torch._scaled_mm with B = W^T, bf16 out, unit scales) plus decode-like
// M in {1, 64} x 8192 x 8192, through GemmPlan (cuBLASLt today), timed with CUDA events (median
// after warm-up). TFLOP/s = 2 M N K / time; GB/s counts each operand once (bf16: 2 (MK + KN + MN)).
//
//   baracuda_gemm_bench [--json out.json] [--reps N]
#include <cuda_bf16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>

#include <cstdio>
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

struct GemmCaseSpec {
  std::string name;
  DType in, out;
  int64_t m, n, k;
  bool allow_tf32 = false;
  bool fp8_fast_accum = false;  // torch._scaled_mm(use_fast_accum=True) is its twin
};

}  // namespace

int main(int argc, char** argv) {
  const bench::Options opts = bench::parse_options(argc, argv);
  const bench::Session session = bench::open_session(opts.reps);  // stream, device, same-run roofline
  cudaStream_t s = session.raw;
  const Stream* stream = &session.stream;
  const cudaDeviceProp& prop = session.prop;
  const double copy_gbs = session.copy_gbs;

  const std::vector<GemmCaseSpec> cases = {
      {"mm_bf16_8192x8192x8192", DType::bf16, DType::bf16, 8192, 8192, 8192},
      {"mm_bf16_4096x4096x4096", DType::bf16, DType::bf16, 4096, 4096, 4096},
      {"mm_bf16_4096x14336x4096", DType::bf16, DType::bf16, 4096, 14336, 4096},
      {"mm_bf16_1x8192x8192", DType::bf16, DType::bf16, 1, 8192, 8192},
      {"mm_bf16_16x8192x8192", DType::bf16, DType::bf16, 16, 8192, 8192},
      {"mm_bf16_64x8192x8192", DType::bf16, DType::bf16, 64, 8192, 8192},
      {"mm_f32_8192", DType::f32, DType::f32, 8192, 8192, 8192},
      {"mm_tf32_8192", DType::f32, DType::f32, 8192, 8192, 8192, true},
      {"mm_fp8_8192", DType::f8e4m3, DType::bf16, 8192, 8192, 8192},
      {"mm_fp8_8192_fast_accum", DType::f8e4m3, DType::bf16, 8192, 8192, 8192, false, true},
  };
  std::vector<Record> records;
  for (const GemmCaseSpec& c : cases) {
    const bool fp8 = is_fp8(c.in);
    GemmDescriptor desc{.a = Operand::tensor(c.in, {c.m, c.k}),
                        // fp8: B = W^T with W [N, K] row-major (the "TN" layout _scaled_mm takes).
                        .b = fp8 ? Operand::tensor(c.in, {c.k, c.n}, {1, c.k}) : Operand::tensor(c.in, {c.k, c.n}),
                        .d = Operand::tensor(c.out, {c.m, c.n}),
                        .allow_tf32 = c.allow_tf32,
                        .fp8_fast_accum = c.fp8_fast_accum};
    auto plan = GemmPlan::select(*stream, desc);
    if (!plan) {
      std::printf("%-28s %s\n", c.name.c_str(), plan.status().to_string().c_str());
      continue;
    }
    const size_t in_size = dtype_size(c.in), out_size = dtype_size(c.out);
    Buffer a(c.m * c.k * in_size), b(c.k * c.n * in_size), d(c.m * c.n * out_size), ws(plan->workspace_size());
    Buffer scale(sizeof(float));
    const float one = 1.0f;
    CHECK_CUDA(cudaMemcpyAsync(scale.p, &one, sizeof(one), cudaMemcpyHostToDevice, s));
    if (c.in == DType::bf16) {
      bench::fill_uniform<__nv_bfloat16>(a.p, c.m * c.k, 1, -1.f, 1.f, s);
      bench::fill_uniform<__nv_bfloat16>(b.p, c.k * c.n, 2, -1.f, 1.f, s);
    } else if (c.in == DType::f32) {
      bench::fill_uniform<float>(a.p, c.m * c.k, 1, -1.f, 1.f, s);
      bench::fill_uniform<float>(b.p, c.k * c.n, 2, -1.f, 1.f, s);
    } else {
      bench::fill_uniform<__nv_fp8_e4m3>(a.p, c.m * c.k, 1, -1.f, 1.f, s);
      bench::fill_uniform<__nv_fp8_e4m3>(b.p, c.k * c.n, 2, -1.f, 1.f, s);
    }
    const Device dev = stream->device();
    GemmArgs args{.a = *make_tensor_ref(a.p, c.in, desc.a.shape, desc.a.strides, dev),
                  .b = *make_tensor_ref(b.p, c.in, desc.b.shape, desc.b.strides, dev),
                  .d = *make_tensor_mut(d.p, c.out, desc.d.shape, {}, dev)};
    if (fp8) {
      args.a_scale = *make_tensor_ref(scale.p, DType::f32, std::vector<int64_t>{}, {}, dev);
      args.b_scale = args.a_scale;
    }
    if (Status st = plan->run(*stream, Workspace{ws.p, plan->workspace_size()}, args); !st.is_ok()) {
      std::printf("%-28s %s\n", c.name.c_str(), st.to_string().c_str());
      continue;
    }
    const double ms = median_ms(
        [&] {
          Status st = plan->run(*stream, Workspace{ws.p, plan->workspace_size()}, args);
          if (!st.is_ok()) std::fprintf(stderr, "%s\n", st.to_string().c_str());
        },
        opts.reps, s);
    const double flops = 2.0 * double(c.m) * double(c.n) * double(c.k);
    const double bytes = double(c.m * c.k + c.k * c.n) * double(in_size) + double(c.m * c.n) * double(out_size);
    Record r{"matmul", c.name, std::string(dtype_name(c.in)), std::to_string(c.m) + "x" + std::to_string(c.n) + "x" +
                                                                  std::to_string(c.k),
             plan->sku().impl, ms, bytes / (ms * 1e6)};
    r.tflops = flops / (ms * 1e9);
    std::printf("%-28s %9.4f ms %8.1f TFLOP/s %8.1f GB/s  %s\n", c.name.c_str(), ms, r.tflops, r.gbs,
                plan->sku().tactic.c_str());
    records.push_back(r);
  }
  if (!opts.json_path.empty() && !bench::write_json(opts.json_path, "gemm", prop.name, copy_gbs, records)) return 1;
  CHECK_CUDA(cudaStreamDestroy(s));
  return 0;
}
