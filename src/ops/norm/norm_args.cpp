// Argument checks and SKU strings shared by the norm family's implementations.
#include <string>

#include "ops/norm/norm_impls.hpp"

namespace baracuda {

Status check_norm_args(const std::string& where, const NormSignature& sig, const NormArgs& args, const Device& device,
                       size_t alignment) {
  for (size_t i = 0; i < NormArgs::kMaxInputs; ++i) {
    const std::string name = i < sig.inputs.size() ? " (" + std::string(norm_role_name(sig.input_roles[i])) + ")" : "";
    if (i >= sig.inputs.size()) {
      if (args.inputs[i].defined())
        return invalid_argument(where + "input " + std::to_string(i) + " is given but the op takes " +
                                std::to_string(sig.inputs.size()));
      continue;
    }
    BARACUDA_TRY(check_tensor_arg(where + "input " + std::to_string(i) + name, args.inputs[i], sig.inputs[i], device,
                                  alignment));
  }
  for (size_t i = 0; i < NormArgs::kMaxOutputs; ++i) {
    const TensorMut& o = args.outputs[i];
    if (i >= sig.outputs.size()) {
      if (o.defined())
        return invalid_argument(where + "output " + std::to_string(i) + " is given but the op has " +
                                std::to_string(sig.outputs.size()));
      continue;
    }
    const std::string name = " (" + std::string(norm_role_name(sig.output_roles[i])) + ")";
    BARACUDA_TRY(check_tensor_arg(where + "output " + std::to_string(i) + name, o, sig.outputs[i], device, alignment));
    if (has_internal_overlap(o))
      return invalid_argument(where + "output " + std::to_string(i) + name + " has overlapping elements");
    for (size_t j = 0; j < sig.inputs.size(); ++j)
      if (memory_overlaps(as_ref(o), args.inputs[j]))
        return invalid_argument(where + "output " + std::to_string(i) + name + " overlaps input " + std::to_string(j));
    for (size_t k = i + 1; k < sig.outputs.size(); ++k)
      if (memory_overlaps(as_ref(o), as_ref(args.outputs[k])))
        return invalid_argument(where + "outputs " + std::to_string(i) + " and " + std::to_string(k) + " overlap");
  }
  return Status::ok();
}

std::string norm_sku_dtypes(const NormSignature& sig) {
  std::string s;
  for (size_t i = 0; i < sig.inputs.size(); ++i) s += (i ? "," : "") + std::string(dtype_name(sig.inputs[i].dtype));
  s += "->";
  for (size_t i = 0; i < sig.outputs.size(); ++i) s += (i ? "," : "") + std::string(dtype_name(sig.outputs[i].dtype));
  return s;
}

}  // namespace baracuda
