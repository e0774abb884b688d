// Softmax benchmark: times the softmax plans (forward and backward, bf16, the transformer shapes of
// /work/shared/baseline_torch.py) with CUDA events (median of many runs after warm-up) and reports
// GB/s against the device copy bandwidth measured in the same run. Bytes as in the torch baseline:
// forward reads x and writes y (2 * 2 * rows * cols), backward reads dy and y and writes dx
// (3 * 2 * rows * cols). Every buffer is larger than the 60 MB L2.
//
// After those headline rows come the coverage cases (log_softmax, additive and boolean masks,
// temperature, a non-last dim, f32), each with a PyTorch twin of the same name in
// bench/twins/softmax.py. Their bytes are every operand the kernel reads, once, plus the output,
// once (a mask at its own shape and dtype: a broadcast [1, cols] mask counts cols elements).
//
//   baracuda_softmax_bench [--json out.json] [--reps N] [--only SUBSTRING]
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

// "32768x4096", "64x4096x256": the shape as case names spell it.
std::string dims_of(const std::vector<int64_t>& shape) {
  std::string d;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) d += 'x';
    d += std::to_string(shape[i]);
  }
  return d;
}

// Fills n f32 or bf16 values, uniform in [lo, hi) (the dtypes of the coverage cases).
void fill_float(void* p, DType t, int64_t n, uint64_t seed, float lo, float hi, cudaStream_t s) {
  if (t == DType::f32) bench::fill_uniform<float>(p, n, seed, lo, hi, s);
  else bench::fill_uniform<__nv_bfloat16>(p, n, seed, lo, hi, s);
}

// A boolean mask (DType::boolean is one byte, nonzero = keep) that keeps each element with
// probability `keep`, from the hash bench::fill_uniform uses; a float -> uint8 conversion of
// fill_uniform could only give 0/1 at 50%. torch's twin draws rand() < keep.
__global__ void fill_keep_mask_kernel(uint8_t* p, int64_t n, uint64_t seed, float keep) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    p[i] = bench::hash_uniform(i, seed, 0.f, 1.f) < keep ? 1 : 0;
}

void fill_keep_mask(void* p, int64_t n, uint64_t seed, float keep, cudaStream_t s) {
  fill_keep_mask_kernel<<<1024, 256, 0, s>>>(static_cast<uint8_t*>(p), n, seed, keep);
  CHECK_CUDA(cudaGetLastError());
}

// The dense operands of one shape's coverage cases, shared by the cases of that shape: x and dy
// random, y written by each forward and read by the backward right after it (torch's backward
// reads the saved forward output too), dx the backward's output. y starts filled so that a
// backward whose forward could not run still reads defined values.
struct SoftmaxBuffers {
  DType dtype;
  std::vector<int64_t> shape;
  int64_t n;
  Buffer x, y, dy, dx;
  SoftmaxBuffers(DType t, std::vector<int64_t> shp, cudaStream_t s)
      : dtype(t), shape(std::move(shp)), n(numel_of(shape)), x(n * dtype_size(t)), y(n * dtype_size(t)),
        dy(n * dtype_size(t)), dx(n * dtype_size(t)) {
    fill_float(x.p, t, n, 1234, -4.f, 4.f, s);
    fill_float(dy.p, t, n, 4321, -4.f, 4.f, s);
    fill_float(y.p, t, n, 5678, -1.f, 0.f, s);
  }
};

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
  const int64_t shapes[][2] = {{32768, 4096}, {opts.wide_rows, 32768}, {65536, 1024}};
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
      if (!bench::wanted(opts, cas)) continue;
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

  // ---- Coverage cases (twins in bench/twins/softmax.py) ----
  const Device dev = stream->device();
  // One timed plan. The operands follow the descriptor's signature, in SoftmaxArgs order: forward
  // {x, mask?} -> y, backward {dy, y, mask?} -> dx. Bytes: every input once and the output once,
  // except an additive mask in the backward: softmax.hpp accepts it unused (d(x + m)/dx = 1) and no
  // kernel reads it, so counting it would overstate the traffic. A case that cannot be selected or
  // run prints why, and the driver goes on.
  auto run_softmax = [&](const std::string& cas, const SoftmaxDescriptor& desc, const std::vector<const void*>& in,
                         void* out) {
    if (!bench::wanted(opts, cas)) return;
    const bool bwd = desc.direction == Direction::backward;
    auto sig = infer_signature(desc);
    if (!sig) {
      std::printf("%-40s invalid descriptor: %s\n", cas.c_str(), sig.status().to_string().c_str());
      return;
    }
    auto plan = SoftmaxPlan::select(*stream, desc);
    if (!plan) {
      std::printf("%-40s select failed: %s\n", cas.c_str(), plan.status().to_string().c_str());
      return;
    }
    if (in.size() != sig->inputs.size()) {  // a driver bug, not a library one: say so and go on
      std::printf("%-40s driver error: %zu inputs given, the signature has %zu\n", cas.c_str(), in.size(),
                  sig->inputs.size());
      return;
    }
    SoftmaxArgs args;
    double moved = 0;
    for (size_t i = 0; i < in.size(); ++i) {
      const Operand& o = sig->inputs[i];
      args.inputs[i] = *make_tensor_ref(in[i], o.dtype, o.shape, o.strides, dev);
      const bool unread_mask = bwd && desc.mask && !sig->boolean_mask && i + 1 == in.size();
      if (!unread_mask) moved += double(numel_of(o.shape)) * dtype_size(o.dtype);
    }
    const Operand& oo = sig->outputs[0];
    args.outputs[0] = *make_tensor_mut(out, oo.dtype, oo.shape, oo.strides, dev);
    moved += double(numel_of(oo.shape)) * dtype_size(oo.dtype);
    Buffer ws(plan->workspace_size());  // 0 bytes today; allocated so a future workspace just works
    const Workspace w{ws.p, plan->workspace_size()};
    Status st = plan->run(*stream, w, args);
    if (!st.is_ok()) {
      std::printf("%-40s run failed: %s\n", cas.c_str(), st.to_string().c_str());
      return;
    }
    const double ms = median_ms([&] { (void)plan->run(*stream, w, args); }, reps, s);
    const double gbs = moved / (ms * 1e6);
    std::printf("%-40s %9.4f ms %8.1f GB/s %5.1f%% of copy  [%s]\n", cas.c_str(), ms, gbs, 100.0 * gbs / copy_gbs,
                plan->sku().to_string().c_str());
    records.push_back({std::string(softmax_op_info(desc.op).name) + (bwd ? ".backward" : ""), cas,
                       std::string(dtype_name(desc.input.dtype)), shape_to_string(desc.input.shape), plan->sku().impl,
                       ms, gbs});
  };
  // The forward x [, mask] -> y of desc, then (bwd_name not empty) its backward dy, y [, mask] -> dx,
  // which reads the y the forward just wrote.
  auto run_fwd_bwd = [&](const std::string& fwd_name, const std::string& bwd_name, SoftmaxDescriptor desc,
                         SoftmaxBuffers& b, const void* mask) {
    desc.direction = Direction::forward;
    std::vector<const void*> in{b.x.p};
    if (mask) in.push_back(mask);
    run_softmax(fwd_name, desc, in, b.y.p);
    if (bwd_name.empty()) return;
    desc.direction = Direction::backward;
    in = {b.dy.p, b.y.p};
    if (mask) in.push_back(mask);
    run_softmax(bwd_name, desc, in, b.dx.p);
  };
  auto softmax_desc = [](SoftmaxOp op, const SoftmaxBuffers& b, int dim) {
    return SoftmaxDescriptor{.op = op, .input = Operand::tensor(b.dtype, b.shape), .dim = dim};
  };

  {  // bf16 32768 x 4096: log_softmax, masks, temperature
    SoftmaxBuffers b(DType::bf16, {32768, 4096}, s);
    const std::string dims = dims_of(b.shape);
    run_fwd_bwd("log_softmax_bf16_" + dims, "log_softmax_bwd_bf16_" + dims, softmax_desc(SoftmaxOp::log_softmax, b, -1),
                b, nullptr);

    // Additive bf16 mask broadcast over the rows ([1, 4096]: one bias per key, as a padding or
    // position bias) and at the full shape (a per-element bias). Values in [-2, 2), no -inf: no
    // row is fully masked. Its backward takes the masked engines although the mask is unused.
    Buffer mask_row(4096 * 2), mask_full(b.n * 2);
    fill_float(mask_row.p, DType::bf16, 4096, 777, -2.f, 2.f, s);
    fill_float(mask_full.p, DType::bf16, b.n, 778, -2.f, 2.f, s);
    SoftmaxDescriptor add = softmax_desc(SoftmaxOp::softmax, b, -1);
    add.mask = Operand::tensor(DType::bf16, {1, 4096});
    run_fwd_bwd("softmax_mask_add_bf16_" + dims, "softmax_mask_add_bwd_bf16_" + dims, add, b, mask_row.p);
    add.mask = Operand::tensor(DType::bf16, b.shape);
    // Forward only: its backward is the [1, 4096] one's (the additive mask is not read there).
    run_fwd_bwd("softmax_mask_add_full_bf16_" + dims, "", add, b, mask_full.p);

    // Boolean mask at the full shape (an attention mask), 3/4 kept: -inf where false in the forward,
    // dx zeroed there in the backward.
    Buffer mask_bool(b.n);
    fill_keep_mask(mask_bool.p, b.n, 779, 0.75f, s);
    SoftmaxDescriptor boolean = softmax_desc(SoftmaxOp::softmax, b, -1);
    boolean.mask = Operand::tensor(DType::boolean, b.shape);
    run_fwd_bwd("softmax_mask_bool_bf16_" + dims, "softmax_mask_bool_bwd_bf16_" + dims, boolean, b, mask_bool.p);

    // softmax(x / T): the scale is fused; torch's twin pays a separate division.
    SoftmaxDescriptor temp = softmax_desc(SoftmaxOp::softmax, b, -1);
    temp.temperature = 2.0;
    run_fwd_bwd("softmax_temp_bf16_" + dims, "softmax_temp_bwd_bf16_" + dims, temp, b, nullptr);
  }
  {  // bf16 4096 x 32768: log_softmax along the rows, softmax along dim 0 (the column engine)
    SoftmaxBuffers b(DType::bf16, {4096, 32768}, s);
    const std::string dims = dims_of(b.shape);
    run_fwd_bwd("log_softmax_bf16_" + dims, "log_softmax_bwd_bf16_" + dims, softmax_desc(SoftmaxOp::log_softmax, b, -1),
                b, nullptr);
    run_fwd_bwd("softmax_dim0_bf16_" + dims, "softmax_dim0_bwd_bf16_" + dims, softmax_desc(SoftmaxOp::softmax, b, 0), b,
                nullptr);
  }
  {  // bf16 [64, 4096, 256], softmax over the middle dim: 64 x 256 columns of 4096 at stride 256
    SoftmaxBuffers b(DType::bf16, {64, 4096, 256}, s);
    const std::string dims = dims_of(b.shape);
    run_fwd_bwd("softmax_dim1_bf16_" + dims, "softmax_dim1_bwd_bf16_" + dims, softmax_desc(SoftmaxOp::softmax, b, 1), b,
                nullptr);
  }
  {  // f32 32768 x 4096 (the headline rows are bf16)
    SoftmaxBuffers b(DType::f32, {32768, 4096}, s);
    const std::string dims = dims_of(b.shape);
    run_fwd_bwd("softmax_f32_" + dims, "softmax_bwd_f32_" + dims, softmax_desc(SoftmaxOp::softmax, b, -1), b, nullptr);
  }

  if (!json_path.empty() && !bench::write_json(json_path, "softmax", prop.name, copy_gbs, records)) return 1;
  cudaStreamDestroy(s);
  return 0;
}
