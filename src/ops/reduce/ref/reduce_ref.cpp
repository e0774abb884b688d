// The CPU reference for reductions: for every output element, gather its group through the
// input's strides, reduce it in double (int64 for integer ops), store once in the output dtype.
// Backward scatters each group's gradient the same way.
#include <memory>
#include <vector>

#include "baracuda/core/scalar_convert.hpp"
#include "baracuda/ops/reduce.hpp"
#include "ops/reduce/reduce_impls.hpp"
#include "ops/reduce/ref/reduce_ref_math.hpp"

namespace baracuda::rd {
namespace {

// Walks an index space of `sizes` (odometer), calling f(index) for each position.
template <class F>
void for_each_index(const std::vector<int64_t>& sizes, F&& f) {
  int64_t total = 1;
  for (int64_t s : sizes) total *= s;
  std::vector<int64_t> idx(sizes.size(), 0);
  for (int64_t n = 0; n < total; ++n) {
    f(idx);
    for (size_t d = sizes.size(); d-- > 0;) {
      if (++idx[d] < sizes[d]) break;
      idx[d] = 0;
    }
  }
}

class RefReduce final : public Executable<ReduceFamily> {
 public:
  RefReduce(ReduceDescriptor d, ReduceSignature sig) : d_(std::move(d)), sig_(std::move(sig)) {
    sku_.family = "reduce";
    sku_.op = std::string(reduce_op_info(d_.op).name) + (d_.direction == Direction::backward ? ".backward" : "");
    for (size_t i = 0; i < sig_.inputs.size(); ++i) sku_.dtypes += (i ? "," : "") + std::string(dtype_name(sig_.inputs[i].dtype));
    sku_.dtypes += "->";
    for (size_t i = 0; i < sig_.outputs.size(); ++i) sku_.dtypes += (i ? "," : "") + std::string(dtype_name(sig_.outputs[i].dtype));
    sku_.layout = "strided";
    sku_.arch = "cpu";
    sku_.backend = "cpu-reference";
    sku_.impl = "cpu_reference";
    pg_.math = "f64 math (i64 for integer reductions), compensated sums, one rounding to the output dtype";
    pg_.accumulator = sig_.accumulate == DType::i64 ? DType::i64 : DType::f64;
  }

  Status can_implement(const ReduceArgs& args) const override { return check_args(d_, sig_, args, Device::cpu()); }
  size_t workspace_size() const override { return 0; }
  const KernelSku& sku() const override { return sku_; }
  const PrecisionGuarantee& precision_guarantee() const override { return pg_; }

  Status run(const Stream&, Workspace, const ReduceArgs& args) const override {
    const bool bwd = d_.direction == Direction::backward;
    const TensorRef& x = args.inputs[sig_.inputs.size() - 1];
    const int rank = x.rank();
    std::vector<bool> reduced(rank, false);
    for (int a : sig_.axes) reduced[a] = true;
    std::vector<int64_t> kept_sizes, red_sizes;
    std::vector<int> kept_dims, red_dims;
    for (int i = 0; i < rank; ++i) {
      (reduced[i] ? red_sizes : kept_sizes).push_back(x.size(i));
      (reduced[i] ? red_dims : kept_dims).push_back(i);
    }
    const bool int_math = sig_.accumulate == DType::i64;
    const rd::ref::ReduceParams params{d_.correction, d_.p};
    const int64_t el = static_cast<int64_t>(dtype_size(x.dtype));

    // Offset (in elements) of an output element, for outputs of the reduced shape.
    auto out_offset = [&](const TensorView<void*>& t, const std::vector<int64_t>& kept_idx) {
      int64_t off = 0;
      if (d_.keepdim) {
        for (size_t k = 0; k < kept_dims.size(); ++k) off += kept_idx[k] * t.stride(kept_dims[k]);
      } else {
        for (size_t k = 0; k < kept_dims.size(); ++k) off += kept_idx[k] * t.stride(static_cast<int>(k));
      }
      return off;
    };
    auto in_offset = [&](const TensorRef& t, const std::vector<int64_t>& kept_idx) {  // reduced-shape inputs (dy)
      int64_t off = 0;
      for (size_t k = 0; k < kept_dims.size(); ++k) off += kept_idx[k] * t.stride(d_.keepdim ? kept_dims[k] : static_cast<int>(k));
      return off;
    };

    std::vector<int64_t> group_offsets;
    std::vector<double> fv, fdx;
    std::vector<int64_t> iv;
    for_each_index(kept_sizes, [&](const std::vector<int64_t>& kidx) {
      int64_t base = 0;
      for (size_t k = 0; k < kept_dims.size(); ++k) base += kidx[k] * x.stride(kept_dims[k]);
      group_offsets.clear();
      for_each_index(red_sizes, [&](const std::vector<int64_t>& ridx) {
        int64_t off = base;
        for (size_t r = 0; r < red_dims.size(); ++r) off += ridx[r] * x.stride(red_dims[r]);
        group_offsets.push_back(off);
      });
      const int64_t n = static_cast<int64_t>(group_offsets.size());
      const char* xd = static_cast<const char*>(x.data);
      if (!bwd && int_math) {
        iv.resize(n);
        for (int64_t i = 0; i < n; ++i) iv[i] = load_as_int64(xd + group_offsets[i] * el, x.dtype);
        int64_t out[2] = {0, 0};
        rd::ref::reduce_int(d_.op, iv.data(), n, out);
        for (size_t o = 0; o < sig_.outputs.size(); ++o) {
          const TensorMut& t = args.outputs[o];
          store_from_int64(static_cast<char*>(t.data) + out_offset(t, kidx) * static_cast<int64_t>(dtype_size(t.dtype)), t.dtype, out[o]);
        }
        return;
      }
      fv.resize(n);
      for (int64_t i = 0; i < n; ++i) fv[i] = load_as_double(xd + group_offsets[i] * el, x.dtype);
      if (!bwd) {
        double out[2] = {0, 0};
        rd::ref::reduce_float(d_.op, fv.data(), n, params, out);
        for (size_t o = 0; o < sig_.outputs.size(); ++o) {
          const TensorMut& t = args.outputs[o];
          char* p = static_cast<char*>(t.data) + out_offset(t, kidx) * static_cast<int64_t>(dtype_size(t.dtype));
          if (t.dtype == DType::i64) store_from_int64(p, t.dtype, static_cast<int64_t>(out[o]));
          else store_from_double(p, t.dtype, out[o]);
        }
        return;
      }
      double dy[2] = {0, 0};
      for (size_t g = 0; g + 1 < sig_.inputs.size(); ++g) {
        const TensorRef& t = args.inputs[g];
        dy[g] = load_as_double(static_cast<const char*>(t.data) + in_offset(t, kidx) * static_cast<int64_t>(dtype_size(t.dtype)), t.dtype);
      }
      fdx.assign(n, 0.0);
      rd::ref::reduce_backward(d_.op, fv.data(), n, params, dy, fdx.data());
      const TensorMut& dx = args.outputs[0];
      // dx has x's shape: recompute each element's offset with dx's own strides.
      int64_t i = 0;
      int64_t dbase = 0;
      for (size_t k = 0; k < kept_dims.size(); ++k) dbase += kidx[k] * dx.stride(kept_dims[k]);
      for_each_index(red_sizes, [&](const std::vector<int64_t>& ridx) {
        int64_t off = dbase;
        for (size_t r = 0; r < red_dims.size(); ++r) off += ridx[r] * dx.stride(red_dims[r]);
        store_from_double(static_cast<char*>(dx.data) + off * static_cast<int64_t>(dtype_size(dx.dtype)), dx.dtype, fdx[i++]);
      });
    });
    return Status::ok();
  }

 private:
  ReduceDescriptor d_;
  ReduceSignature sig_;
  KernelSku sku_;
  PrecisionGuarantee pg_;
};

}  // namespace

Status ref_supports(const ReduceDescriptor&, const Device& device) {
  if (!device.is_cpu()) return not_supported("the CPU reference runs on cpu streams only");
  return Status::ok();
}

Result<ExecPtr> ref_make(const ReduceDescriptor& desc, const Device&) {
  BARACUDA_ASSIGN_OR_RETURN(ReduceSignature sig, infer_signature(desc));
  return ExecPtr(std::make_shared<RefReduce>(desc, std::move(sig)));
}

}  // namespace baracuda::rd
