// The softmax family's ordered implementation list (fastest first, the CPU reference last) and the
// argument check its implementations share.
#include <string>

#include "ops/softmax/softmax_impls.hpp"

namespace baracuda {
namespace sm {

Status check_softmax_args(const std::string& where, const SoftmaxSignature& sig, const SoftmaxArgs& args,
                          const Device& device) {
  for (size_t i = 0; i < SoftmaxArgs::kMaxInputs; ++i) {
    if (i >= sig.inputs.size()) {
      if (args.inputs[i].defined())
        return invalid_argument(where + "input " + std::to_string(i) + " is given but the op takes " +
                                std::to_string(sig.inputs.size()));
      continue;
    }
    BARACUDA_TRY(check_tensor_arg(where + "input " + std::to_string(i), args.inputs[i], sig.inputs[i], device, 1));
  }
  const TensorMut& o = args.outputs[0];
  BARACUDA_TRY(check_tensor_arg(where + "output 0", o, sig.outputs[0], device, 1));
  if (has_internal_overlap(o)) return invalid_argument(where + "output 0 has overlapping elements");
  for (size_t j = 0; j < sig.inputs.size(); ++j)
    if (memory_overlaps(as_ref(o), args.inputs[j]))
      return invalid_argument(where + "output 0 overlaps input " + std::to_string(j));
  return Status::ok();
}

}  // namespace sm

std::span<const Implementation<SoftmaxFamily>> SoftmaxFamily::implementations() {
  static const Implementation<SoftmaxFamily> impls[] = {
#if BARACUDA_HAS_CUDA
      {"cuda_rows", "baracuda-cuda", DeviceKind::cuda, sm::cuda_rows_supports, sm::cuda_rows_make},
#endif
      {"cpu_reference", "cpu-reference", DeviceKind::cpu, sm::ref_supports, sm::ref_make},
  };
  return impls;
}

}  // namespace baracuda
