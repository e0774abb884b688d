// The CPU reference GEMM: every operand read through its strides (broadcast batch dims included),
// products summed in double (int64 for the integer GEMM) in k order, the whole epilogue in double,
// one rounding to each output's dtype.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "baracuda/core/scalar_convert.hpp"
#include "ops/gemm/gemm_args.hpp"
#include "ops/gemm/gemm_impls.hpp"
#include "ops/gemm/ref/gemm_ref_math.hpp"

namespace baracuda::gemm {
namespace {

// Element offset of a batched matrix view at batch position `bidx` (indices into the broadcast
// batch shape, right-aligned against the view's leading dims; size-1 dims broadcast).
int64_t batch_offset(const Layout& l, const std::vector<int64_t>& bidx, int matrix_dims) {
  const int nb = static_cast<int>(bidx.size());
  const int lb = l.rank - matrix_dims;  // the view's batch dims
  int64_t off = 0;
  for (int i = 0; i < lb; ++i) {
    const int j = nb - lb + i;  // matching position in bidx
    if (j < 0 || l.sizes[i] == 1) continue;
    off += bidx[j] * l.strides[i];
  }
  return off;
}

template <class View>
const char* byte_ptr(const View& t, int64_t elem_off) {
  return static_cast<const char*>(t.data) + elem_off * static_cast<int64_t>(dtype_size(t.dtype));
}
char* byte_ptr_mut(const TensorMut& t, int64_t elem_off) {
  return static_cast<char*>(t.data) + elem_off * static_cast<int64_t>(dtype_size(t.dtype));
}

// Stride of one of the last two dims (0 where that dim broadcasts or is absent: C of rank < 2).
int64_t tail_stride(const Layout& l, int from_end) {
  const int dim = l.rank - from_end;
  if (dim < 0 || l.sizes[dim] == 1) return 0;
  return l.strides[dim];
}

class RefGemm final : public Executable<GemmFamily> {
 public:
  RefGemm(GemmDescriptor d, GemmSignature sig) : d_(std::move(d)), sig_(std::move(sig)) {
    sku_.family = "gemm";
    sku_.op = "gemm";
    sku_.dtypes = std::string(dtype_name(d_.a.dtype)) + "," + std::string(dtype_name(d_.b.dtype)) + "->" +
                  std::string(dtype_name(d_.d.dtype));
    sku_.layout = "strided";
    sku_.epilogue = epilogue_name();
    sku_.arch = "cpu";
    sku_.backend = "cpu-reference";
    sku_.impl = "cpu_reference";
    pg_.math = sig_.integer ? "exact int64 sums, wrapped to int32 once"
                            : "f64 products and sums in k order, f64 epilogue, one rounding to the output dtype";
    pg_.accumulator = sig_.integer ? DType::i64 : DType::f64;
  }

  Status can_implement(const GemmArgs& args) const override { return check_args(d_, sig_, args, Device::cpu()); }
  size_t workspace_size() const override { return 0; }
  const KernelSku& sku() const override { return sku_; }
  const PrecisionGuarantee& precision_guarantee() const override { return pg_; }

  Status run(const Stream&, Workspace, const GemmArgs& a) const override {
    if (sig_.integer) return run_integer(a);
    return run_float(a);
  }

 private:
  std::string epilogue_name() const {
    std::string e;
    auto add = [&](const std::string& s) { e += (e.empty() ? "" : "+") + s; };
    if (d_.beta != 0.0) add("beta_c");
    if (d_.bias) add("bias_" + std::string(gemm_vector_axis_name(d_.bias_axis)));
    if (d_.activation != GemmActivation::none) add(std::string(gemm_activation_name(d_.activation)));
    if (d_.pre_activation) add("pre_activation");
    if (d_.bias_grad) add("bias_grad_" + std::string(gemm_vector_axis_name(d_.bias_grad_axis)));
    if (d_.amax) add("amax");
    return e;
  }

  // Batch positions, in row-major order of the broadcast batch shape.
  std::vector<int64_t> unravel(int64_t linear) const {
    std::vector<int64_t> idx(sig_.batch_shape.size());
    for (size_t i = idx.size(); i-- > 0;) {
      idx[i] = linear % sig_.batch_shape[i];
      linear /= sig_.batch_shape[i];
    }
    return idx;
  }

  // op(A) of one batch entry as an M x K row-major array, op(B) as N x K (k contiguous for both).
  template <class T, class Load>
  void load_operands(const GemmArgs& a, const std::vector<int64_t>& bidx, std::vector<T>& am, std::vector<T>& bt,
                     Load load) const {
    const int64_t M = sig_.m, N = sig_.n, K = sig_.k;
    const int64_t oa = batch_offset(a.a.layout, bidx, 2), ob = batch_offset(a.b.layout, bidx, 2);
    const int64_t ars = a.a.layout.strides[a.a.rank() - 2], acs = a.a.layout.strides[a.a.rank() - 1];
    const int64_t brs = a.b.layout.strides[a.b.rank() - 2], bcs = a.b.layout.strides[a.b.rank() - 1];
    am.resize(static_cast<size_t>(M * K));
    bt.resize(static_cast<size_t>(N * K));
    for (int64_t m = 0; m < M; ++m)
      for (int64_t k = 0; k < K; ++k) am[m * K + k] = load(byte_ptr(a.a, oa + m * ars + k * acs), a.a.dtype);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k) bt[n * K + k] = load(byte_ptr(a.b, ob + k * brs + n * bcs), a.b.dtype);
  }

  // The scale of element (row, k) of op(A) (is_a) or (k, col) of op(B), for a non-tensor mode.
  static double block_scale(const TensorRef& t, GemmScaleMode mode, bool is_a, int64_t outer, int64_t k) {
    int64_t o = outer, kk = k / 128;
    if (mode == GemmScaleMode::outer_vector) kk = 0;
    if (mode == GemmScaleMode::block_128x128) o = outer / 128;
    const int64_t i0 = is_a ? o : kk, i1 = is_a ? kk : o;
    return load_as_double(byte_ptr(t, i0 * t.stride(0) + i1 * t.stride(1)), t.dtype);
  }

  // Folds the per-row / per-block scales into the loaded operands (am: M x K, bt: N x K).
  void apply_block_scales(const GemmArgs& a, std::vector<double>& am, std::vector<double>& bt) const {
    const int64_t M = sig_.m, N = sig_.n, K = sig_.k;
    if (d_.a_scale_mode != GemmScaleMode::tensor)
      for (int64_t m = 0; m < M; ++m)
        for (int64_t k = 0; k < K; ++k) am[m * K + k] *= block_scale(a.a_scale, d_.a_scale_mode, true, m, k);
    if (d_.b_scale_mode != GemmScaleMode::tensor)
      for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < K; ++k) bt[n * K + k] *= block_scale(a.b_scale, d_.b_scale_mode, false, n, k);
  }

  Status run_float(const GemmArgs& a) const {
    const int64_t M = sig_.m, N = sig_.n, K = sig_.k;
    const auto scalar = [](const TensorRef& t, GemmScaleMode mode) {
      return t.defined() && mode == GemmScaleMode::tensor ? load_as_double(t.data, t.dtype) : 1.0;
    };
    const double ab_scale = d_.alpha * scalar(a.a_scale, d_.a_scale_mode) * scalar(a.b_scale, d_.b_scale_mode);
    const double d_scale = scalar(a.d_scale, GemmScaleMode::tensor);
    const bool read_c = d_.beta != 0.0 && a.c.defined();
    const int64_t c_rs = read_c ? tail_stride(a.c.layout, 2) : 0, c_cs = read_c ? tail_stride(a.c.layout, 1) : 0;
    const int64_t d_rs = a.d.layout.strides[a.d.rank() - 2], d_cs = a.d.layout.strides[a.d.rank() - 1];
    const bool aux = a.pre_activation.defined();
    const int64_t p_rs = aux ? a.pre_activation.layout.strides[a.pre_activation.rank() - 2] : 0;
    const int64_t p_cs = aux ? a.pre_activation.layout.strides[a.pre_activation.rank() - 1] : 0;
    std::vector<double> bias;
    if (a.bias.defined()) {
      const int64_t len = a.bias.size(0);
      for (int64_t i = 0; i < len; ++i) bias.push_back(load_as_double(byte_ptr(a.bias, i * a.bias.stride(0)), a.bias.dtype));
    }
    const bool bias_rows = d_.bias_axis == GemmVectorAxis::rows;
    double amax = 0.0;
    std::vector<double> am, bt;
    for (int64_t bi = 0; bi < sig_.batch; ++bi) {
      const std::vector<int64_t> bidx = unravel(bi);
      load_operands(a, bidx, am, bt, [](const void* p, DType t) { return load_as_double(p, t); });
      if (sig_.fp8) apply_block_scales(a, am, bt);
      const int64_t oc = read_c ? batch_offset(a.c.layout, bidx, std::min(a.c.rank(), 2)) : 0;
      const int64_t od = batch_offset(a.d.layout, bidx, 2);
      const int64_t op = aux ? batch_offset(a.pre_activation.layout, bidx, 2) : 0;
      for (int64_t m = 0; m < M; ++m) {
        for (int64_t n = 0; n < N; ++n) {
          double acc = 0.0;
          for (int64_t k = 0; k < K; ++k) acc += am[m * K + k] * bt[n * K + k];
          double y = ab_scale * acc;
          if (read_c) y += d_.beta * load_as_double(byte_ptr(a.c, oc + m * c_rs + n * c_cs), a.c.dtype);
          if (!bias.empty()) y += bias[bias_rows ? m : n];
          if (aux) store_from_double(byte_ptr_mut(a.pre_activation, op + m * p_rs + n * p_cs), a.pre_activation.dtype, y);
          y = apply_activation(d_.activation, y);
          if (std::isnan(y) || std::isnan(amax)) amax = std::numeric_limits<double>::quiet_NaN();
          else amax = std::max(amax, std::fabs(y));
          store_from_double(byte_ptr_mut(a.d, od + m * d_rs + n * d_cs), a.d.dtype, d_scale * y);
        }
      }
      if (a.bias_grad.defined()) {
        // batch == 1 (the signature's rule): one vector, sums of op(A) rows or op(B) columns over k.
        const bool rows = d_.bias_grad_axis == GemmVectorAxis::rows;
        const int64_t len = rows ? M : N;
        const std::vector<double>& src = rows ? am : bt;
        for (int64_t i = 0; i < len; ++i) {
          double s = 0.0;
          for (int64_t k = 0; k < K; ++k) s += src[i * K + k];
          store_from_double(byte_ptr_mut(a.bias_grad, i * a.bias_grad.stride(0)), a.bias_grad.dtype, s);
        }
      }
    }
    if (a.amax.defined()) store_from_double(a.amax.data, a.amax.dtype, amax);
    return Status::ok();
  }

  Status run_integer(const GemmArgs& a) const {
    const int64_t M = sig_.m, N = sig_.n, K = sig_.k;
    const auto alpha = static_cast<int64_t>(d_.alpha), beta = static_cast<int64_t>(d_.beta);
    const bool read_c = beta != 0 && a.c.defined();
    const int64_t c_rs = read_c ? tail_stride(a.c.layout, 2) : 0, c_cs = read_c ? tail_stride(a.c.layout, 1) : 0;
    const int64_t d_rs = a.d.layout.strides[a.d.rank() - 2], d_cs = a.d.layout.strides[a.d.rank() - 1];
    std::vector<int64_t> am, bt;
    for (int64_t bi = 0; bi < sig_.batch; ++bi) {
      const std::vector<int64_t> bidx = unravel(bi);
      load_operands(a, bidx, am, bt, [](const void* p, DType t) { return load_as_int64(p, t); });
      const int64_t oc = read_c ? batch_offset(a.c.layout, bidx, std::min(a.c.rank(), 2)) : 0;
      const int64_t od = batch_offset(a.d.layout, bidx, 2);
      for (int64_t m = 0; m < M; ++m) {
        for (int64_t n = 0; n < N; ++n) {
          int64_t acc = 0;
          for (int64_t k = 0; k < K; ++k) acc += am[m * K + k] * bt[n * K + k];
          // Wrapping int64 arithmetic (unsigned), then int32 wraparound: the hardware's modulo 2^32.
          auto y = static_cast<uint64_t>(alpha) * static_cast<uint64_t>(acc);
          if (read_c)
            y += static_cast<uint64_t>(beta) *
                 static_cast<uint64_t>(load_as_int64(byte_ptr(a.c, oc + m * c_rs + n * c_cs), a.c.dtype));
          store_from_int64(byte_ptr_mut(a.d, od + m * d_rs + n * d_cs), a.d.dtype, static_cast<int64_t>(y));
        }
      }
    }
    return Status::ok();
  }

  GemmDescriptor d_;
  GemmSignature sig_;
  KernelSku sku_;
  PrecisionGuarantee pg_;
};

}  // namespace

Status ref_supports(const GemmDescriptor&, const Device& device) {
  if (!device.is_cpu()) return not_supported("the CPU reference runs on the CPU");
  return Status::ok();
}

Result<GemmExecPtr> ref_make(const GemmDescriptor& desc, const Device& device) {
  BARACUDA_TRY(ref_supports(desc, device));
  BARACUDA_ASSIGN_OR_RETURN(GemmSignature sig, infer_signature(desc));
  return GemmExecPtr(std::make_shared<RefGemm>(desc, std::move(sig)));
}

}  // namespace baracuda::gemm
