// The CPU reference for scans: for every line along the scanned axis, gather it through the
// tensors' strides (reversed for reverse scans), scan it in double (int64 for integer scans),
// store each element once in the output dtype. Backward works on the same lines.
#include <memory>
#include <vector>

#include "baracuda/core/scalar_convert.hpp"
#include "ops/scan/ref/scan_ref_math.hpp"
#include "ops/scan/scan_impls.hpp"

namespace baracuda::sc {
namespace {

// The value a torch-style dtype= conversion gives: x rounded/truncated to `compute`.
double convert_through(double v, DType compute) {
  alignas(8) unsigned char tmp[16];
  store_from_double(tmp, compute, v);
  return load_as_double(tmp, compute);
}

class RefScan final : public Executable<ScanFamily> {
 public:
  RefScan(ScanDescriptor d, ScanSignature sig) : d_(std::move(d)), sig_(std::move(sig)) {
    sku_.family = "scan";
    sku_.op = std::string(scan_op_info(d_.op).name) + (d_.direction == Direction::backward ? ".backward" : "");
    for (size_t i = 0; i < sig_.inputs.size(); ++i) sku_.dtypes += (i ? "," : "") + std::string(dtype_name(sig_.inputs[i].dtype));
    sku_.dtypes += "->";
    for (size_t i = 0; i < sig_.outputs.size(); ++i) sku_.dtypes += (i ? "," : "") + std::string(dtype_name(sig_.outputs[i].dtype));
    sku_.layout = "strided";
    sku_.arch = "cpu";
    sku_.backend = "cpu-reference";
    sku_.impl = "cpu_reference";
    sku_.tactic = "one line at a time, sequential";
    pg_.math = sig_.accumulate == DType::i64 ? "i64 math (wrapping), sequential" : "f64 math, sequential, one rounding to the output dtype";
    pg_.accumulator = sig_.accumulate == DType::i64 ? DType::i64 : DType::f64;
    pg_.deterministic = true;
    pg_.bit_stable = true;
  }

  Status can_implement(const ScanArgs& args) const override { return check_scan_args(d_, sig_, args, Device::cpu()); }
  size_t workspace_size() const override { return 0; }
  const KernelSku& sku() const override { return sku_; }
  const PrecisionGuarantee& precision_guarantee() const override { return pg_; }

  Status run(const Stream&, Workspace, const ScanArgs& args) const override {
    const bool bwd = d_.direction == Direction::backward;
    const TensorRef& x = args.inputs[bwd ? 1 : 0];
    const int rank = x.rank();
    const int64_t n = rank == 0 ? 1 : x.size(sig_.axis);
    if (x.numel() == 0) return Status::ok();
    std::vector<int64_t> other_sizes;
    std::vector<int> other_dims;
    for (int i = 0; i < rank; ++i)
      if (i != sig_.axis) other_sizes.push_back(x.size(i)), other_dims.push_back(i);

    // Element offset of line element j (scan order) in a tensor of x's shape.
    auto axis_stride = [&](const auto& t) -> int64_t { return rank == 0 ? 0 : t.stride(sig_.axis); };
    auto pos = [&](int64_t j) { return d_.reverse ? n - 1 - j : j; };
    const bool int_math = sig_.accumulate == DType::i64;
    std::vector<double> fx(n), fy(n), fdy(n);
    std::vector<int64_t> ix(n), iy(n), idx(n);

    std::vector<int64_t> oidx(other_sizes.size(), 0);
    int64_t lines = 1;
    for (int64_t s : other_sizes) lines *= s;
    for (int64_t line = 0; line < lines; ++line) {
      auto base = [&](const auto& t) {
        int64_t off = 0;
        for (size_t k = 0; k < other_dims.size(); ++k) off += oidx[k] * t.stride(other_dims[k]);
        return off;
      };
      auto at = [&](const auto& t, int64_t j) {
        using P = decltype(t.data);
        using Byte = std::conditional_t<std::is_const_v<std::remove_pointer_t<P>>, const char*, char*>;
        return static_cast<Byte>(t.data) + (base(t) + pos(j) * axis_stride(t)) * static_cast<int64_t>(dtype_size(t.dtype));
      };
      if (!bwd && int_math) {
        for (int64_t j = 0; j < n; ++j) ix[j] = load_as_int64(at(x, j), x.dtype);
        sc::ref::scan_int(d_.op, d_.exclusive, ix.data(), n, iy.data(), idx.data());
        for (int64_t j = 0; j < n; ++j) store_from_int64(at(args.outputs[0], j), args.outputs[0].dtype, iy[j]);
      } else {
        for (int64_t j = 0; j < n; ++j) {
          double v = load_as_double(at(x, j), x.dtype);
          fx[j] = sig_.compute == x.dtype ? v : convert_through(v, sig_.compute);
        }
        if (!bwd) {
          sc::ref::scan_float(d_.op, d_.exclusive, fx.data(), n, fy.data(), idx.data());
          for (int64_t j = 0; j < n; ++j) store_from_double(at(args.outputs[0], j), args.outputs[0].dtype, fy[j]);
        } else {
          const TensorRef& dy = args.inputs[0];
          for (int64_t j = 0; j < n; ++j) fdy[j] = load_as_double(at(dy, j), dy.dtype);
          sc::ref::scan_backward(d_.op, d_.exclusive, fx.data(), fdy.data(), n, fy.data());
          for (int64_t j = 0; j < n; ++j) store_from_double(at(args.outputs[0], j), args.outputs[0].dtype, fy[j]);
        }
      }
      if (!bwd && sig_.outputs.size() == 2)  // cummax/cummin indices, as positions in the original order
        for (int64_t j = 0; j < n; ++j) store_from_int64(at(args.outputs[1], j), DType::i64, pos(idx[j]));
      for (size_t k = other_sizes.size(); k-- > 0;) {
        if (++oidx[k] < other_sizes[k]) break;
        oidx[k] = 0;
      }
    }
    return Status::ok();
  }

 private:
  ScanDescriptor d_;
  ScanSignature sig_;
  KernelSku sku_;
  PrecisionGuarantee pg_;
};

}  // namespace

Status ref_supports(const ScanDescriptor&, const Device& device) {
  if (!device.is_cpu()) return not_supported("the CPU reference runs on cpu streams only");
  return Status::ok();
}

Result<ExecPtr> ref_make(const ScanDescriptor& desc, const Device&) {
  BARACUDA_ASSIGN_OR_RETURN(ScanSignature sig, infer_signature(desc));
  return ExecPtr(std::make_shared<RefScan>(desc, std::move(sig)));
}

}  // namespace baracuda::sc
