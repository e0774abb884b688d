// Grouped GEMM driver (the MoE forward): 64 experts x 512 rows, K = 4096, N = 14336, bf16, W
// stored [G, N, K]. Times the grouped plan, and, as the in-process baseline, a loop of 64 plain
// GEMM plans (cuBLASLt) over the same experts (what a per-expert torch.matmul loop does).
// Also one skewed routing (sizes 0..1024) with the same total. TFLOP/s counts 2*M_total*N*K.
//   baracuda_grouped_gemm_bench [--json out.json] [--reps N]
#include <cuda_bf16.h>
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

struct Routing {
  std::string name;
  std::vector<int64_t> sizes;
};

}  // namespace

int main(int argc, char** argv) {
  const bench::Options opts = bench::parse_options(argc, argv);
  const bench::Session session = bench::open_session(opts.reps);  // stream, device, same-run roofline
  cudaStream_t s = session.raw;
  const Stream* stream = &session.stream;
  const cudaDeviceProp& prop = session.prop;
  const double copy_gbs = session.copy_gbs;

  const int64_t G = 64, K = 4096, N = 14336;
  std::vector<Routing> routings = {{"moe_bf16_64x512x14336x4096", std::vector<int64_t>(G, 512)}, {"moe_bf16_skewed", {}}};
  for (int64_t g = 0; g < G; ++g) routings[1].sizes.push_back(g % 2 ? (g * 97) % 1025 : 1024 - (g * 97 - 97) % 1025);
  const Device dev = stream->device();
  const DType t = DType::bf16;
  Buffer b(size_t(G * K * N) * 2);
  bench::fill_uniform<__nv_bfloat16>(b.p, G * K * N, 2, -1.f, 1.f, s);
  CHECK_CUDA(cudaGetLastError());
  const std::vector<int64_t> b_strides{N * K, 1, K};  // W [G, N, K]
  std::vector<Record> records;
  for (const Routing& r : routings) {
    std::vector<int32_t> off{0};
    for (int64_t v : r.sizes) off.push_back(off.back() + static_cast<int32_t>(v));
    const int64_t M = off.back();
    Buffer a(size_t(M * K) * 2), d(size_t(M * N) * 2), offsets(off.size() * 4);
    bench::fill_uniform<__nv_bfloat16>(a.p, M * K, 1, -1.f, 1.f, s);
    CHECK_CUDA(cudaGetLastError());
    CHECK_CUDA(cudaMemcpyAsync(offsets.p, off.data(), off.size() * 4, cudaMemcpyHostToDevice, s));
    const double flops = 2.0 * double(M) * double(N) * double(K);
    const double bytes = double(M * K + G * K * N + M * N) * 2.0;
    const std::string shape = std::to_string(G) + "x" + std::to_string(M / G) + "x" + std::to_string(N) + "x" + std::to_string(K);

    GroupedGemmDescriptor desc{.a = Operand::tensor(t, {M, K}), .b = Operand::tensor(t, {G, K, N}, b_strides),
                               .d = Operand::tensor(t, {M, N}), .offsets_dtype = DType::i32};
    auto plan = GroupedGemmPlan::select(*stream, desc);
    if (!plan) {
      std::printf("%-30s %s\n", r.name.c_str(), plan.status().to_string().c_str());
    } else {
      Buffer ws(plan->workspace_size());
      GroupedGemmArgs args{.a = *make_tensor_ref(a.p, t, desc.a.shape, {}, dev),
                           .b = *make_tensor_ref(b.p, t, desc.b.shape, b_strides, dev),
                           .group_offsets = *make_tensor_ref(offsets.p, DType::i32, std::vector<int64_t>{G + 1}, {}, dev),
                           .d = *make_tensor_mut(d.p, t, desc.d.shape, {}, dev)};
      const double ms = median_ms(
          [&] {
            Status st = plan->run(*stream, Workspace{ws.p, plan->workspace_size()}, args);
            if (!st.is_ok()) std::fprintf(stderr, "%s\n", st.to_string().c_str());
          },
          opts.reps, s);
      Record rec{"grouped_gemm", r.name, "bf16", shape, plan->sku().impl, ms, bytes / (ms * 1e6)};
      rec.tflops = flops / (ms * 1e9);
      std::printf("%-30s %9.4f ms %8.1f TFLOP/s  %s\n", r.name.c_str(), ms, rec.tflops, plan->sku().tactic.c_str());
      records.push_back(rec);
    }

    // Baseline: one plain GEMM plan per expert size (cuBLASLt), run expert by expert.
    std::vector<std::pair<GemmPlan, GemmArgs>> loop;
    Buffer loop_ws(size_t{32} << 20);  // the GEMM descriptor's default max_workspace_bytes, shared (runs are serial)
    bool ok = true;
    for (int64_t g = 0; g < G && ok; ++g) {
      const int64_t m = r.sizes[static_cast<size_t>(g)];
      if (m == 0) continue;
      GemmDescriptor gd{.a = Operand::tensor(t, {m, K}), .b = Operand::tensor(t, {K, N}, {1, K}),
                        .d = Operand::tensor(t, {m, N})};
      auto gp = GemmPlan::select(*stream, gd);
      if (!gp) {
        std::printf("per-expert loop: %s\n", gp.status().to_string().c_str());
        ok = false;
        break;
      }
      GemmArgs ga{.a = *make_tensor_ref(static_cast<char*>(a.p) + off[g] * K * 2, t, gd.a.shape, {}, dev),
                  .b = *make_tensor_ref(static_cast<char*>(b.p) + g * N * K * 2, t, gd.b.shape, gd.b.strides, dev),
                  .d = *make_tensor_mut(static_cast<char*>(d.p) + off[g] * N * 2, t, gd.d.shape, {}, dev)};
      loop.emplace_back(std::move(*gp), ga);
    }
    if (ok) {
      const double ms = median_ms(
          [&] {
            for (auto& [p, ga] : loop)
              if (Status st = p.run(*stream, Workspace{loop_ws.p, p.workspace_size()}, ga); !st.is_ok()) std::fprintf(stderr, "%s\n", st.to_string().c_str());
          },
          opts.reps, s);
      Record rec{"grouped_gemm", r.name + "_per_expert_loop", "bf16", shape, "cublaslt_loop", ms, bytes / (ms * 1e6)};
      rec.tflops = flops / (ms * 1e9);
      std::printf("%-30s %9.4f ms %8.1f TFLOP/s  (64 cuBLASLt GEMMs)\n", (r.name + " loop").c_str(), ms, rec.tflops);
      records.push_back(rec);
    }
  }
  if (!opts.json_path.empty() && !bench::write_json(opts.json_path, "grouped_gemm", prop.name, copy_gbs, records)) return 1;
  CHECK_CUDA(cudaStreamDestroy(s));
  return 0;
}
