// Launch group: every elementwise problem computed in complex (c64/c128 compute: complex
// operands, or casts to/from complex), on the strided kernel only. The vectorized kernel is
// tuned for 2- and 4-byte storage; complex traffic is rare enough that one generic path serves it.
#include "kernels/ew_engine.cuh"
#include "kernels/ew_functors_complex.cuh"
#include "ops/elementwise/cuda/ew_launchers.hpp"

namespace baracuda::ew::cuda {
namespace {

template <template <class> class Fn, int NIN, int NOUT>
Status run_complex(const Problem& p, const Bound& b, const LaunchContext& ctx) {
  if (p.sig.compute == DType::c128)
    return launch_strided<Fn<Complex<double>>, Complex<double>, NIN, NOUT>(b, ctx, Fn<Complex<double>>(p.desc.attrs));
  return launch_strided<Fn<Complex<float>>, Complex<float>, NIN, NOUT>(b, ctx, Fn<Complex<float>>(p.desc.attrs));
}

Launcher find_forward(ElementwiseOp op) {
  using Op = ElementwiseOp;
  switch (op) {
    case Op::exp: return &run_complex<CxExpFwd, 1, 1>;
    case Op::log: return &run_complex<CxLogFwd, 1, 1>;
    case Op::sqrt: return &run_complex<CxSqrtFwd, 1, 1>;
    case Op::reciprocal: return &run_complex<CxReciprocalFwd, 1, 1>;
    case Op::sin: return &run_complex<CxSinFwd, 1, 1>;
    case Op::cos: return &run_complex<CxCosFwd, 1, 1>;
    case Op::tanh: return &run_complex<CxTanhFwd, 1, 1>;
    case Op::sigmoid: return &run_complex<CxSigmoidFwd, 1, 1>;
    case Op::abs: return &run_complex<CxAbsFwd, 1, 1>;
    case Op::neg: return &run_complex<CxNegFwd, 1, 1>;
    case Op::square: return &run_complex<CxSquareFwd, 1, 1>;
    case Op::isnan: return &run_complex<CxIsnanFwd, 1, 1>;
    case Op::isinf: return &run_complex<CxIsinfFwd, 1, 1>;
    case Op::isfinite: return &run_complex<CxIsfiniteFwd, 1, 1>;
    case Op::cast: return &run_complex<CxCastFwd, 1, 1>;
    case Op::add: return &run_complex<CxAddFwd, 2, 1>;
    case Op::sub: return &run_complex<CxSubFwd, 2, 1>;
    case Op::mul: return &run_complex<CxMulFwd, 2, 1>;
    case Op::div: return &run_complex<CxDivFwd, 2, 1>;
    case Op::pow: return &run_complex<CxPowFwd, 2, 1>;
    case Op::eq: return &run_complex<CxEqFwd, 2, 1>;
    case Op::ne: return &run_complex<CxNeFwd, 2, 1>;
    case Op::where: return &run_complex<CxWhereFwd, 3, 1>;
    default: return nullptr;
  }
}

Launcher find_backward(ElementwiseOp op) {
  using Op = ElementwiseOp;
  switch (op) {
    case Op::exp: return &run_complex<CxExpBwd, 2, 1>;
    case Op::log: return &run_complex<CxLogBwd, 2, 1>;
    case Op::sqrt: return &run_complex<CxSqrtBwd, 2, 1>;
    case Op::reciprocal: return &run_complex<CxReciprocalBwd, 2, 1>;
    case Op::sin: return &run_complex<CxSinBwd, 2, 1>;
    case Op::cos: return &run_complex<CxCosBwd, 2, 1>;
    case Op::tanh: return &run_complex<CxTanhBwd, 2, 1>;
    case Op::sigmoid: return &run_complex<CxSigmoidBwd, 2, 1>;
    case Op::abs: return &run_complex<CxAbsBwd, 2, 1>;
    case Op::neg: return &run_complex<CxNegBwd, 2, 1>;
    case Op::square: return &run_complex<CxSquareBwd, 2, 1>;
    case Op::add: return &run_complex<CxAddBwd, 3, 2>;
    case Op::sub: return &run_complex<CxSubBwd, 3, 2>;
    case Op::mul: return &run_complex<CxMulBwd, 3, 2>;
    case Op::div: return &run_complex<CxDivBwd, 3, 2>;
    case Op::where: return &run_complex<CxWhereBwd, 4, 3>;
    default: return nullptr;
  }
}

}  // namespace

Launcher find_complex(const Problem& p) {
  if (!is_complex(p.sig.compute)) return nullptr;
  return p.desc.direction == Direction::forward ? find_forward(p.desc.op) : find_backward(p.desc.op);
}

}  // namespace baracuda::ew::cuda
