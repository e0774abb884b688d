#include "baracuda/core/sku.hpp"

namespace baracuda {

std::string KernelSku::to_string() const {
  std::string s = family + "." + op + " " + dtypes + " " + layout;
  if (!epilogue.empty()) s += " +" + epilogue;
  s += " " + arch + " " + backend + "/" + impl;
  if (!tactic.empty()) s += " [" + tactic + "]";
  return s;
}

std::string PrecisionGuarantee::to_string() const {
  return math + "; accumulates in " + std::string(dtype_name(accumulator)) +
         (deterministic ? "; deterministic" : "; not deterministic") + (bit_stable ? "; bit-stable" : "");
}

}  // namespace baracuda
