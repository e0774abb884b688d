// Forward launcher of any / all / count_nonzero (every input dtype, integer math).
#include "kernels/rd_engine.cuh"

namespace baracuda::rd::cuda {

namespace {

// 1-byte integer inputs (bool, u8, i8) read as raw bytes through the typed engines (16-byte row
// loads counted 4 bytes per instruction, LogicalOp::add_raw): nonzero-ness of such a value is
// nonzero-ness of its byte, whatever its signedness. Everything else, and BARACUDA_REDUCE_FWD=
// legacy, takes the run-time dtype (DynIn) strided kernel, which read a 256 MiB bool tensor at
// 13 GB/s.
bool reads_bytes(const ForwardProblem& p) {
  const bool one_byte = p.x_dtype == DType::boolean || p.x_dtype == DType::u8 || p.x_dtype == DType::i8;
  return one_byte && p.acc == DType::i64 && !p.op.legacy;
}

}  // namespace

Status launch_logical(const ForwardProblem& p, const void* x, const OutputSpec& out, void* partials,
                      const LaunchContext& ctx) {
  if (reads_bytes(p)) return launch_engine<uint8_t>(p, x, out, partials, ctx, LogicalOp<int64_t>(p.op));
  return launch_family<LogicalOp, true>(p, x, out, partials, ctx);
}

}  // namespace baracuda::rd::cuda
