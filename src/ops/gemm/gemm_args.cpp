// The argument check shared by the GEMM implementations (gemm_args.hpp).
#include "ops/gemm/gemm_args.hpp"

#include <algorithm>

namespace baracuda::gemm {
namespace {

template <class T>
Status check_slot(const char* name, const T& t, const std::optional<Operand>& expected, const Device& device,
                  size_t alignment) {
  if (!expected) {
    if (t.defined()) return invalid_argument(kTag + name + " is given but the descriptor has no " + name);
    return Status::ok();
  }
  return check_tensor_arg(kTag + name, t, *expected, device, alignment);
}

// An f32 scalar: shape [] or [1].
template <class T>
Status check_scalar(const char* name, const T& t, const std::optional<Operand>& expected, const Device& device,
                    const std::string& why_needed) {
  if (!expected) {
    if (t.defined()) return invalid_argument(kTag + name + " is given but " + why_needed);
    return Status::ok();
  }
  if (!t.defined()) return invalid_argument(kTag + name + " (an f32 scalar) is required: " + why_needed);
  Operand want = *expected;
  if (t.rank() == 1) want.shape = {1};
  return check_tensor_arg(kTag + name, t, want, device, 4);
}

}  // namespace

bool same_view(const TensorRef& x, const TensorRef& y) {
  if (!x.defined() || !y.defined() || x.data != y.data || x.dtype != y.dtype || x.rank() != y.rank()) return false;
  for (int i = 0; i < x.rank(); ++i)
    if (x.size(i) != y.size(i) || (x.size(i) != 1 && x.stride(i) != y.stride(i))) return false;
  return true;
}

Status check_args(const GemmDescriptor& d, const GemmSignature& sig, const GemmArgs& a, const Device& device) {
  const size_t al = d.alignment;
  BARACUDA_TRY(check_slot("A", a.a, sig.a, device, al));
  BARACUDA_TRY(check_slot("B", a.b, sig.b, device, al));
  BARACUDA_TRY(check_slot("C", a.c, sig.c, device, al));
  BARACUDA_TRY(check_slot("D", a.d, sig.d, device, al));
  BARACUDA_TRY(check_slot("bias", a.bias, sig.bias, device, al));
  BARACUDA_TRY(check_slot("pre_activation", a.pre_activation, sig.pre_activation, device, al));
  BARACUDA_TRY(check_slot("bias_grad", a.bias_grad, sig.bias_grad, device, al));
  const std::string fp8_a = "A is " + std::string(dtype_name(d.a.dtype));
  const std::string fp8_b = "B is " + std::string(dtype_name(d.b.dtype));
  const std::string fp8_d = "D is " + std::string(dtype_name(d.d.dtype));
  // Scales: f32 scalars in the tensor mode, the mode's tensor otherwise (4-byte aligned f32 data).
  if (d.a_scale_mode == GemmScaleMode::tensor)
    BARACUDA_TRY(check_scalar("a_scale", a.a_scale, sig.a_scale, device,
                              sig.a_scale ? fp8_a + " (scales are required for fp8)" : fp8_a + ", not fp8"));
  else
    BARACUDA_TRY(check_slot("a_scale", a.a_scale, sig.a_scale, device, 4));
  if (d.b_scale_mode == GemmScaleMode::tensor)
    BARACUDA_TRY(check_scalar("b_scale", a.b_scale, sig.b_scale, device,
                              sig.b_scale ? fp8_b + " (scales are required for fp8)" : fp8_b + ", not fp8"));
  else
    BARACUDA_TRY(check_slot("b_scale", a.b_scale, sig.b_scale, device, 4));
  BARACUDA_TRY(check_scalar("d_scale", a.d_scale, sig.d_scale, device,
                            sig.d_scale ? fp8_d + " (an fp8 output needs its scale)" : fp8_d + ", not fp8"));
  BARACUDA_TRY(check_scalar("amax", a.amax, sig.amax, device,
                            sig.amax ? std::string("the descriptor asks for amax") : std::string("the descriptor's amax is off")));

  const TensorRef ins[] = {a.a, a.b, a.c, a.bias, a.a_scale, a.b_scale, a.d_scale};
  const char* in_names[] = {"A", "B", "C", "bias", "a_scale", "b_scale", "d_scale"};
  const TensorMut outs[] = {a.d, a.pre_activation, a.bias_grad, a.amax};
  const char* out_names[] = {"D", "pre_activation", "bias_grad", "amax"};
  constexpr int kIns = 7, kOuts = 4;
  for (int o = 0; o < kOuts; ++o) {
    if (!outs[o].defined()) continue;
    if (has_internal_overlap(outs[o])) return invalid_argument(kTag + out_names[o] + " has overlapping elements");
    for (int i = 0; i < kIns; ++i) {
      // In-place addmm: C may be exactly D (each element is read before it is written).
      if (o == 0 && i == 2 && same_view(as_ref(outs[o]), ins[i])) continue;
      if (memory_overlaps(as_ref(outs[o]), ins[i]))
        return invalid_argument(kTag + out_names[o] + " overlaps " + in_names[i]);
    }
    for (int k = o + 1; k < kOuts; ++k)
      if (memory_overlaps(as_ref(outs[o]), as_ref(outs[k])))
        return invalid_argument(kTag + out_names[o] + " and " + out_names[k] + " overlap");
  }
  return Status::ok();
}

}  // namespace baracuda::gemm
