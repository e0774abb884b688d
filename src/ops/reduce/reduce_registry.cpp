// The reduce family's ordered implementation list (the CUDA engines first, the CPU reference
// last) and the run() argument checks they share.
#include <string>

#include "core/indexed_args_check.hpp"
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
  return check_indexed_args(where, sig.inputs, sig.outputs, args, device);
}

}  // namespace baracuda::rd
