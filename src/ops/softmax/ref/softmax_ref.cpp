// The CPU reference for softmax: every row along the dim is gathered through each tensor's own
// strides (the mask broadcast to x), computed in double (ref/softmax_ref_math), and stored once
// in the output dtype.
#include <cmath>
#include <memory>
#include <optional>
#include <vector>

#include "baracuda/core/scalar_convert.hpp"
#include "ops/softmax/ref/softmax_ref_math.hpp"
#include "ops/softmax/softmax_impls.hpp"
#include "ops/softmax/softmax_rows.hpp"

namespace baracuda::sm {
namespace {

std::string tag(const SoftmaxDescriptor& d) {
  return "[softmax." + std::string(softmax_op_info(d.op).name) + (d.direction == Direction::backward ? ".backward] " : "] ");
}

// One tensor seen as rows: base pointer, dtype, row strides.
struct RowTensor {
  const char* data;
  DType dtype;
  RowStrides s;
  int64_t esize() const { return static_cast<int64_t>(dtype_size(dtype)); }
  const char* at(const RowView& v, int64_t row, int64_t i) const {
    return data + (row_offset(v, s, row) + i * s.along) * esize();
  }
};

RowTensor row_tensor(const TensorRef& t, int dim) {
  return {static_cast<const char*>(t.data), t.dtype, row_strides(t.layout.stride(), dim)};
}

class RefSoftmax final : public Executable<SoftmaxFamily> {
 public:
  RefSoftmax(SoftmaxDescriptor d, SoftmaxSignature sig) : d_(std::move(d)), sig_(std::move(sig)) {
    sku_.family = "softmax";
    sku_.op = std::string(softmax_op_info(d_.op).name) + (d_.direction == Direction::backward ? ".backward" : "");
    for (size_t i = 0; i < sig_.inputs.size(); ++i) sku_.dtypes += (i ? "," : "") + std::string(dtype_name(sig_.inputs[i].dtype));
    sku_.dtypes += "->" + std::string(dtype_name(sig_.outputs[0].dtype));
    sku_.layout = "strided";
    sku_.arch = "cpu";
    sku_.backend = "cpu-reference";
    sku_.impl = "cpu_reference";
    pg_.math = "f64 math, compensated sums, one rounding to the output dtype";
    pg_.accumulator = DType::f64;
  }

  Status can_implement(const SoftmaxArgs& args) const override {
    return check_softmax_args(tag(d_), sig_, args, Device::cpu());
  }
  size_t workspace_size() const override { return 0; }
  const KernelSku& sku() const override { return sku_; }
  const PrecisionGuarantee& precision_guarantee() const override { return pg_; }

  Status run(const Stream&, Workspace, const SoftmaxArgs& args) const override {
    const TensorMut& out = args.outputs[0];
    const RowView v = make_row_view(out.shape(), sig_.dim);
    const bool bwd = d_.direction == Direction::backward;
    const bool log = d_.op == SoftmaxOp::log_softmax;
    const size_t rank = out.shape().size();
    std::optional<RowTensor> mask;
    if (d_.mask) {
      const TensorRef& m = args.inputs[sig_.inputs.size() - 1];
      const auto bs = broadcast_strides(m.shape(), m.layout.stride(), rank);
      mask = RowTensor{static_cast<const char*>(m.data), m.dtype, row_strides(bs, sig_.dim)};
    }
    const RowTensor in0 = row_tensor(args.inputs[0], sig_.dim);
    const RowTensor in1 = bwd ? row_tensor(args.inputs[1], sig_.dim) : in0;
    const RowTensor o{static_cast<const char*>(out.data), out.dtype, row_strides(out.layout.stride(), sig_.dim)};
    char* const obase = static_cast<char*>(out.data);

    std::vector<double> a(v.n), b(v.n), r(v.n);
    std::vector<bool> keep(v.n, true);
    for (int64_t row = 0; row < v.rows; ++row) {
      for (int64_t i = 0; i < v.n; ++i) {
        a[i] = load_as_double(in0.at(v, row, i), in0.dtype);
        if (bwd) b[i] = load_as_double(in1.at(v, row, i), in1.dtype);
        if (mask) {
          const char* mp = mask->at(v, row, i);
          keep[i] = mask->dtype == DType::boolean ? *reinterpret_cast<const uint8_t*>(mp) != 0 : true;
          if (!bwd) {
            if (mask->dtype != DType::boolean) b[i] = load_as_double(mp, mask->dtype);
          }
        }
      }
      if (!bwd) {
        for (int64_t i = 0; i < v.n; ++i) {
          double x = a[i];
          if (sig_.output_dtype != in0.dtype) x = round_to(x, sig_.output_dtype);  // torch's dtype= converts first
          double z = x / d_.temperature;
          if (mask) z = mask->dtype == DType::boolean ? (keep[i] ? z : -INFINITY) : z + b[i];
          a[i] = z;
        }
        ref::forward_row(log, a.data(), v.n, r.data());
      } else {
        ref::backward_row(log, a.data(), b.data(), v.n, 1.0 / d_.temperature, r.data());
        if (mask && mask->dtype == DType::boolean)
          for (int64_t i = 0; i < v.n; ++i)
            if (!keep[i]) r[i] = 0.0;
      }
      const int64_t oe = o.esize();
      for (int64_t i = 0; i < v.n; ++i)
        store_from_double(obase + (row_offset(v, o.s, row) + i * o.s.along) * oe, out.dtype, r[i]);
    }
    return Status::ok();
  }

 private:
  static double round_to(double x, DType t) {
    alignas(8) unsigned char buf[8];
    store_from_double(buf, t, x);
    return load_as_double(buf, t);
  }

  SoftmaxDescriptor d_;
  SoftmaxSignature sig_;
  KernelSku sku_;
  PrecisionGuarantee pg_;
};

}  // namespace

Status ref_supports(const SoftmaxDescriptor&, const Device& device) {
  if (!device.is_cpu()) return not_supported("the CPU reference runs on cpu streams only");
  return Status::ok();
}

Result<ExecPtr> ref_make(const SoftmaxDescriptor& desc, const Device&) {
  BARACUDA_ASSIGN_OR_RETURN(SoftmaxSignature sig, infer_signature(desc));
  return ExecPtr(std::make_shared<RefSoftmax>(desc, std::move(sig)));
}

}  // namespace baracuda::sm
