// The demo: a small MLP-style elementwise pipeline run through plans, on CUDA when a GPU is
// present and otherwise on the CPU reference. Prints each plan's SKU, its time and a checksum.
//
//   h    = gelu_tanh(x)                      [rows, 2*hidden]
//   h    = h * scale + bias                  (broadcast bias, Python-scalar scale)
//   g    = swiglu(h)                         [rows, hidden]  (fused gate)
//   q    = cast(g -> f8e4m3, scale, amax)    (saturating, with amax)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "baracuda/baracuda.hpp"

#if BARACUDA_DEMO_CUDA
#include <cuda_runtime.h>
#endif

using namespace baracuda;

namespace {

// Memory on the stream's device (cudaMalloc) or the host.
struct Memory {
  void* p = nullptr;
  bool cuda = false;
  Memory(size_t bytes, bool on_cuda) : cuda(on_cuda) {
#if BARACUDA_DEMO_CUDA
    if (cuda) { if (cudaMalloc(&p, bytes) != cudaSuccess) p = nullptr; return; }
#endif
    p = std::malloc(bytes);
  }
  ~Memory() {
#if BARACUDA_DEMO_CUDA
    if (cuda) { cudaFree(p); return; }
#endif
    std::free(p);
  }
  void upload(const void* src, size_t bytes) {
#if BARACUDA_DEMO_CUDA
    if (cuda) { cudaMemcpy(p, src, bytes, cudaMemcpyHostToDevice); return; }
#endif
    std::memcpy(p, src, bytes);
  }
  void download(void* dst, size_t bytes) const {
#if BARACUDA_DEMO_CUDA
    if (cuda) { cudaMemcpy(dst, p, bytes, cudaMemcpyDeviceToHost); return; }
#endif
    std::memcpy(dst, p, bytes);
  }
};

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int fail(const Status& s) {
  std::fprintf(stderr, "error: %s\n", s.to_string().c_str());
  return 1;
}

}  // namespace

int main() {
  const bool use_cuda = cuda_device_count() > 0;
  Stream stream = Stream::cpu();
  if (use_cuda) {
    auto s = Stream::cuda();
    if (!s) return fail(s.status());
    stream = *s;
  }
  const Device dev = stream.device();
  const int64_t rows = use_cuda ? 8192 : 256, hidden = use_cuda ? 4096 : 512;
  std::printf("baracuda demo on %s: rows=%lld hidden=%lld\n", dev.to_string().c_str(), (long long)rows, (long long)hidden);

  std::vector<float> hx(rows * 2 * hidden), hbias(2 * hidden);
  std::mt19937 rng(42);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (auto& v : hx) v = nd(rng);
  for (auto& v : hbias) v = 0.1f * nd(rng);
  Memory x(hx.size() * 4, use_cuda), bias(hbias.size() * 4, use_cuda), h(hx.size() * 4, use_cuda),
      g(rows * hidden * 4, use_cuda), q(rows * hidden, use_cuda), amax(4, use_cuda);
  x.upload(hx.data(), hx.size() * 4);
  bias.upload(hbias.data(), hbias.size() * 4);

  const std::vector<int64_t> wide{rows, 2 * hidden}, narrow{rows, hidden};
  auto ref = [&](const Memory& m, DType t, const std::vector<int64_t>& shape) { return *make_tensor_ref(m.p, t, shape, {}, dev); };
  auto mut = [&](Memory& m, DType t, const std::vector<int64_t>& shape) { return *make_tensor_mut(m.p, t, shape, {}, dev); };

  struct Step {
    const char* name;
    ElementwiseDescriptor desc;
    ElementwiseArgs args;
  };
  std::vector<Step> steps;
  steps.push_back({"gelu_tanh", {.op = ElementwiseOp::gelu_tanh, .inputs = {Operand::tensor(DType::f32, wide)}},
                   {.inputs = {ref(x, DType::f32, wide)}, .outputs = {mut(h, DType::f32, wide)}}});
  steps.push_back({"mul by 0.5", {.op = ElementwiseOp::mul, .inputs = {Operand::tensor(DType::f32, wide), Operand::scalar()}},
                   {.inputs = {ref(h, DType::f32, wide)}, .scalars = {Scalar{}, Scalar::of(0.5)}, .outputs = {mut(h, DType::f32, wide)}}});
  steps.push_back({"add bias (broadcast, in place)",
                   {.op = ElementwiseOp::add, .inputs = {Operand::tensor(DType::f32, wide), Operand::tensor(DType::f32, {2 * hidden})}},
                   {.inputs = {ref(h, DType::f32, wide), ref(bias, DType::f32, {2 * hidden})}, .outputs = {mut(h, DType::f32, wide)}}});
  steps.push_back({"swiglu (fused)", {.op = ElementwiseOp::swiglu, .inputs = {Operand::tensor(DType::f32, wide)}},
                   {.inputs = {ref(h, DType::f32, wide)}, .outputs = {mut(g, DType::f32, narrow)}}});
  ElementwiseDescriptor cast{.op = ElementwiseOp::cast, .inputs = {Operand::tensor(DType::f32, narrow)}, .output_dtype = DType::f8e4m3};
  cast.attrs.scale = 4.0;
  cast.attrs.amax = true;
  steps.push_back({"cast f32->f8e4m3 (+amax)", cast,
                   {.inputs = {ref(g, DType::f32, narrow)}, .outputs = {mut(q, DType::f8e4m3, narrow), mut(amax, DType::f32, {1})}}});

  for (Step& s : steps) {
    auto plan = ElementwisePlan::select(stream, s.desc);
    if (!plan) return fail(plan.status());
    if (Status st = plan->can_implement(s.args); !st.is_ok()) return fail(st);
    double best = 1e30;
    for (int rep = 0; rep < 3; ++rep) {
      double t0 = now_ms();
      if (Status st = plan->run(stream, {}, s.args); !st.is_ok()) return fail(st);
#if BARACUDA_DEMO_CUDA
      if (use_cuda) cudaStreamSynchronize(static_cast<cudaStream_t>(stream.cuda_stream()));
#endif
      best = std::min(best, now_ms() - t0);
    }
    std::printf("  %-30s %8.3f ms  %s\n", s.name, best, plan->sku().to_string().c_str());
  }
  // Note: steps 2-3 run in place 3 times above; the checksum reflects that deterministic sequence.
  std::vector<uint8_t> hq(rows * hidden);
  float hamax = 0;
  q.download(hq.data(), hq.size());
  amax.download(&hamax, 4);
  double checksum = 0;
  for (size_t i = 0; i < hq.size(); i += 97) checksum += fp8_bits_to_float(hq[i], DType::f8e4m3);
  std::printf("amax(g) = %.6f, checksum(q) = %.6f\n", hamax, checksum);
  return std::isfinite(checksum) && hamax > 0 ? 0 : 1;
}
