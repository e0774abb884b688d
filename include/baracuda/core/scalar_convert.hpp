#pragma once
// Host-side conversions between storage dtypes and double, bit-exact with the device's:
// round-to-nearest-even for narrowing floats, saturation for fp8 (and +-inf -> +-max finite),
// float->integer truncation toward zero with saturation (NaN -> 0), integer->integer wrap.
// Used by the CPU reference and by tests.
#include <complex>
#include <cstdint>
#include <cstring>

#include "baracuda/core/dtype.hpp"

namespace baracuda {

float f16_bits_to_float(uint16_t h);
uint16_t float_to_f16_bits(double x);   // RNE from double (no double rounding)
float bf16_bits_to_float(uint16_t b);
uint16_t float_to_bf16_bits(double x);  // RNE from double
float fp8_bits_to_float(uint8_t v, DType fp8);
uint8_t float_to_fp8_bits(double x, DType fp8);  // RNE, saturating to +-max finite; NaN stays NaN

// Reads element `p` of `dtype` as double / as int64 (floats: truncate+saturate; complex: real part).
double load_as_double(const void* p, DType dtype);
int64_t load_as_int64(const void* p, DType dtype);
// Writes `v` to `p` converted to `dtype`.
void store_from_double(void* p, DType dtype, double v);
void store_from_int64(void* p, DType dtype, int64_t v);

// Complex views of any dtype (PyTorch's conversions): a real element reads as (v, 0); writing a
// complex value to a real dtype keeps the real part (bool: re != 0 || im != 0; fp8: the real part
// rounded to f32 first, then to fp8); c64 rounds each part to nearest even.
std::complex<double> load_as_complex(const void* p, DType dtype);
void store_from_complex(void* p, DType dtype, std::complex<double> v);

}  // namespace baracuda
