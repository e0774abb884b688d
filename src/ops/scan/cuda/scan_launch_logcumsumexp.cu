// logcumsumexp kernels: floating inputs, log-add-exp in f32 (f64 for f64) without overflow.
#include "ops/scan/cuda/scan_launch.cuh"

namespace baracuda::sc::cuda {

template <DType T>
Status lcse(const LaunchArgs& a) {
  using S = typename Storage<T>::type;
  return launch_scan<LogAddExpOp<FloatAcc<T>>, S, S>(a);
}

Launcher find_logcumsumexp_launcher(DType in) {
  switch (in) {
    case DType::f32: return lcse<DType::f32>;
    case DType::f16: return lcse<DType::f16>;
    case DType::bf16: return lcse<DType::bf16>;
    case DType::f64: return lcse<DType::f64>;
    default: return nullptr;
  }
}

}  // namespace baracuda::sc::cuda
