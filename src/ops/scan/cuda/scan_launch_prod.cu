// cumprod kernels. Floats keep their
// dtype (16-bit ones accumulate in f32); integers and bool accumulate in wrapping 64-bit integers
// and return i64, as torch does.
#include "ops/scan/cuda/scan_launch.cuh"

namespace baracuda::sc::cuda {

template <DType T>
Status prod_float(const LaunchArgs& a) {
  using S = typename Storage<T>::type;
  return launch_scan<ProdOp<FloatAcc<T>>, S, S>(a);
}
template <DType T>
Status prod_int(const LaunchArgs& a) {
  return launch_scan<ProdOp<unsigned long long>, typename Storage<T>::type, int64_t>(a);
}

Launcher find_prod_launcher(DType in, DType out) {
  if (in == out) {
    switch (in) {
      case DType::f32: return prod_float<DType::f32>;
      case DType::f16: return prod_float<DType::f16>;
      case DType::bf16: return prod_float<DType::bf16>;
      case DType::f64: return prod_float<DType::f64>;
      default: break;
    }
  }
  if (out != DType::i64) return nullptr;
  switch (in) {
    case DType::i64: return prod_int<DType::i64>;
    case DType::i32: return prod_int<DType::i32>;
    case DType::i16: return prod_int<DType::i16>;
    case DType::i8: return prod_int<DType::i8>;
    case DType::u8: return prod_int<DType::u8>;
    case DType::boolean: return prod_int<DType::boolean>;
    default: return nullptr;
  }
}

}  // namespace baracuda::sc::cuda
