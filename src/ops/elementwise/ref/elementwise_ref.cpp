// The CPU reference implementation: plain loops over strides, double-precision math (int64 for
// integer ops), one conversion to the output dtype. It is the oracle for every GPU test and the
// implementation a CPU stream runs.
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "baracuda/core/scalar_convert.hpp"
#include "ops/elementwise/elementwise_impls.hpp"
#include "ops/elementwise/elementwise_problem.hpp"
#include "ops/elementwise/ref/ref_math.hpp"
#include "ops/elementwise/ref/ref_math_complex.hpp"

namespace baracuda::ew {
namespace {

// nextafter in the output's own precision: the result depends on the dtype's spacing.
double nextafter_in(DType dtype, double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<double>::quiet_NaN();
  if (dtype == DType::f64) return std::nextafter(a, b);
  if (dtype == DType::f32) return std::nextafter(static_cast<float>(a), static_cast<float>(b));
  // 16-bit formats: step the bit pattern.
  auto to_bits = [&](double v) { return dtype == DType::f16 ? float_to_f16_bits(v) : float_to_bf16_bits(v); };
  auto from_bits = [&](uint16_t v) { return dtype == DType::f16 ? f16_bits_to_float(v) : bf16_bits_to_float(v); };
  if (a == b) return b;
  if (a == 0.0) return from_bits(static_cast<uint16_t>(std::signbit(b) ? 0x8001 : 0x0001));
  uint16_t bits = to_bits(a);
  bool away_from_zero = (a < b) == (a > 0);
  bits = static_cast<uint16_t>(away_from_zero ? bits + 1 : bits - 1);
  return from_bits(bits);
}

class RefExecutable final : public Executable<ElementwiseFamily> {
 public:
  explicit RefExecutable(Problem p) : p_(std::move(p)) {
    sku_ = make_sku(p_, "cpu_reference", "cpu-reference", "strided", "cpu");
    pg_.math = "f64 math (i64 for integer ops), one rounding to the output dtype";
    pg_.accumulator = p_.int_compute() ? DType::i64 : is_complex(p_.sig.compute) ? DType::c128 : DType::f64;
    if (is_complex(p_.sig.compute)) pg_.math = "complex<double> math, one rounding of each part to the output dtype";
  }
  Status can_implement(const ElementwiseArgs& args) const override { return check_args(p_, args, Device::cpu()); }
  size_t workspace_size() const override { return 0; }
  const KernelSku& sku() const override { return sku_; }
  const PrecisionGuarantee& precision_guarantee() const override { return pg_; }

  Status run(const Stream&, Workspace, const ElementwiseArgs& args) const override {
    const Bound b = bind(p_, args);
    if (is_complex(p_.sig.compute)) {
      run_complex_reference(p_, b);
      return Status::ok();
    }
    const ElementwiseOp op = p_.desc.op;
    const Direction dir = p_.desc.direction;
    const bool is_int = p_.int_compute();
    const bool is_cast = p_.info.category == ElementwiseCategory::cast;
    std::vector<double> dweight(b.prelu_dweight ? static_cast<size_t>(b.prelu_channels) : 0, 0.0);
    double amax = 0.0;

    Dims idx{};
    for (int64_t n = 0; n < b.numel; ++n) {
      double fin[kMaxKernelInputs] = {}, fout[kMaxKernelOutputs] = {};
      int64_t iin[kMaxKernelInputs] = {}, iout[kMaxKernelOutputs] = {};
      const char* in_ptr[kMaxKernelInputs] = {};
      for (int i = 0; i < b.nin; ++i) {
        const BoundInput& in = b.in[i];
        if (in.is_scalar) {
          fin[i] = in.f;
          iin[i] = in.i;
          continue;
        }
        int64_t off = 0;
        for (int d = 0; d < b.rank; ++d) off += idx[d] * in.strides[d];
        in_ptr[i] = in.data + off * static_cast<int64_t>(dtype_size(in.dtype));
        if (is_int) iin[i] = load_as_int64(in_ptr[i], in.dtype);
        else fin[i] = load_as_double(in_ptr[i], in.dtype);
      }
      if (is_cast && is_int) {
        iout[0] = iin[0];
      } else if (is_int) {
        ref::eval_int(op, p_.desc.attrs, iin, iout);
      } else {
        ref::eval_float(op, dir, p_.desc.attrs, fin, fout);
        if (op == ElementwiseOp::nextafter) fout[0] = nextafter_in(b.out[0].dtype, fin[0], fin[1]);
        if (b.amax) amax = (std::isnan(fin[0]) || std::isnan(amax)) ? std::numeric_limits<double>::quiet_NaN()
                                                                      : std::max(amax, std::fabs(fin[0]));
      }
      for (int o = 0; o < b.nout; ++o) {
        const BoundOutput& out = b.out[o];
        if (!out.data) continue;
        int64_t off = 0;
        for (int d = 0; d < b.rank; ++d) off += idx[d] * out.strides[d];
        char* ptr = out.data + off * static_cast<int64_t>(dtype_size(out.dtype));
        if (is_int) store_from_int64(ptr, out.dtype, iout[o]);
        else store_from_double(ptr, out.dtype, fout[o]);
      }
      if (b.prelu_dweight) dweight[b.prelu_channel_dim >= 0 ? idx[b.prelu_channel_dim] : 0] += fout[1];
      for (int d = b.rank - 1; d >= 0; --d) {  // odometer
        if (++idx[d] < b.sizes[d]) break;
        idx[d] = 0;
      }
    }
    if (b.prelu_dweight)
      for (int64_t c = 0; c < b.prelu_channels; ++c)
        store_from_double(b.prelu_dweight + c * static_cast<int64_t>(dtype_size(b.prelu_dweight_dtype)),
                          b.prelu_dweight_dtype, dweight[c]);
    if (b.amax) *b.amax = static_cast<float>(amax);
    return Status::ok();
  }

 private:
  Problem p_;
  KernelSku sku_;
  PrecisionGuarantee pg_;
};

}  // namespace

Status ref_supports(const ElementwiseDescriptor&, const Device& device) {
  if (!device.is_cpu()) return not_supported("the CPU reference runs on cpu streams only");
  return Status::ok();
}

Result<std::shared_ptr<const Executable<ElementwiseFamily>>> ref_make(const ElementwiseDescriptor& desc, const Device&) {
  BARACUDA_ASSIGN_OR_RETURN(Problem p, resolve(desc));
  return std::shared_ptr<const Executable<ElementwiseFamily>>(std::make_shared<RefExecutable>(std::move(p)));
}

}  // namespace baracuda::ew
