// The scan family's ordered implementation list (fastest first, the CPU reference last) and the
// argument checks every implementation shares.
#include <string>

#include "core/indexed_args_check.hpp"
#include "ops/scan/scan_impls.hpp"

namespace baracuda {
namespace sc {

std::string tag(const ScanDescriptor& d) {
  return "[scan." + std::string(scan_op_info(d.op).name) + (d.direction == Direction::backward ? ".backward] " : "] ");
}

Status check_scan_args(const ScanDescriptor& d, const ScanSignature& sig, const ScanArgs& args, const Device& device) {
  return check_indexed_args(tag(d), sig.inputs, sig.outputs, args, device);
}

}  // namespace sc

std::span<const Implementation<ScanFamily>> ScanFamily::implementations() {
  static const Implementation<ScanFamily> impls[] = {
#if BARACUDA_HAS_CUDA
      {"cuda_scan", "baracuda-cuda", DeviceKind::cuda, sc::cuda_supports, sc::cuda_make},
#endif
      {"cpu_reference", "cpu-reference", DeviceKind::cpu, sc::ref_supports, sc::ref_make},
  };
  return impls;
}

}  // namespace baracuda
