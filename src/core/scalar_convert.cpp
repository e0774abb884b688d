// Host conversions shared by the CPU reference and the tests. Narrowing float conversions round
// from double directly (no double rounding through f32).
#include "baracuda/core/scalar_convert.hpp"

#include <cmath>
#include <limits>

namespace baracuda {
namespace {

// A binary floating format with `mant` fraction bits and exponent bias `bias`.
struct MiniFloat {
  int mant;
  int exp_bits;
  int bias;
  bool has_inf;       // IEEE-style inf/NaN encodings (all but e4m3)
  bool saturate;      // out-of-range finite values clamp to max instead of becoming inf
  double max_finite;
};
constexpr MiniFloat kF16{10, 5, 15, true, false, 65504.0};
constexpr MiniFloat kBF16{7, 8, 127, true, false, 3.38953138925153547590470800371487866880e+38};
constexpr MiniFloat kE4M3{3, 4, 7, false, true, 448.0};
constexpr MiniFloat kE5M2{2, 5, 15, true, true, 57344.0};

uint32_t encode(double x, const MiniFloat& f) {
  const uint32_t sign = std::signbit(x) ? 1u << (f.mant + f.exp_bits) : 0u;
  const uint32_t exp_all_ones = (1u << f.exp_bits) - 1;
  if (std::isnan(x)) {
    // e4m3: S.1111.111; IEEE-like: quiet NaN.
    return f.has_inf ? (exp_all_ones << f.mant) | (1u << (f.mant - 1)) : (exp_all_ones << f.mant) | ((1u << f.mant) - 1);
  }
  double a = std::fabs(x);
  const uint32_t inf_bits = exp_all_ones << f.mant;
  auto encode_max = [&] {
    if (f.has_inf) return sign | (((exp_all_ones - 1) << f.mant) | ((1u << f.mant) - 1));
    return sign | (exp_all_ones << f.mant) | ((1u << f.mant) - 2);  // e4m3 max: 1111.110
  };
  if (std::isinf(a)) return f.saturate ? encode_max() : sign | inf_bits;
  if (a == 0.0) return sign;
  int e2;
  (void)std::frexp(a, &e2);  // a = m * 2^e2, m in [0.5, 1)
  int exp = e2 - 1;
  const int min_exp = 1 - f.bias;
  const int q_exp = (exp < min_exp ? min_exp : exp) - f.mant;
  double r = std::nearbyint(std::ldexp(a, -q_exp));  // round half to even (default FP mode)
  double v = std::ldexp(r, q_exp);
  if (v > f.max_finite) return f.saturate ? encode_max() : sign | inf_bits;
  if (v == 0.0) return sign;
  (void)std::frexp(v, &e2);
  exp = e2 - 1;
  if (exp < min_exp) return sign | static_cast<uint32_t>(std::ldexp(v, f.bias - 1 + f.mant));  // subnormal
  uint32_t frac = static_cast<uint32_t>(std::ldexp(v, -exp) * (1u << f.mant)) - (1u << f.mant);
  return sign | (static_cast<uint32_t>(exp + f.bias) << f.mant) | frac;
}

double decode(uint32_t bits, const MiniFloat& f) {
  const uint32_t exp_all_ones = (1u << f.exp_bits) - 1;
  const bool neg = (bits >> (f.mant + f.exp_bits)) & 1u;
  const uint32_t e = (bits >> f.mant) & exp_all_ones;
  const uint32_t m = bits & ((1u << f.mant) - 1);
  double v;
  if (f.has_inf && e == exp_all_ones) {
    v = m ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  } else if (!f.has_inf && e == exp_all_ones && m == (1u << f.mant) - 1) {
    v = std::numeric_limits<double>::quiet_NaN();
  } else if (e == 0) {
    v = std::ldexp(static_cast<double>(m), 1 - f.bias - f.mant);
  } else {
    v = std::ldexp(1.0 + std::ldexp(static_cast<double>(m), -f.mant), static_cast<int>(e) - f.bias);
  }
  return neg ? -v : v;
}

const MiniFloat& fp8_format(DType t) { return t == DType::f8e4m3 ? kE4M3 : kE5M2; }

template <class I>
I saturating_trunc(double v) {
  if (std::isnan(v)) return 0;
  double t = std::trunc(v);
  if (t <= static_cast<double>(std::numeric_limits<I>::min())) return std::numeric_limits<I>::min();
  if (t >= static_cast<double>(std::numeric_limits<I>::max())) return std::numeric_limits<I>::max();
  return static_cast<I>(t);
}

template <class T>
T read(const void* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}
template <class T>
void write(void* p, T v) {
  std::memcpy(p, &v, sizeof(T));
}

}  // namespace

float f16_bits_to_float(uint16_t h) { return static_cast<float>(decode(h, kF16)); }
uint16_t float_to_f16_bits(double x) { return static_cast<uint16_t>(encode(x, kF16)); }
float bf16_bits_to_float(uint16_t b) { return static_cast<float>(decode(b, kBF16)); }
uint16_t float_to_bf16_bits(double x) { return static_cast<uint16_t>(encode(x, kBF16)); }
float fp8_bits_to_float(uint8_t v, DType fp8) { return static_cast<float>(decode(v, fp8_format(fp8))); }
uint8_t float_to_fp8_bits(double x, DType fp8) { return static_cast<uint8_t>(encode(x, fp8_format(fp8))); }

double load_as_double(const void* p, DType dtype) {
  switch (dtype) {
    case DType::f64: return read<double>(p);
    case DType::f32: return read<float>(p);
    case DType::f16: return f16_bits_to_float(read<uint16_t>(p));
    case DType::bf16: return bf16_bits_to_float(read<uint16_t>(p));
    case DType::f8e4m3: case DType::f8e5m2: return fp8_bits_to_float(read<uint8_t>(p), dtype);
    case DType::i64: return static_cast<double>(read<int64_t>(p));
    case DType::i32: return read<int32_t>(p);
    case DType::i16: return read<int16_t>(p);
    case DType::i8: return read<int8_t>(p);
    case DType::u8: return read<uint8_t>(p);
    case DType::boolean: return read<uint8_t>(p) ? 1.0 : 0.0;
    case DType::c64: return read<float>(p);
    case DType::c128: return read<double>(p);
  }
  return 0.0;
}

int64_t load_as_int64(const void* p, DType dtype) {
  switch (dtype) {
    case DType::i64: return read<int64_t>(p);
    case DType::i32: return read<int32_t>(p);
    case DType::i16: return read<int16_t>(p);
    case DType::i8: return read<int8_t>(p);
    case DType::u8: return read<uint8_t>(p);
    case DType::boolean: return read<uint8_t>(p) ? 1 : 0;
    default: return saturating_trunc<int64_t>(load_as_double(p, dtype));
  }
}

void store_from_double(void* p, DType dtype, double v) {
  switch (dtype) {
    case DType::f64: write<double>(p, v); return;
    case DType::f32: write<float>(p, static_cast<float>(v)); return;
    case DType::f16: write<uint16_t>(p, float_to_f16_bits(v)); return;
    case DType::bf16: write<uint16_t>(p, float_to_bf16_bits(v)); return;
    case DType::f8e4m3: case DType::f8e5m2: write<uint8_t>(p, float_to_fp8_bits(v, dtype)); return;
    case DType::i64: write<int64_t>(p, saturating_trunc<int64_t>(v)); return;
    case DType::i32: write<int32_t>(p, saturating_trunc<int32_t>(v)); return;
    case DType::i16: write<int16_t>(p, saturating_trunc<int16_t>(v)); return;
    case DType::i8: write<int8_t>(p, saturating_trunc<int8_t>(v)); return;
    case DType::u8: write<uint8_t>(p, saturating_trunc<uint8_t>(v)); return;
    case DType::boolean: write<uint8_t>(p, v != 0.0 ? 1 : 0); return;  // NaN is true
    case DType::c64: write<float>(p, static_cast<float>(v)); write<float>(static_cast<char*>(p) + 4, 0.f); return;
    case DType::c128: write<double>(p, v); write<double>(static_cast<char*>(p) + 8, 0.0); return;
  }
}

void store_from_int64(void* p, DType dtype, int64_t v) {
  switch (dtype) {
    case DType::i64: write<int64_t>(p, v); return;
    case DType::i32: write<int32_t>(p, static_cast<int32_t>(v)); return;  // wraps
    case DType::i16: write<int16_t>(p, static_cast<int16_t>(v)); return;
    case DType::i8: write<int8_t>(p, static_cast<int8_t>(v)); return;
    case DType::u8: write<uint8_t>(p, static_cast<uint8_t>(v)); return;
    case DType::boolean: write<uint8_t>(p, v != 0 ? 1 : 0); return;
    default: store_from_double(p, dtype, static_cast<double>(v)); return;
  }
}

std::complex<double> load_as_complex(const void* p, DType dtype) {
  if (dtype == DType::c64) return {read<float>(p), read<float>(static_cast<const char*>(p) + 4)};
  if (dtype == DType::c128) return {read<double>(p), read<double>(static_cast<const char*>(p) + 8)};
  return {load_as_double(p, dtype), 0.0};
}

void store_from_complex(void* p, DType dtype, std::complex<double> v) {
  switch (dtype) {
    case DType::c64:
      write<float>(p, static_cast<float>(v.real()));
      write<float>(static_cast<char*>(p) + 4, static_cast<float>(v.imag()));
      return;
    case DType::c128:
      write<double>(p, v.real());
      write<double>(static_cast<char*>(p) + 8, v.imag());
      return;
    case DType::boolean: write<uint8_t>(p, (v.real() != 0.0 || v.imag() != 0.0) ? 1 : 0); return;  // NaN is true
    case DType::f8e4m3: case DType::f8e5m2:
      store_from_double(p, dtype, static_cast<double>(static_cast<float>(v.real())));
      return;
    default: store_from_double(p, dtype, v.real()); return;
  }
}

}  // namespace baracuda
