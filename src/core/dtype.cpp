#include "baracuda/core/dtype.hpp"

namespace baracuda {

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::f64: return "f64";
    case DType::f32: return "f32";
    case DType::f16: return "f16";
    case DType::bf16: return "bf16";
    case DType::f8e4m3: return "f8e4m3";
    case DType::f8e5m2: return "f8e5m2";
    case DType::i64: return "i64";
    case DType::i32: return "i32";
    case DType::i16: return "i16";
    case DType::i8: return "i8";
    case DType::u8: return "u8";
    case DType::boolean: return "bool";
    case DType::c64: return "c64";
    case DType::c128: return "c128";
  }
  return "?";
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (DType t : kAllDTypes)
    if (dtype_name(t) == name) return t;
  return std::nullopt;
}

namespace {
int int_bits(DType t) { return static_cast<int>(dtype_size(t)) * 8; }
// Rank among the real floating types, for promotion: f16 and bf16 tie (they promote to f32).
int float_rank(DType t) { return t == DType::f64 ? 3 : t == DType::f32 ? 2 : 1; }
}  // namespace

std::optional<DType> promote_types(DType a, DType b) {
  if (a == b) return a;
  if (is_fp8(a) || is_fp8(b)) return std::nullopt;  // PyTorch refuses to promote float8
  if (a == DType::boolean) return b;
  if (b == DType::boolean) return a;
  if (is_complex(a) || is_complex(b)) {
    bool wide = a == DType::c128 || b == DType::c128 || a == DType::f64 || b == DType::f64;
    return wide ? DType::c128 : DType::c64;
  }
  if (is_floating(a) && is_floating(b)) {
    if (float_rank(a) != float_rank(b)) return float_rank(a) > float_rank(b) ? a : b;
    return DType::f32;  // f16 with bf16
  }
  if (is_floating(a)) return a;
  if (is_floating(b)) return b;
  // Both integral.
  if (a == DType::u8) std::swap(a, b);
  if (b == DType::u8) return int_bits(a) > 8 ? a : DType::i16;  // u8 with i8 -> i16
  return int_bits(a) >= int_bits(b) ? a : b;
}

bool can_cast(DType from, DType to) {
  if (is_complex(from) && !is_complex(to)) return false;
  if (is_floating(from) && (is_integral(to) || to == DType::boolean)) return false;
  if (from != DType::boolean && to == DType::boolean) return false;
  return true;
}

}  // namespace baracuda
