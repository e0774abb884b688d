// The GEMM epilogue's activations in double (gemm_ref_math.hpp).
#include "ops/gemm/ref/gemm_ref_math.hpp"

#include <cmath>
#include <numbers>

namespace baracuda::gemm {

double apply_activation(GemmActivation act, double x) {
  switch (act) {
    case GemmActivation::none: return x;
    case GemmActivation::relu: return std::isnan(x) ? x : (x > 0.0 ? x : 0.0);
    case GemmActivation::gelu_erf: return 0.5 * x * (1.0 + std::erf(x / std::numbers::sqrt2));
    case GemmActivation::gelu_tanh: {
      const double c = std::sqrt(2.0 / std::numbers::pi);
      return 0.5 * x * (1.0 + std::tanh(c * (x + 0.044715 * x * x * x)));
    }
    case GemmActivation::silu: return x / (1.0 + std::exp(-x));
  }
  return x;
}

}  // namespace baracuda::gemm
