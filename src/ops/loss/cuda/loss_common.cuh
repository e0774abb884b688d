#pragma once
// Internal device helpers of the loss kernels: dtype conversions, the f32/f64 accumulator, and the
// deterministic one-block finishing sum (fixed thread assignment, fixed tree order).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>

#include "kernels/pdl.cuh"
#include "ops/loss/cuda/loss_launch.hpp"

namespace baracuda::loss::cuda {

template <class T> struct AccOf { using type = float; };
template <> struct AccOf<double> { using type = double; };
template <class T> using Acc = typename AccOf<T>::type;

__device__ __forceinline__ float to_acc(float v) { return v; }
__device__ __forceinline__ double to_acc(double v) { return v; }
__device__ __forceinline__ float to_acc(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_acc(__nv_bfloat16 v) { return __bfloat162float(v); }

template <class T> __device__ __forceinline__ T from_acc(Acc<T> v);
template <> __device__ __forceinline__ float from_acc<float>(float v) { return v; }
template <> __device__ __forceinline__ double from_acc<double>(double v) { return v; }
template <> __device__ __forceinline__ __half from_acc<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_acc<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

// exp in the accumulator type; f32 uses the hardware ex2 path (a few ulp, far below f32 loss
// tolerances and every 16-bit storage type).
__device__ __forceinline__ float acc_exp(float x) { return __expf(x); }
__device__ __forceinline__ double acc_exp(double x) { return exp(x); }
__device__ __forceinline__ float acc_log(float x) { return logf(x); }
__device__ __forceinline__ double acc_log(double x) { return log(x); }

// Class index of sample s from an i64 or i32 target.
__device__ __forceinline__ int64_t load_index(const void* target, bool i64, int64_t s) {
  return i64 ? static_cast<const int64_t*>(target)[s] : static_cast<int64_t>(static_cast<const int32_t*>(target)[s]);
}

constexpr int kFinishThreads = 1024;

// One block of kFinishThreads threads: the sum of every thread's `mine` in a fixed tree order.
// Every thread gets the total.
__device__ __forceinline__ double block_sum_fixed(double mine) {
  __shared__ double partial[kFinishThreads];
  __syncthreads();  // a previous call's readers are done with partial[0]
  partial[threadIdx.x] = mine;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (static_cast<int>(threadIdx.x) < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  return partial[0];
}

// One block of kFinishThreads: writes sum(v[0..n)) (reduction sum) or that sum divided by the
// denominator (*denom_ptr when given, else denom_const) to out[0] in T.
template <class T>
__device__ __forceinline__ void finish_sum(const double* v, int64_t n, bool mean, const double* denom_ptr,
                                           double denom_const, T* out) {
  double mine = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += kFinishThreads) mine += v[i];
  const double total = block_sum_fixed(mine);
  if (threadIdx.x == 0) {
    const double r = mean ? total / (denom_ptr ? *denom_ptr : denom_const) : total;
    out[0] = from_acc<T>(static_cast<Acc<T>>(r));
  }
}

template <class T>
__global__ void __launch_bounds__(kFinishThreads) finish_kernel(const double* v, int64_t n, bool mean,
                                                                const double* denom_ptr, double denom_const, T* out) {
  kernels::pdl_enter();
  finish_sum<T>(v, n, mean, denom_ptr, denom_const, out);
}

// One loss kernel through kernels::launch_kernel: a programmatic dependent launch with p.pdl (the
// kernels it launches begin with kernels::pdl_enter).
template <class Kernel, class... Args>
Status launch_loss_kernel(const LaunchParams& p, const char* what, unsigned grid, unsigned block, Kernel* kernel,
                          const Args&... args) {
  return kernels::launch_kernel({dim3(grid), dim3(block), 0, p.stream, p.pdl}, "loss", what, "", kernel, args...);
}

// The pointwise forward's reduced result (mean / sum): finish_kernel over the partials of the
// plan's fixed grid (none without samples), the mean over p.samples. Nothing for reduction none.
template <class T>
Status finish_pointwise_partials(const LaunchParams& p, const double* partials) {
  if (p.reduction == LossReduction::none) return Status::ok();
  return launch_loss_kernel(p, "loss finish_kernel", 1, kFinishThreads, finish_kernel<T>, partials,
                            static_cast<int64_t>(p.samples > 0 ? p.pointwise_blocks : 0),
                            p.reduction == LossReduction::mean, static_cast<const double*>(nullptr),
                            static_cast<double>(p.samples), static_cast<T*>(p.loss));
}

template <class T>
struct DTypeTag {
  using type = T;
};

// f(DTypeTag<T>{}) with T the storage type of dtype (f64, f32, f16 or bf16).
template <class F>
Status dispatch_loss_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::f32: return f(DTypeTag<float>{});
    case DType::f64: return f(DTypeTag<double>{});
    case DType::f16: return f(DTypeTag<__half>{});
    case DType::bf16: return f(DTypeTag<__nv_bfloat16>{});
    default: return not_supported("[loss] CUDA losses take f64, f32, f16 or bf16");
  }
}

}  // namespace baracuda::loss::cuda
