// The argument check shared by the loss implementations (loss_args.hpp).
#include "ops/loss/loss_args.hpp"

namespace baracuda::loss {
namespace {

template <class T>
Status check_slot(const std::string& where, const char* name, const T& t, const std::optional<Operand>& expected,
                  const Device& device, bool optional) {
  if (!expected) {
    if (t.defined()) return invalid_argument(where + name + " is given but this op takes none");
    return Status::ok();
  }
  if (optional && !t.defined()) return Status::ok();
  return check_tensor_arg(where + name, t, *expected, device, 1);
}

}  // namespace

std::string tag(const LossDescriptor& d) {
  std::string s = "[loss." + std::string(loss_op_info(d.op).name);
  if (d.direction == Direction::backward) s += ".backward";
  else if (d.fused_backward) s += ".fused_backward";
  return s + "] ";
}

Status check_args(const LossDescriptor& d, const LossSignature& sig, const LossArgs& a, const Device& device) {
  const std::string where = tag(d);
  BARACUDA_TRY(check_slot(where, "input", a.input, sig.input, device, false));
  BARACUDA_TRY(check_slot(where, "other", a.other, sig.other, device, false));
  BARACUDA_TRY(check_slot(where, "target", a.target, sig.target, device, false));
  BARACUDA_TRY(check_slot(where, "weight", a.weight, sig.weight, device, false));
  BARACUDA_TRY(check_slot(where, "pos_weight", a.pos_weight, sig.pos_weight, device, false));
  BARACUDA_TRY(check_slot(where, "grad_loss", a.grad_loss, sig.grad_loss, device, d.fused_backward));
  BARACUDA_TRY(check_slot(where, "loss", a.loss, sig.loss, device, false));
  BARACUDA_TRY(check_slot(where, "grad_input", a.grad_input, sig.grad_input, device, false));
  BARACUDA_TRY(check_slot(where, "grad_other", a.grad_other, sig.grad_other, device, false));
  const TensorRef ins[] = {a.input, a.other, a.target, a.weight, a.pos_weight, a.grad_loss};
  const char* in_names[] = {"input", "other", "target", "weight", "pos_weight", "grad_loss"};
  const TensorMut outs[] = {a.loss, a.grad_input, a.grad_other};
  const char* out_names[] = {"loss", "grad_input", "grad_other"};
  for (int o = 0; o < 3; ++o) {
    if (!outs[o].defined()) continue;
    if (has_internal_overlap(outs[o])) return invalid_argument(where + out_names[o] + " has overlapping elements");
    for (int i = 0; i < 6; ++i)
      if (memory_overlaps(as_ref(outs[o]), ins[i]))
        return invalid_argument(where + out_names[o] + " overlaps " + in_names[i]);
    for (int k = o + 1; k < 3; ++k)
      if (memory_overlaps(as_ref(outs[o]), as_ref(outs[k])))
        return invalid_argument(where + out_names[o] + " and " + out_names[k] + " overlap");
  }
  return Status::ok();
}

}  // namespace baracuda::loss
