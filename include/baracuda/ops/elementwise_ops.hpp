#pragma once
// The elementwise op table: one row per op. Everything that knows about ops (the public enum, the
// metadata table, the CPU reference, the CUDA dispatch, the op catalog) expands this list, so adding
// an op is adding a row plus its math.
//
// X(name, Functor, arity, category, differentiable, torch_name, jax_name)
//   arity: number of tensor-or-scalar inputs of the forward op, as the caller sees it.
//   category decides dtypes (see ElementwiseCategory in elementwise.hpp).
//   differentiable: 1 if a backward exists (zero gradients count, e.g. floor).

#define BARACUDA_ELEMENTWISE_OPS(X)                                                          \
  /* unary math; integer inputs promote to the default float (f32) */                        \
  X(exp, Exp, 1, float_math, 1, "torch.exp", "jax.numpy.exp")                                \
  X(exp2, Exp2, 1, float_math, 1, "torch.exp2", "jax.numpy.exp2")                            \
  X(expm1, Expm1, 1, float_math, 1, "torch.expm1", "jax.numpy.expm1")                        \
  X(log, Log, 1, float_math, 1, "torch.log", "jax.numpy.log")                                \
  X(log2, Log2, 1, float_math, 1, "torch.log2", "jax.numpy.log2")                            \
  X(log10, Log10, 1, float_math, 1, "torch.log10", "jax.numpy.log10")                        \
  X(log1p, Log1p, 1, float_math, 1, "torch.log1p", "jax.numpy.log1p")                        \
  X(sqrt, Sqrt, 1, float_math, 1, "torch.sqrt", "jax.numpy.sqrt")                            \
  X(rsqrt, Rsqrt, 1, float_math, 1, "torch.rsqrt", "jax.lax.rsqrt")                          \
  X(reciprocal, Reciprocal, 1, float_math, 1, "torch.reciprocal", "jax.numpy.reciprocal")    \
  X(sin, Sin, 1, float_math, 1, "torch.sin", "jax.numpy.sin")                                \
  X(cos, Cos, 1, float_math, 1, "torch.cos", "jax.numpy.cos")                                \
  X(tan, Tan, 1, float_math, 1, "torch.tan", "jax.numpy.tan")                                \
  X(asin, Asin, 1, float_math, 1, "torch.asin", "jax.numpy.arcsin")                          \
  X(acos, Acos, 1, float_math, 1, "torch.acos", "jax.numpy.arccos")                          \
  X(atan, Atan, 1, float_math, 1, "torch.atan", "jax.numpy.arctan")                          \
  X(sinh, Sinh, 1, float_math, 1, "torch.sinh", "jax.numpy.sinh")                            \
  X(cosh, Cosh, 1, float_math, 1, "torch.cosh", "jax.numpy.cosh")                            \
  X(tanh, Tanh, 1, float_math, 1, "torch.tanh", "jax.numpy.tanh")                            \
  X(asinh, Asinh, 1, float_math, 1, "torch.asinh", "jax.numpy.arcsinh")                      \
  X(acosh, Acosh, 1, float_math, 1, "torch.acosh", "jax.numpy.arccosh")                      \
  X(atanh, Atanh, 1, float_math, 1, "torch.atanh", "jax.numpy.arctanh")                      \
  X(erf, Erf, 1, float_math, 1, "torch.erf", "jax.scipy.special.erf")                        \
  X(erfc, Erfc, 1, float_math, 1, "torch.erfc", "jax.scipy.special.erfc")                    \
  X(erfinv, Erfinv, 1, float_math, 1, "torch.erfinv", "jax.scipy.special.erfinv")            \
  X(lgamma, Lgamma, 1, float_math, 1, "torch.lgamma", "jax.scipy.special.gammaln")           \
  X(digamma, Digamma, 1, float_math, 1, "torch.digamma", "jax.scipy.special.digamma")        \
  X(sigmoid, Sigmoid, 1, float_math, 1, "torch.sigmoid", "jax.nn.sigmoid")                   \
  X(logit, Logit, 1, float_math, 1, "torch.logit", "jax.scipy.special.logit")                \
  /* unary ops that keep the input dtype (integers allowed) */                               \
  X(abs, Abs, 1, same, 1, "torch.abs", "jax.numpy.abs")                                      \
  X(neg, Neg, 1, same, 1, "torch.neg", "jax.numpy.negative")                                 \
  X(sign, Sign, 1, same, 1, "torch.sign", "jax.numpy.sign")                                  \
  X(square, Square, 1, same, 1, "torch.square", "jax.numpy.square")                         \
  X(floor, Floor, 1, same, 1, "torch.floor", "jax.numpy.floor")                              \
  X(ceil, Ceil, 1, same, 1, "torch.ceil", "jax.numpy.ceil")                                  \
  X(round, Round, 1, same, 1, "torch.round", "jax.numpy.round")                              \
  X(trunc, Trunc, 1, same, 1, "torch.trunc", "jax.numpy.trunc")                              \
  /* unary, floating inputs only */                                                          \
  X(frac, Frac, 1, float_only, 1, "torch.frac", "")                                          \
  X(relu, Relu, 1, float_only, 1, "torch.nn.functional.relu", "jax.nn.relu")                 \
  X(relu6, Relu6, 1, float_only, 1, "torch.nn.functional.relu6", "jax.nn.relu6")             \
  X(leaky_relu, LeakyRelu, 1, float_only, 1, "torch.nn.functional.leaky_relu", "jax.nn.leaky_relu") \
  X(elu, Elu, 1, float_only, 1, "torch.nn.functional.elu", "jax.nn.elu")                     \
  X(selu, Selu, 1, float_only, 1, "torch.nn.functional.selu", "jax.nn.selu")                 \
  X(celu, Celu, 1, float_only, 1, "torch.nn.functional.celu", "jax.nn.celu")                 \
  X(gelu, Gelu, 1, float_only, 1, "torch.nn.functional.gelu", "jax.nn.gelu(approximate=False)") \
  X(gelu_tanh, GeluTanh, 1, float_only, 1, "torch.nn.functional.gelu(approximate='tanh')", "jax.nn.gelu") \
  X(silu, Silu, 1, float_only, 1, "torch.nn.functional.silu", "jax.nn.silu")                 \
  X(mish, Mish, 1, float_only, 1, "torch.nn.functional.mish", "jax.nn.mish")                 \
  X(softplus, Softplus, 1, float_only, 1, "torch.nn.functional.softplus", "jax.nn.softplus") \
  X(softsign, Softsign, 1, float_only, 1, "torch.nn.functional.softsign", "jax.nn.soft_sign") \
  X(hardtanh, Hardtanh, 1, float_only, 1, "torch.nn.functional.hardtanh", "jax.nn.hard_tanh") \
  X(hardsigmoid, Hardsigmoid, 1, float_only, 1, "torch.nn.functional.hardsigmoid", "jax.nn.hard_sigmoid") \
  X(hardswish, Hardswish, 1, float_only, 1, "torch.nn.functional.hardswish", "jax.nn.hard_swish") \
  X(tanhshrink, Tanhshrink, 1, float_only, 1, "torch.nn.functional.tanhshrink", "")          \
  X(softshrink, Softshrink, 1, float_only, 1, "torch.nn.functional.softshrink", "")          \
  X(hardshrink, Hardshrink, 1, float_only, 1, "torch.nn.functional.hardshrink", "")          \
  X(threshold, Threshold, 1, float_only, 1, "torch.nn.functional.threshold", "")             \
  /* unary predicates: bool output, any input dtype */                                       \
  X(isnan, Isnan, 1, predicate, 0, "torch.isnan", "jax.numpy.isnan")                         \
  X(isinf, Isinf, 1, predicate, 0, "torch.isinf", "jax.numpy.isinf")                         \
  X(isfinite, Isfinite, 1, predicate, 0, "torch.isfinite", "jax.numpy.isfinite")             \
  X(logical_not, LogicalNot, 1, predicate, 0, "torch.logical_not", "jax.numpy.logical_not")  \
  /* unary, integers and bool */                                                             \
  X(bitwise_not, BitwiseNot, 1, integer, 0, "torch.bitwise_not", "jax.numpy.bitwise_not")    \
  /* binary ops whose result is the promoted dtype (integers allowed) */                     \
  X(add, Add, 2, same, 1, "torch.add", "jax.numpy.add")                                      \
  X(sub, Sub, 2, same, 1, "torch.sub", "jax.numpy.subtract")                                 \
  X(mul, Mul, 2, same, 1, "torch.mul", "jax.numpy.multiply")                                 \
  X(div_floor, DivFloor, 2, same, 1, "torch.div(rounding_mode='floor')", "jax.numpy.floor_divide") \
  X(div_trunc, DivTrunc, 2, same, 1, "torch.div(rounding_mode='trunc')", "jax.lax.div")      \
  X(pow, Pow, 2, same, 1, "torch.pow", "jax.numpy.power")                                    \
  X(fmod, Fmod, 2, same, 1, "torch.fmod", "jax.numpy.fmod")                                  \
  X(remainder, Remainder, 2, same, 1, "torch.remainder", "jax.numpy.remainder")              \
  X(maximum, Maximum, 2, same, 1, "torch.maximum", "jax.numpy.maximum")                      \
  X(minimum, Minimum, 2, same, 1, "torch.minimum", "jax.numpy.minimum")                      \
  X(fmax, Fmax, 2, same, 1, "torch.fmax", "jax.numpy.fmax")                                  \
  X(fmin, Fmin, 2, same, 1, "torch.fmin", "jax.numpy.fmin")                                  \
  X(clamp_min, ClampMin, 2, same, 1, "torch.clamp_min", "jax.numpy.clip(min)")               \
  X(clamp_max, ClampMax, 2, same, 1, "torch.clamp_max", "jax.numpy.clip(max)")               \
  /* binary, integer inputs promote to the default float */                                  \
  X(div, Div, 2, float_math, 1, "torch.div", "jax.numpy.true_divide")                        \
  X(atan2, Atan2, 2, float_math, 1, "torch.atan2", "jax.numpy.arctan2")                      \
  X(hypot, Hypot, 2, float_math, 1, "torch.hypot", "jax.numpy.hypot")                        \
  X(logaddexp, Logaddexp, 2, float_math, 1, "torch.logaddexp", "jax.numpy.logaddexp")        \
  X(logaddexp2, Logaddexp2, 2, float_math, 1, "torch.logaddexp2", "jax.numpy.logaddexp2")    \
  X(xlogy, Xlogy, 2, float_math, 1, "torch.xlogy", "jax.scipy.special.xlogy")                \
  X(copysign, Copysign, 2, float_math, 1, "torch.copysign", "jax.numpy.copysign")            \
  X(nextafter, Nextafter, 2, float_only, 0, "torch.nextafter", "jax.numpy.nextafter")        \
  /* comparisons and logical ops: bool output */                                             \
  X(eq, Eq, 2, predicate, 0, "torch.eq", "jax.numpy.equal")                                  \
  X(ne, Ne, 2, predicate, 0, "torch.ne", "jax.numpy.not_equal")                              \
  X(lt, Lt, 2, predicate, 0, "torch.lt", "jax.numpy.less")                                   \
  X(le, Le, 2, predicate, 0, "torch.le", "jax.numpy.less_equal")                             \
  X(gt, Gt, 2, predicate, 0, "torch.gt", "jax.numpy.greater")                                \
  X(ge, Ge, 2, predicate, 0, "torch.ge", "jax.numpy.greater_equal")                          \
  X(logical_and, LogicalAnd, 2, predicate, 0, "torch.logical_and", "jax.numpy.logical_and")  \
  X(logical_or, LogicalOr, 2, predicate, 0, "torch.logical_or", "jax.numpy.logical_or")      \
  X(logical_xor, LogicalXor, 2, predicate, 0, "torch.logical_xor", "jax.numpy.logical_xor")  \
  /* bitwise: integers (and bool for and/or/xor) */                                          \
  X(bitwise_and, BitwiseAnd, 2, integer, 0, "torch.bitwise_and", "jax.numpy.bitwise_and")    \
  X(bitwise_or, BitwiseOr, 2, integer, 0, "torch.bitwise_or", "jax.numpy.bitwise_or")        \
  X(bitwise_xor, BitwiseXor, 2, integer, 0, "torch.bitwise_xor", "jax.numpy.bitwise_xor")    \
  X(shift_left, ShiftLeft, 2, integer, 0, "torch.bitwise_left_shift", "jax.numpy.left_shift") \
  X(shift_right, ShiftRight, 2, integer, 0, "torch.bitwise_right_shift", "jax.numpy.right_shift") \
  /* per-channel PReLU: prelu(x, weight), weight of 1 or x.shape[1] elements */              \
  X(prelu, Prelu, 2, prelu, 1, "torch.nn.functional.prelu", "")                              \
  /* ternary */                                                                              \
  X(where, Where, 3, where, 1, "torch.where", "jax.numpy.where")                             \
  X(lerp, Lerp, 3, float_only, 1, "torch.lerp", "")                                          \
  X(clamp, Clamp, 3, same, 1, "torch.clamp", "jax.numpy.clip")                               \
  X(addcmul, Addcmul, 3, same, 1, "torch.addcmul", "")                                       \
  X(addcdiv, Addcdiv, 3, float_only, 1, "torch.addcdiv", "")                                 \
  X(fma, Fma, 3, same, 1, "torch.addcmul(value=1) / a*b+c", "jax.lax.fma")                   \
  /* gated: x is split in halves a, b along attrs.dim; glu = a*sigmoid(b), others act(a)*b */\
  X(glu, Glu, 1, gated, 1, "torch.nn.functional.glu", "jax.nn.glu")                          \
  X(swiglu, Swiglu, 1, gated, 1, "silu(a) * b", "")                                          \
  X(geglu, Geglu, 1, gated, 1, "gelu(a) * b", "")                                            \
  X(geglu_tanh, GegluTanh, 1, gated, 1, "gelu(a, approximate='tanh') * b", "")               \
  X(reglu, Reglu, 1, gated, 1, "relu(a) * b", "")                                            \
  /* dtype conversion (round to nearest even; saturating to fp8, optional scale and amax) */  \
  X(cast, Cast, 1, cast, 1, "torch.Tensor.to", "jax.lax.convert_element_type")
