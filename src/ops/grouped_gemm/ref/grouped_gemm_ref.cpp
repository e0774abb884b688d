// The grouped GEMM's CPU reference: reads the offsets on the host (and rejects bad ones with the
// values quoted, D untouched), then each group through every operand's strides, products summed in
// double in k order, alpha applied in double, one rounding to D's dtype. split = rows: each group's
// rows of D; split = contraction: each group's whole D[g], zeros for an empty group.
#include <memory>
#include <string>
#include <vector>

#include "baracuda/core/scalar_convert.hpp"
#include "ops/grouped_gemm/grouped_gemm_args.hpp"
#include "ops/grouped_gemm/grouped_gemm_impls.hpp"

namespace baracuda::grouped_gemm {
namespace {

template <class View>
const char* elem(const View& t, int64_t off) {
  return static_cast<const char*>(t.data) + off * static_cast<int64_t>(dtype_size(t.dtype));
}

// "[0, 3, 2, 9]" (the first 16 values, then "...").
std::string quote_offsets(const std::vector<int64_t>& o) {
  std::string s = "[";
  for (size_t i = 0; i < o.size() && i < 16; ++i) s += (i ? ", " : "") + std::to_string(o[i]);
  if (o.size() > 16) s += ", ...";
  return s + "]";
}

class RefGroupedGemm final : public Executable<GroupedGemmFamily> {
 public:
  RefGroupedGemm(GroupedGemmDescriptor d, GroupedGemmSignature sig) : d_(std::move(d)), sig_(sig) {
    sku_.family = "grouped_gemm";
    sku_.op = "grouped_gemm";
    sku_.dtypes = std::string(dtype_name(d_.a.dtype)) + "->" + std::string(dtype_name(d_.d.dtype));
    sku_.layout = d_.split == GroupedGemmSplit::rows ? "strided" : "strided, split=contraction";
    sku_.arch = "cpu";
    sku_.backend = "cpu-reference";
    sku_.impl = "cpu_reference";
    pg_.math = "f64 products and sums in k order, alpha in f64, one rounding to the output dtype";
    pg_.accumulator = DType::f64;
  }

  Status can_implement(const GroupedGemmArgs& args) const override {
    return check_args(d_, sig_, args, Device::cpu());
  }
  size_t workspace_size() const override { return 0; }
  const KernelSku& sku() const override { return sku_; }
  const PrecisionGuarantee& precision_guarantee() const override { return pg_; }

  Status run(const Stream&, Workspace, const GroupedGemmArgs& a) const override {
    const int64_t G = sig_.groups;
    std::vector<int64_t> off(static_cast<size_t>(G + 1));
    for (int64_t i = 0; i <= G; ++i)
      off[i] = load_as_int64(elem(a.group_offsets, i * a.group_offsets.stride(0)), a.group_offsets.dtype);
    if (Status s = check_offsets(off); !s.is_ok()) {
      if (a.status.defined()) store_from_int64(a.status.data, DType::i32, 1);
      return s;
    }
    if (sig_.split == GroupedGemmSplit::rows)
      run_rows(a, off);
    else
      run_contraction(a, off);
    if (a.status.defined()) store_from_int64(a.status.data, DType::i32, 0);
    return Status::ok();
  }

 private:
  // D[off[g]:off[g+1], :] = alpha * A[off[g]:off[g+1], :] @ B[g]; empty groups own no rows.
  void run_rows(const GroupedGemmArgs& a, const std::vector<int64_t>& off) const {
    const int64_t G = sig_.groups, N = sig_.n, K = sig_.k;
    const int64_t ars = a.a.stride(0), acs = a.a.stride(1);
    const int64_t bgs = a.b.stride(0), brs = a.b.stride(1), bcs = a.b.stride(2);
    const int64_t drs = a.d.stride(0), dcs = a.d.stride(1);
    std::vector<double> bt(static_cast<size_t>(N * K));  // the group's B as N x K
    std::vector<double> row(static_cast<size_t>(K));
    for (int64_t g = 0; g < G; ++g) {
      if (off[g] == off[g + 1]) continue;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < K; ++k)
          bt[n * K + k] = load_as_double(elem(a.b, g * bgs + k * brs + n * bcs), a.b.dtype);
      for (int64_t m = off[g]; m < off[g + 1]; ++m) {
        for (int64_t k = 0; k < K; ++k) row[k] = load_as_double(elem(a.a, m * ars + k * acs), a.a.dtype);
        for (int64_t n = 0; n < N; ++n) {
          double acc = 0.0;
          for (int64_t k = 0; k < K; ++k) acc += row[k] * bt[n * K + k];
          store_from_double(static_cast<char*>(a.d.data) + (m * drs + n * dcs) * static_cast<int64_t>(dtype_size(a.d.dtype)),
                            a.d.dtype, d_.alpha * acc);
        }
      }
    }
  }

  // D[g] = alpha * A[:, off[g]:off[g+1]] @ B[off[g]:off[g+1], :]; an empty group's D[g] is 0.
  void run_contraction(const GroupedGemmArgs& a, const std::vector<int64_t>& off) const {
    const int64_t G = sig_.groups, M = sig_.m_total, N = sig_.n;
    const int64_t ars = a.a.stride(0), acs = a.a.stride(1);
    const int64_t brs = a.b.stride(0), bcs = a.b.stride(1);
    const int64_t dgs = a.d.stride(0), drs = a.d.stride(1), dcs = a.d.stride(2);
    std::vector<double> bt, row;  // the group's B as N x K_g, one row of the group's A
    for (int64_t g = 0; g < G; ++g) {
      const int64_t k0 = off[g], kg = off[g + 1] - off[g];
      bt.assign(static_cast<size_t>(N * kg), 0.0);
      row.assign(static_cast<size_t>(kg), 0.0);
      for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < kg; ++k) bt[n * kg + k] = load_as_double(elem(a.b, (k0 + k) * brs + n * bcs), a.b.dtype);
      for (int64_t m = 0; m < M; ++m) {
        for (int64_t k = 0; k < kg; ++k) row[k] = load_as_double(elem(a.a, m * ars + (k0 + k) * acs), a.a.dtype);
        for (int64_t n = 0; n < N; ++n) {
          double acc = 0.0;
          for (int64_t k = 0; k < kg; ++k) acc += row[k] * bt[n * kg + k];
          store_from_double(static_cast<char*>(a.d.data) +
                                (g * dgs + m * drs + n * dcs) * static_cast<int64_t>(dtype_size(a.d.dtype)),
                            a.d.dtype, d_.alpha * acc);
        }
      }
    }
  }

  Status check_offsets(const std::vector<int64_t>& off) const {
    const int64_t G = sig_.groups, extent = sig_.split_extent();
    const std::string quoted = "group_offsets " + quote_offsets(off);
    if (off[0] != 0) return invalid_argument(kTag + quoted + " must start at 0, got " + std::to_string(off[0]));
    for (int64_t g = 0; g < G; ++g)
      if (off[g + 1] < off[g])
        return invalid_argument(kTag + quoted + " decreases at group " + std::to_string(g) + " (" +
                                std::to_string(off[g]) + " -> " + std::to_string(off[g + 1]) + ")");
    if (off[G] != extent)
      return invalid_argument(kTag + quoted + ": the group sizes sum to " + std::to_string(off[G]) +
                              (sig_.split == GroupedGemmSplit::rows ? ", but A has M_total=" : ", but A has K_total=") +
                              std::to_string(extent) + (sig_.split == GroupedGemmSplit::rows ? " rows" : " columns"));
    return Status::ok();
  }

  GroupedGemmDescriptor d_;
  GroupedGemmSignature sig_;
  KernelSku sku_;
  PrecisionGuarantee pg_;
};

}  // namespace

Status ref_supports(const GroupedGemmDescriptor&, const Device& device) {
  if (!device.is_cpu()) return not_supported("the CPU reference runs on the CPU");
  return Status::ok();
}

Result<GroupedGemmExecPtr> ref_make(const GroupedGemmDescriptor& desc, const Device& device) {
  BARACUDA_TRY(ref_supports(desc, device));
  BARACUDA_ASSIGN_OR_RETURN(GroupedGemmSignature sig, infer_signature(desc));
  return GroupedGemmExecPtr(std::make_shared<RefGroupedGemm>(desc, sig));
}

}  // namespace baracuda::grouped_gemm
