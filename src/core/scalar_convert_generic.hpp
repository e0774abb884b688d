#pragma once
// Internal: the generic narrow-float conversions of scalar_convert.cpp (any mini-float format, by
// frexp / ldexp / nearbyint), which the public f16 / bf16 functions there answer by bit
// arithmetic where the value is normal in the target format. Exposed so that a test can compare
// the two over every encoding (tests/ops/test_core.cpp, ScalarConvert.*).
#include <cstdint>

#include "baracuda/core/dtype.hpp"

namespace baracuda::detail {

// The bits of x in `t` (f16, bf16, f8e4m3, f8e5m2), rounded to nearest even from double.
uint32_t narrow_float_encode_generic(double x, DType t);
// The value of the bits `b` of `t`.
double narrow_float_decode_generic(uint32_t b, DType t);

}  // namespace baracuda::detail
