// Reduction benchmark: times baracuda ReducePlans with CUDA events (median of many runs after
// warm-up) and reports GB/s against the device copy bandwidth measured in the same run. The first
// seven cases are PERF-BASELINE.md's (shapes from /work/shared/baseline_torch.py: x has 2^28
// elements, X is x viewed as 16384 x 16384); bench/torch_compare.py twins them. The coverage cases
// after them time every other op of the family, forward and backward, at the same HBM-streaming
// sizes (every input >= 256 MB, far larger than the 60 MB L2); their PyTorch twins are in
// bench/twins/reduce.py, one per case name. Bytes count every input of the plan's signature read
// once (backward: the incoming gradients and x) and every output written once. The JSON has
// elementwise_bench.cu's record format (family "reduce"); bench/torch_compare.py adds PyTorch's
// same-run times.
//
//   baracuda_reduce_bench [--json out.json] [--reps N]
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
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

// Overwrites about `fraction` of the n elements of type T at p with `value` and leaves the others:
// bench::fill_uniform makes neither NaNs (the nan-ops must take their NaN path) nor exact zeros
// (count_nonzero / any / all should see both outcomes).
template <class T>
__global__ void scatter_value_kernel(T* p, int64_t n, uint64_t seed, float fraction, float value) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    if (bench::hash_uniform(i, seed, 0.f, 1.f) < fraction) p[i] = T(value);
}

template <class T>
void scatter_value(void* p, int64_t n, uint64_t seed, float fraction, float value, cudaStream_t s) {
  scatter_value_kernel<T><<<1024, 256, 0, s>>>(static_cast<T*>(p), n, seed, fraction, value);
  CHECK_CUDA(cudaGetLastError());
}

int64_t numel(const Operand& o) {
  int64_t e = 1;
  for (int64_t v : o.shape) e *= v;
  return e;
}

// Random incoming gradients in [-1, 1) for a backward case; false for a dtype the driver has no
// fill for (the cases only need f32 and bf16, the dtypes of their x).
bool fill_grad(void* p, const Operand& o, uint64_t seed, cudaStream_t s) {
  if (o.dtype == DType::f32) bench::fill_uniform<float>(p, numel(o), seed, -1.f, 1.f, s);
  else if (o.dtype == DType::bf16) bench::fill_uniform<__nv_bfloat16>(p, numel(o), seed, -1.f, 1.f, s);
  else return false;
  return true;
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

  const int64_t n = int64_t(1) << 28;
  const Device dev = stream->device();
  std::vector<Record> records;
  // One input buffer per dtype, reused by every case (2^28 elements: 512 MiB bf16, 1 GiB f32).
  Buffer x_bf16(n * 2), x_f32(n * 4);
  bench::fill_uniform<__nv_bfloat16>(x_bf16.p, n, 1234, -4.f, 4.f, s);
  bench::fill_uniform<float>(x_f32.p, n, 1234, -4.f, 4.f, s);
  // The coverage cases' special inputs (2^28 elements each), filled once:
  //   x_prod   bf16 in [0.95, 1.05): products of 16384 such values stay finite (the tests' range);
  //            [-4, 4) would overflow every row to +-inf after a few hundred elements.
  //   x_nan    x_bf16's values with ~1% NaNs, for nansum / nanmean.
  //   x_sparse x_bf16's values with ~50% zeros, for count_nonzero.
  //   x_bool   bool (one byte, 0 or 1), ~50% false, for any / all: the API takes bool as PyTorch.
  Buffer x_prod(n * 2), x_nan(n * 2), x_sparse(n * 2), x_bool(n);
  bench::fill_uniform<__nv_bfloat16>(x_prod.p, n, 99, 0.95f, 1.05f, s);
  CHECK_CUDA(cudaMemcpyAsync(x_nan.p, x_bf16.p, n * 2, cudaMemcpyDeviceToDevice, s));
  scatter_value<__nv_bfloat16>(x_nan.p, n, 7, 0.01f, std::numeric_limits<float>::quiet_NaN(), s);
  CHECK_CUDA(cudaMemcpyAsync(x_sparse.p, x_bf16.p, n * 2, cudaMemcpyDeviceToDevice, s));
  scatter_value<__nv_bfloat16>(x_sparse.p, n, 8, 0.5f, 0.f, s);
  CHECK_CUDA(cudaMemsetAsync(x_bool.p, 1, n, s));
  scatter_value<uint8_t>(x_bool.p, n, 9, 0.5f, 0.f, s);
  CHECK_CUDA(cudaStreamSynchronize(s));

  // One case: the plan for desc over the input at x (a failed select or run prints the status and
  // the driver goes on), random incoming gradients for a backward plan, dense outputs, then the
  // timing. Bytes: every input of the signature read once (forward: x; backward: the gradients,
  // then x where the formula reads it) plus every output written once.
  auto run_desc = [&](const char* case_name, const ReduceDescriptor& desc, const void* x) {
    const bool bwd = desc.direction == Direction::backward;
    const std::string op_name = std::string(reduce_op_info(desc.op).name) + (bwd ? ".backward" : "");
    // Prints why the case is skipped (the driver goes on with the next one).
    auto skip = [&](const char* what, const Status& why) {
      std::printf("%-30s %s failed: %s\n", case_name, what, why.to_string().c_str());
    };
    auto plan = ReducePlan::select(*stream, desc);
    if (!plan) return skip("select", plan.status());
    auto sig = infer_signature(desc);  // select() validated desc, so this succeeds
    ReduceArgs args;
    std::vector<std::unique_ptr<Buffer>> bufs;  // gradients and outputs, freed after the case
    double bytes = 0;
    const size_t n_in = sig->inputs.size();
    for (size_t i = 0; i < n_in; ++i) {
      const Operand& o = sig->inputs[i];
      const void* p = x;  // the last input is always x
      if (i + 1 < n_in) {  // an incoming gradient (backward only)
        bufs.push_back(std::make_unique<Buffer>(numel(o) * dtype_size(o.dtype)));
        if (!fill_grad(bufs.back()->p, o, 300 + i, s)) {
          std::printf("%-30s no gradient fill for dtype %s\n", case_name, std::string(dtype_name(o.dtype)).c_str());
          return;
        }
        p = bufs.back()->p;
      }
      auto ref = make_tensor_ref(p, o.dtype, o.shape, {}, dev);
      if (!ref) return skip("input", ref.status());
      args.inputs[i] = *ref;
      // The backward of sum, mean, max and min never needs x's values (dx is the broadcast
      // gradient, or the gradient at the saved index): x is bound but not counted.
      const bool x_unread = bwd && i + 1 == n_in &&
                            (desc.op == ReduceOp::sum || desc.op == ReduceOp::mean || desc.op == ReduceOp::max ||
                             desc.op == ReduceOp::min);
      if (!x_unread) bytes += double(numel(o)) * dtype_size(o.dtype);
    }
    for (size_t k = 0; k < sig->outputs.size(); ++k) {
      const Operand& o = sig->outputs[k];
      bufs.push_back(std::make_unique<Buffer>(numel(o) * dtype_size(o.dtype)));
      auto mut = make_tensor_mut(bufs.back()->p, o.dtype, o.shape, {}, dev);
      if (!mut) return skip("output", mut.status());
      args.outputs[k] = *mut;
      bytes += double(numel(o)) * dtype_size(o.dtype);
    }
    Buffer ws(plan->workspace_size());
    const Workspace w{ws.p, plan->workspace_size()};
    Status st = plan->run(*stream, w, args);
    if (!st.is_ok()) return skip("run", st);
    const double ms = median_ms([&] { (void)plan->run(*stream, w, args); }, reps, s);
    const double gbs = bytes / (ms * 1e6);
    std::printf("%-30s %-18s %9.4f ms %8.1f GB/s %5.1f%% of copy  [%s]\n", case_name, op_name.c_str(), ms, gbs,
                100.0 * gbs / copy_gbs, plan->sku().to_string().c_str());
    records.push_back({op_name, case_name, std::string(dtype_name(desc.input.dtype)), shape_to_string(desc.input.shape),
                       plan->sku().impl, ms, gbs});
  };
  // The PERF-BASELINE cases: a forward op over the uniform input of its dtype.
  auto run_case = [&](const char* case_name, ReduceOp op, DType dt, std::vector<int64_t> shape, std::vector<int> axes) {
    run_desc(case_name, ReduceDescriptor{.op = op, .input = Operand::tensor(dt, shape), .axes = axes},
             dt == DType::f32 ? x_f32.p : x_bf16.p);
  };

  const std::vector<int64_t> flat{n}, X{16384, 16384};
  run_case("sum_bf16_268M", ReduceOp::sum, DType::bf16, flat, {});
  run_case("sum_rows_bf16_16k", ReduceOp::sum, DType::bf16, X, {1});
  run_case("sum_cols_bf16_16k", ReduceOp::sum, DType::bf16, X, {0});
  run_case("amax_rows_bf16_16k", ReduceOp::amax, DType::bf16, X, {1});
  run_case("argmax_rows_bf16_16k", ReduceOp::argmax, DType::bf16, X, {1});
  run_case("var_mean_rows_f32_16k", ReduceOp::var_mean, DType::f32, X, {1});
  run_case("logsumexp_rows_f32_16k", ReduceOp::logsumexp, DType::f32, X, {1});

  // Coverage cases (twins: bench/twins/reduce.py). Dtypes and outputs are PyTorch's defaults for
  // the same call, which infer_signature reproduces: a bf16 prod / nansum / norm returns bf16,
  // max / min return values + i64 indices, count_nonzero i64, any / all of bool return bool.
  const DType bf16 = DType::bf16, f32 = DType::f32, boolean = DType::boolean;
  // op over the rows of X (dim 1), PyTorch's dim=1 / dim=-1.
  auto rows = [&](ReduceOp op, DType dt) {
    return ReduceDescriptor{.op = op, .input = Operand::tensor(dt, X), .axes = {1}};
  };
  // op over every element of the flat 2^28 input (PyTorch's reduction without dim).
  auto all_of_flat = [&](ReduceOp op, DType dt) {
    return ReduceDescriptor{.op = op, .input = Operand::tensor(dt, flat), .axes = {}};
  };
  auto with_p = [](ReduceDescriptor d, double p) {  // vector_norm's ord
    d.p = p;
    return d;
  };
  auto with_correction = [](ReduceDescriptor d, double c) {  // var / std: divide by N - c
    d.correction = c;
    return d;
  };
  auto keepdim = [](ReduceDescriptor d) {
    d.keepdim = true;
    return d;
  };
  // The backward of d: inputs {dy (one per floating result), x}, output dx (x's shape and dtype).
  auto backward = [](ReduceDescriptor d) {
    d.direction = Direction::backward;
    return d;
  };

  // Forward, one op each over the rows of X (bf16, 512 MiB in).
  run_desc("mean_rows_bf16_16k", rows(ReduceOp::mean, bf16), x_bf16.p);
  run_desc("mean_rows_keepdim_bf16_16k", keepdim(rows(ReduceOp::mean, bf16)), x_bf16.p);  // out [16384, 1]
  run_desc("prod_rows_bf16_16k", rows(ReduceOp::prod, bf16), x_prod.p);
  run_desc("amin_rows_bf16_16k", rows(ReduceOp::amin, bf16), x_bf16.p);
  run_desc("max_rows_bf16_16k", rows(ReduceOp::max, bf16), x_bf16.p);  // torch.max(X, dim=1): values + indices
  run_desc("min_rows_bf16_16k", rows(ReduceOp::min, bf16), x_bf16.p);
  run_desc("argmin_rows_bf16_16k", rows(ReduceOp::argmin, bf16), x_bf16.p);
  run_desc("var_rows_bf16_16k", with_correction(rows(ReduceOp::var, bf16), 1.0), x_bf16.p);
  run_desc("std_rows_bf16_16k", with_correction(rows(ReduceOp::std, bf16), 1.0), x_bf16.p);
  // vector_norm with ord 1, 2, inf (the Frobenius norm is vector_norm's p = 2: no separate op).
  run_desc("norm1_rows_bf16_16k", with_p(rows(ReduceOp::norm, bf16), 1.0), x_bf16.p);
  run_desc("norm2_rows_bf16_16k", with_p(rows(ReduceOp::norm, bf16), 2.0), x_bf16.p);
  run_desc("norminf_rows_bf16_16k", with_p(rows(ReduceOp::norm, bf16), INFINITY), x_bf16.p);
  // The global norm of an f32 tensor (gradient-norm clipping): one result, split across blocks.
  run_desc("norm2_f32_268M", with_p(all_of_flat(ReduceOp::norm, f32), 2.0), x_f32.p);
  // any / all over bool (256 MiB in); all() of a whole bool tensor (the all(isfinite) check).
  run_desc("any_rows_bool_16k", rows(ReduceOp::any, boolean), x_bool.p);
  run_desc("all_rows_bool_16k", rows(ReduceOp::all, boolean), x_bool.p);
  run_desc("all_bool_268M", all_of_flat(ReduceOp::all, boolean), x_bool.p);
  // count_nonzero of a half-zero bf16 tensor, per row and in total (i64 results).
  run_desc("count_nonzero_rows_bf16_16k", rows(ReduceOp::count_nonzero, bf16), x_sparse.p);
  run_desc("count_nonzero_bf16_268M", all_of_flat(ReduceOp::count_nonzero, bf16), x_sparse.p);
  run_desc("nansum_rows_bf16_16k", rows(ReduceOp::nansum, bf16), x_nan.p);
  run_desc("nanmean_rows_bf16_16k", rows(ReduceOp::nanmean, bf16), x_nan.p);
  run_desc("logsumexp_rows_bf16_16k", rows(ReduceOp::logsumexp, bf16), x_bf16.p);
  // Two non-adjacent reduced axes: x viewed as [256, 1024, 1024], sum over {0, 2} -> [1024].
  run_desc("sum_axes02_bf16_256x1024x1024",
           ReduceDescriptor{.op = ReduceOp::sum, .input = Operand::tensor(bf16, {256, 1024, 1024}), .axes = {0, 2}},
           x_bf16.p);

  // Backward over the rows of X: dy [16384] + x [16384, 16384] in, dx [16384, 16384] out. sum and
  // mean need no group statistics and not x itself (dy broadcast into dx; x, an input of every
  // backward signature, is not counted); amax, var, norm and logsumexp first run a stats pass over x, which the
  // bytes do not count a second time. PyTorch's sum backward is dy.expand(), a view: its twin
  // materializes dx so that both write the same dense tensor.
  run_desc("sum_bwd_rows_bf16_16k", backward(rows(ReduceOp::sum, bf16)), x_bf16.p);
  run_desc("mean_bwd_rows_bf16_16k", backward(rows(ReduceOp::mean, bf16)), x_bf16.p);
  run_desc("amax_bwd_rows_bf16_16k", backward(rows(ReduceOp::amax, bf16)), x_bf16.p);
  run_desc("var_bwd_rows_bf16_16k", backward(with_correction(rows(ReduceOp::var, bf16), 1.0)), x_bf16.p);
  run_desc("norm2_bwd_rows_bf16_16k", backward(with_p(rows(ReduceOp::norm, bf16), 2.0)), x_bf16.p);
  run_desc("logsumexp_bwd_rows_f32_16k", backward(rows(ReduceOp::logsumexp, f32)), x_f32.p);

  if (!json_path.empty() && !bench::write_json(json_path, "reduce", prop.name, copy_gbs, records)) return 1;
  cudaStreamDestroy(s);
  return 0;
}
