// The reduce family's ordered implementation list (the CUDA engines first, the CPU reference
// last) and the run() argument checks they share.
#include <string>

#include "ops/reduce/reduce_impls.hpp"

namespace baracuda {

std::span<const Implementation<ReduceFamily>> ReduceFamily::implementations() {
  static const Implementation<ReduceFamily> impls[] = {
#if BARACUDA_HAS_CUDA
      {"cuda", "baracuda-cuda", DeviceKind::cuda, rd::cuda_supports, rd::cuda_make},
#endif
      {"cpu_reference", "cpu-reference", DeviceKind::cpu, rd::ref_supports, rd::ref_make},
  };
  return impls;
}

}  // namespace baracuda

namespace baracuda::rd {

Status check_args(const ReduceDescriptor& d, const ReduceSignature& sig, const ReduceArgs& args, const Device& device) {
  const std::string where = "[reduce." + std::string(reduce_op_info(d.op).name) +
                            (d.direction == Direction::backward ? ".backward] " : "] ");
  for (size_t i = 0; i < ReduceArgs::kMaxInputs; ++i) {
    if (i >= sig.inputs.size()) {
      if (args.inputs[i].defined())
        return invalid_argument(where + "input " + std::to_string(i) + " is given but the op takes " +
                                std::to_string(sig.inputs.size()));
      continue;
    }
    BARACUDA_TRY(check_tensor_arg(where + "input " + std::to_string(i), args.inputs[i], sig.inputs[i], device, 1));
  }
  for (size_t i = 0; i < ReduceArgs::kMaxOutputs; ++i) {
    const TensorMut& o = args.outputs[i];
    if (i >= sig.outputs.size()) {
      if (o.defined())
        return invalid_argument(where + "output " + std::to_string(i) + " is given but the op has " +
                                std::to_string(sig.outputs.size()));
      continue;
    }
    BARACUDA_TRY(check_tensor_arg(where + "output " + std::to_string(i), o, sig.outputs[i], device, 1));
    if (has_internal_overlap(o)) return invalid_argument(where + "output " + std::to_string(i) + " has overlapping elements");
    for (size_t j = 0; j < sig.inputs.size(); ++j)
      if (memory_overlaps(as_ref(o), args.inputs[j]))
        return invalid_argument(where + "output " + std::to_string(i) + " overlaps input " + std::to_string(j));
    for (size_t k = i + 1; k < sig.outputs.size(); ++k)
      if (memory_overlaps(as_ref(o), as_ref(args.outputs[k])))
        return invalid_argument(where + "outputs " + std::to_string(i) + " and " + std::to_string(k) + " overlap");
  }
  return Status::ok();
}

}  // namespace baracuda::rd
