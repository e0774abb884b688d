// Host conversions shared by the CPU reference and the tests. Narrowing float conversions round
// from double directly (no double rounding through f32).
//
// f16 and bf16 take a fast path by bit arithmetic wherever the value is normal in the target
// format (and not NaN / inf / overflowing), the generic mini-float form (encode / decode below)
// elsewhere. Why: the CPU reference and the tests convert every 16-bit element through these
// functions, and the generic form's frexp / ldexp / nearbyint took over 40% of a GPU test's host
// time (perf, a layer_norm backward case of 2900 x 1024 bf16). Both forms give the same bits for
// every input (ScalarConvert tests: every encoding, and the rounding boundaries around each).
#include "baracuda/core/scalar_convert.hpp"

#include <cmath>
#include <limits>

#include "core/scalar_convert_generic.hpp"

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

uint64_t double_bits(double x) {
  uint64_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}
double double_from_bits(uint64_t u) {
  double x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

// x's bits rounded to nearest even at `fraction_bits` bits of fraction (a normal double; a carry
// out of the fraction raises the exponent, as it should).
uint64_t round_fraction(uint64_t u, int fraction_bits) {
  const int drop = 52 - fraction_bits;
  const uint64_t lsb = (u >> drop) & 1u;
  return (u + ((uint64_t{1} << (drop - 1)) - 1) + lsb) & ~((uint64_t{1} << drop) - 1);
}

// Fast f16 / bf16 encodings: only where x (before rounding) lies in the format's normal range
// (biased double exponent from 1023 + 1 - bias to 1023 + bias), so the result is normal or, after
// rounding up, the format's overflow; anything else (zero, subnormal results, inf, NaN, out of
// range) takes the generic form.
constexpr int kDoubleBias = 1023;

uint16_t bf16_encode(double x) {
  const uint64_t u = double_bits(x);
  const int e = static_cast<int>((u >> 52) & 0x7FF);
  if (e < kDoubleBias + 1 - kBF16.bias || e > kDoubleBias + kBF16.bias) return static_cast<uint16_t>(encode(x, kBF16));
  const double v = double_from_bits(round_fraction(u, kBF16.mant));
  if (std::fabs(v) > kBF16.max_finite) return static_cast<uint16_t>(encode(x, kBF16));  // overflow: inf
  const float f = static_cast<float>(v);  // exact: 8 significant bits and an f32 exponent
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return static_cast<uint16_t>(b >> 16);
}

uint16_t f16_encode(double x) {
  const uint64_t u = double_bits(x);
  const int e = static_cast<int>((u >> 52) & 0x7FF);
  if (e < kDoubleBias + 1 - kF16.bias || e > kDoubleBias + kF16.bias) return static_cast<uint16_t>(encode(x, kF16));
  const uint64_t r = round_fraction(u, kF16.mant);
  if (std::fabs(double_from_bits(r)) > kF16.max_finite) return static_cast<uint16_t>(encode(x, kF16));  // inf
  const uint32_t sign = static_cast<uint32_t>(r >> 63) << 15;
  const uint32_t exp = static_cast<uint32_t>(((r >> 52) & 0x7FF) - kDoubleBias + kF16.bias);
  const uint32_t frac = static_cast<uint32_t>((r >> (52 - kF16.mant)) & ((1u << kF16.mant) - 1));
  return static_cast<uint16_t>(sign | (exp << kF16.mant) | frac);
}

// bf16 is the top half of an f32: exact for every encoding (NaN payloads kept).
float bf16_decode(uint16_t b) {
  const uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// f16 normals and infinities by moving the fields into an f32; zeros, subnormals and NaN generic.
float f16_decode(uint16_t h) {
  const uint32_t e = (h >> kF16.mant) & 0x1Fu;
  if (e == 0 || (e == 0x1Fu && (h & 0x3FFu) != 0)) return static_cast<float>(decode(h, kF16));
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = e == 0x1Fu ? 0xFFu : e - kF16.bias + 127;
  const uint32_t u = sign | (exp << 23) | (static_cast<uint32_t>(h & 0x3FFu) << (23 - kF16.mant));
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

const MiniFloat& narrow_format(DType t) {
  switch (t) {
    case DType::f16: return kF16;
    case DType::bf16: return kBF16;
    case DType::f8e4m3: return kE4M3;
    default: return kE5M2;
  }
}

}  // namespace

namespace detail {
uint32_t narrow_float_encode_generic(double x, DType t) { return encode(x, narrow_format(t)); }
double narrow_float_decode_generic(uint32_t b, DType t) { return decode(b, narrow_format(t)); }
}  // namespace detail

float f16_bits_to_float(uint16_t h) { return f16_decode(h); }
uint16_t float_to_f16_bits(double x) { return f16_encode(x); }
float bf16_bits_to_float(uint16_t b) { return bf16_decode(b); }
uint16_t float_to_bf16_bits(double x) { return bf16_encode(x); }
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
