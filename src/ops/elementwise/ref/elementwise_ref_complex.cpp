// The CPU reference for complex problems: the same odometer over strides as the real loop
// (elementwise_ref.cpp), with every operand read as complex<double> (real dtypes as (v, 0)) and
// every result written through store_from_complex (real outputs keep the real part).
#include "baracuda/core/scalar_convert.hpp"
#include "ops/elementwise/ref/ref_math_complex.hpp"

namespace baracuda::ew {

void run_complex_reference(const Problem& p, const Bound& b) {
  Dims idx{};
  for (int64_t n = 0; n < b.numel; ++n) {
    ref::cdouble in[kMaxKernelInputs] = {}, out[kMaxKernelOutputs] = {};
    for (int i = 0; i < b.nin; ++i) {
      const BoundInput& src = b.in[i];
      if (src.is_scalar) {  // Python scalars are real (bool, int or float)
        in[i] = {src.dtype == DType::f64 ? src.f : static_cast<double>(src.i), 0.0};
        continue;
      }
      int64_t off = 0;
      for (int d = 0; d < b.rank; ++d) off += idx[d] * src.strides[d];
      in[i] = load_as_complex(src.data + off * static_cast<int64_t>(dtype_size(src.dtype)), src.dtype);
    }
    ref::eval_complex(p.desc.op, p.desc.direction, p.desc.attrs, in, out);
    for (int o = 0; o < b.nout; ++o) {
      const BoundOutput& dst = b.out[o];
      if (!dst.data) continue;
      int64_t off = 0;
      for (int d = 0; d < b.rank; ++d) off += idx[d] * dst.strides[d];
      store_from_complex(dst.data + off * static_cast<int64_t>(dtype_size(dst.dtype)), dst.dtype, out[o]);
    }
    for (int d = b.rank - 1; d >= 0; --d) {  // odometer
      if (++idx[d] < b.sizes[d]) break;
      idx[d] = 0;
    }
  }
}

}  // namespace baracuda::ew
