// cummax / cummin kernels: values in the input dtype (compared in f32 for 16-bit floats, exactly),
// int64 indices, torch's tie and NaN rule (MaxMinOp).
#include "ops/scan/cuda/scan_launch.cuh"

namespace baracuda::sc::cuda {

template <bool kMax, DType T>
Status maxmin(const LaunchArgs& a) {
  using S = typename Storage<T>::type;
  using Acc = std::conditional_t<is_floating(T), FloatAcc<T>, long long>;
  return launch_scan<MaxMinOp<Acc, kMax>, S, S>(a);
}

template <bool kMax>
Launcher find(DType in) {
  switch (in) {
    case DType::f32: return maxmin<kMax, DType::f32>;
    case DType::f16: return maxmin<kMax, DType::f16>;
    case DType::bf16: return maxmin<kMax, DType::bf16>;
    case DType::f64: return maxmin<kMax, DType::f64>;
    case DType::i64: return maxmin<kMax, DType::i64>;
    case DType::i32: return maxmin<kMax, DType::i32>;
    case DType::i16: return maxmin<kMax, DType::i16>;
    case DType::i8: return maxmin<kMax, DType::i8>;
    case DType::u8: return maxmin<kMax, DType::u8>;
    case DType::boolean: return maxmin<kMax, DType::boolean>;
    default: return nullptr;
  }
}

Launcher find_maxmin_launcher(bool is_max, DType in) { return is_max ? find<true>(in) : find<false>(in); }

}  // namespace baracuda::sc::cuda
