#pragma once
// Internal: the run() argument checks of the families whose Args index their operands
// (inputs[i], outputs[i]; reduce, scan). Each operand against its signature slot (shape, strides,
// dtype, device, alignment: check_tensor_arg), none given beyond the signature, and no output
// overlapping itself, an input or another output.
#include <string>
#include <vector>

#include "baracuda/core/operand.hpp"
#include "baracuda/core/status.hpp"
#include "baracuda/core/tensor.hpp"

namespace baracuda {

// `where` starts every message (e.g. "[scan.cumsum] ").
template <class Args>
Status check_indexed_args(const std::string& where, const std::vector<Operand>& inputs,
                          const std::vector<Operand>& outputs, const Args& args, const Device& device) {
  for (size_t i = 0; i < Args::kMaxInputs; ++i) {
    if (i >= inputs.size()) {
      if (args.inputs[i].defined())
        return invalid_argument(where + "input " + std::to_string(i) + " is given but the op takes " +
                                std::to_string(inputs.size()));
      continue;
    }
    BARACUDA_TRY(check_tensor_arg(where + "input " + std::to_string(i), args.inputs[i], inputs[i], device, 1));
  }
  for (size_t i = 0; i < Args::kMaxOutputs; ++i) {
    const TensorMut& o = args.outputs[i];
    if (i >= outputs.size()) {
      if (o.defined())
        return invalid_argument(where + "output " + std::to_string(i) + " is given but the op has " +
                                std::to_string(outputs.size()));
      continue;
    }
    BARACUDA_TRY(check_tensor_arg(where + "output " + std::to_string(i), o, outputs[i], device, 1));
    if (has_internal_overlap(o)) return invalid_argument(where + "output " + std::to_string(i) + " has overlapping elements");
    for (size_t j = 0; j < inputs.size(); ++j)
      if (memory_overlaps(as_ref(o), args.inputs[j]))
        return invalid_argument(where + "output " + std::to_string(i) + " overlaps input " + std::to_string(j));
    for (size_t k = i + 1; k < outputs.size(); ++k)
      if (memory_overlaps(as_ref(o), as_ref(args.outputs[k])))
        return invalid_argument(where + "outputs " + std::to_string(i) + " and " + std::to_string(k) + " overlap");
  }
  return Status::ok();
}

}  // namespace baracuda
