// The run() argument check shared by the grouped GEMM implementations (grouped_gemm_args.hpp).
#include "ops/grouped_gemm/grouped_gemm_args.hpp"

namespace baracuda::grouped_gemm {

ExpectedOperands expected_operands(const GroupedGemmDescriptor& d, const GroupedGemmSignature& sig) {
  ExpectedOperands e{d.a, d.b, Operand::tensor(d.offsets_dtype, {sig.groups + 1}), d.d, std::nullopt};
  if (d.status) e.status = Operand::tensor(DType::i32, {});
  return e;
}

Status check_args(const GroupedGemmDescriptor& d, const GroupedGemmSignature& sig, const GroupedGemmArgs& a,
                  const Device& device) {
  const ExpectedOperands e = expected_operands(d, sig);
  BARACUDA_TRY(check_tensor_arg(kTag + "A", a.a, e.a, device, d.alignment));
  BARACUDA_TRY(check_tensor_arg(kTag + "B", a.b, e.b, device, d.alignment));
  BARACUDA_TRY(check_tensor_arg(kTag + "group_offsets", a.group_offsets, e.offsets, device, dtype_size(d.offsets_dtype)));
  BARACUDA_TRY(check_tensor_arg(kTag + "D", a.d, e.d, device, d.alignment));
  if (!e.status) {
    if (a.status.defined())
      return invalid_argument(kTag + "status is given but the descriptor's status flag is false");
  } else {
    if (!a.status.defined())
      return invalid_argument(kTag + "status (an i32 scalar output) is required: the descriptor's status flag is true");
    Operand want = *e.status;
    if (a.status.rank() == 1) want.shape = {1};
    BARACUDA_TRY(check_tensor_arg(kTag + "status", a.status, want, device, 4));
  }
  if (has_internal_overlap(a.d)) return invalid_argument(kTag + "D has overlapping elements");
  const TensorRef ins[] = {a.a, a.b, a.group_offsets, as_ref(a.status)};
  const char* names[] = {"A", "B", "group_offsets", "status"};
  for (int i = 0; i < 4; ++i)
    if (memory_overlaps(as_ref(a.d), ins[i])) return invalid_argument(kTag + "D overlaps " + names[i]);
  if (a.status.defined() && (memory_overlaps(as_ref(a.status), a.a) || memory_overlaps(as_ref(a.status), a.b) ||
                             memory_overlaps(as_ref(a.status), a.group_offsets)))
    return invalid_argument(kTag + "status overlaps an input");
  return Status::ok();
}

}  // namespace baracuda::grouped_gemm
