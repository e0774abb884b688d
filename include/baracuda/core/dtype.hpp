#pragma once
// Element types and their traits.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace baracuda {

enum class DType : uint8_t {
  f64, f32, f16, bf16, f8e4m3, f8e5m2,
  i64, i32, i16, i8, u8, boolean,
  c64, c128,
};
inline constexpr int kNumDTypes = 14;
inline constexpr DType kAllDTypes[kNumDTypes] = {
    DType::f64, DType::f32, DType::f16, DType::bf16, DType::f8e4m3, DType::f8e5m2, DType::i64,
    DType::i32, DType::i16, DType::i8,  DType::u8,   DType::boolean, DType::c64,  DType::c128};

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::f64: case DType::i64: case DType::c64: return 8;
    case DType::c128: return 16;
    case DType::f32: case DType::i32: return 4;
    case DType::f16: case DType::bf16: case DType::i16: return 2;
    default: return 1;
  }
}
constexpr bool is_floating(DType t) { return t <= DType::f8e5m2; }  // fp8 included
constexpr bool is_fp8(DType t) { return t == DType::f8e4m3 || t == DType::f8e5m2; }
// f64, f32, f16 or bf16: the floating dtypes (fp8 aside) most ops compute in.
constexpr bool is_plain_floating(DType t) {
  return t == DType::f64 || t == DType::f32 || t == DType::f16 || t == DType::bf16;
}
constexpr bool is_complex(DType t) { return t == DType::c64 || t == DType::c128; }
constexpr bool is_integral(DType t) { return t >= DType::i64 && t <= DType::u8; }  // bool excluded
constexpr bool is_signed_integral(DType t) { return t >= DType::i64 && t <= DType::i8; }

// The dtype reductions and elementwise math accumulate in: f64 for f64, f32 for the other floats,
// i64 for integers and bool, c128/c64 for complex.
constexpr DType accumulator_dtype(DType t) {
  if (t == DType::f64) return DType::f64;
  if (is_floating(t)) return DType::f32;
  if (is_complex(t)) return t;
  return DType::i64;
}

std::string_view dtype_name(DType t);             // "bf16", "f8e4m3", "bool", ...
std::optional<DType> dtype_from_name(std::string_view name);

// PyTorch's promote_types for two tensor dtypes. nullopt where PyTorch refuses (fp8 mixed with
// any other dtype).
std::optional<DType> promote_types(DType a, DType b);

// PyTorch's can_cast: whether a result of dtype `from` may be written to an output of dtype `to`
// (no float->integral, complex->real, or non-bool->bool narrowing of category).
bool can_cast(DType from, DType to);

}  // namespace baracuda
