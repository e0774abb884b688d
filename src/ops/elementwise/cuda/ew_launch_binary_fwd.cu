// Launch group: binary ops (and prelu), forward.
#include "ops/elementwise/cuda/ew_dispatch.cuh"

namespace baracuda::ew::cuda {
namespace {

// nextafter steps by one ulp of the result dtype: for f16/bf16 results the step is taken on the
// 16-bit pattern (the f32 functor would step by an f32 ulp and round back).
template <class T>
struct Nextafter16 {
  template <class C>
  struct Fn {
    __host__ explicit Fn(const ElementwiseAttrs&) {}
    __device__ __forceinline__ C operator()(C a, C b) const {
      if (a != a || b != b) return a + b;  // NaN
      if (a == b) return b;
      uint16_t bits;
      if (a == C(0)) {
        bits = b > C(0) ? 0x0001 : 0x8001;  // the smallest subnormal toward b
      } else {
        const T t = from_compute<T>(a);
        __builtin_memcpy(&bits, &t, 2);
        bits = static_cast<uint16_t>(((a < b) == (a > C(0))) ? bits + 1 : bits - 1);
      }
      T r;
      __builtin_memcpy(&r, &bits, 2);
      return to_compute<C>(r);
    }
  };
};

Launcher nextafter_16bit(const Problem& p, bool vectorized) {
  auto result = result_type(p.desc.inputs);
  if (!result || (*result != DType::f16 && *result != DType::bf16)) return nullptr;
  if (*result == DType::f16)
    return vectorized ? &run_vectorized<Nextafter16<__half>::Fn, 2, 1> : &run_strided<Nextafter16<__half>::Fn, 2, 1, true, false>;
  return vectorized ? &run_vectorized<Nextafter16<__nv_bfloat16>::Fn, 2, 1>
                    : &run_strided<Nextafter16<__nv_bfloat16>::Fn, 2, 1, true, false>;
}

constexpr bool in_group(int arity, Cat cat, Direction dir) {
  (void)arity; (void)cat; (void)dir;
  return arity == 2 && dir == Direction::forward;
}
}  // namespace

Launcher find_binary_fwd(const Problem& p, bool vectorized) {
  if (p.desc.op == ElementwiseOp::nextafter && p.desc.direction == Direction::forward)
    if (Launcher l = nextafter_16bit(p, vectorized)) return l;
  return find_launcher<in_group>(p, vectorized);
}

}  // namespace baracuda::ew::cuda
