#pragma once
// Internal: the GEMM epilogue's activations in double (the CPU reference's math).
#include "baracuda/ops/gemm.hpp"

namespace baracuda::gemm {

// relu keeps NaN (torch.relu(NaN) is NaN); gelu_erf: x/2 (1 + erf(x/sqrt 2)); gelu_tanh:
// x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))); silu: x / (1 + exp(-x)).
double apply_activation(GemmActivation act, double x);

}  // namespace baracuda::gemm
