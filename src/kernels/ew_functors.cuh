#pragma once
// Internal: every device functor of the elementwise op table (elementwise_ops.hpp), as
// F##Fwd<C> and, for differentiable ops, F##Bwd<C>, in namespace baracuda::ew::cuda.
// Call signatures by op shape and the compute types are documented in ew_functor_common.cuh
// and at the top of each file.
#include "kernels/ew_functor_common.cuh"
#include "kernels/ew_functors_binary.cuh"
#include "kernels/ew_functors_gated.cuh"
#include "kernels/ew_functors_ternary.cuh"
#include "kernels/ew_functors_unary.cuh"
