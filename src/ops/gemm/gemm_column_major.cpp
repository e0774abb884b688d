// The column-major BLAS form of a GEMM descriptor (gemm_column_major.hpp).
#include "ops/gemm/gemm_column_major.hpp"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "ops/gemm/gemm_args.hpp"

namespace baracuda::gemm {
namespace {

std::vector<int64_t> full_strides(const Operand& o) {
  return o.strides.empty() ? contiguous_strides(o.shape) : o.strides;
}

// The operand's element stride along each dim of the broadcast batch shape (0 where it
// broadcasts: size-1 or missing dims).
std::vector<int64_t> batch_strides(const Operand& o, int matrix_dims, const std::vector<int64_t>& batch_shape) {
  const std::vector<int64_t> strides = full_strides(o);
  const int rank = static_cast<int>(o.shape.size()), lb = rank - matrix_dims, nb = static_cast<int>(batch_shape.size());
  std::vector<int64_t> eff(static_cast<size_t>(nb), 0);
  for (int i = 0; i < lb; ++i)
    if (o.shape[i] != 1) eff[nb - lb + i] = strides[i];
  return eff;
}

// One stride s such that entry b (row-major over batch_shape[from..]) sits at b * s, or nullopt
// when the dims do not fold into one (e.g. [2, 1] against [1, 3] broadcast).
std::optional<int64_t> fold_batch(const std::vector<int64_t>& eff, const std::vector<int64_t>& batch_shape, size_t from) {
  std::optional<int64_t> s;
  int64_t inner = 1;
  for (size_t j = batch_shape.size(); j-- > from;) {
    if (batch_shape[j] > 1) {
      if (!s) s = eff[j];
      else if (eff[j] != *s * inner) return std::nullopt;
    }
    inner *= batch_shape[j];
  }
  if (s.value_or(0) < 0) return std::nullopt;
  return s.value_or(0);
}

// X (r x c, strides rs, cs) stored as a column-major matrix: its leading dim, or nullopt.
std::optional<int64_t> column_major_ld(int64_t r, int64_t c, int64_t rs, int64_t cs) {
  if (r > 1 && rs != 1) return std::nullopt;
  const int64_t ld = c > 1 ? cs : std::max<int64_t>(r, 1);
  if (ld < std::max<int64_t>(r, 1)) return std::nullopt;
  return ld;
}

enum class Want { any, normal, transposed };

// A logical r x c operand the library applies op() to: stored column-major (op = N) or as the
// transpose of a column-major c x r matrix (op = T).
std::optional<ColumnMajorMatrix> operand_matrix(int64_t r, int64_t c, int64_t rs, int64_t cs, Want want) {
  if (want != Want::transposed)
    if (auto ld = column_major_ld(r, c, rs, cs)) return ColumnMajorMatrix{r, c, *ld, 0, false};
  if (want != Want::normal)
    if (auto ld = column_major_ld(c, r, cs, rs)) return ColumnMajorMatrix{c, r, *ld, 0, true};
  return std::nullopt;
}

std::string strides_of(const Operand& o) { return shape_to_string(full_strides(o)); }

// The problem with D stored column-major as given (swap = false) or D^T (swap = true).
Result<ColumnMajorGemm> build(const GemmDescriptor& d, const GemmSignature& sig, const ColumnMajorOptions& opt,
                              bool swap) {
  ColumnMajorGemm p;
  p.swapped = swap;
  p.batch = sig.batch;
  p.k = sig.k;
  p.m = swap ? sig.n : sig.m;
  p.n = swap ? sig.m : sig.n;
  const auto sa = full_strides(d.a), sb = full_strides(d.b), sd = full_strides(d.d);
  const size_t ra = sa.size(), rb = sb.size(), rd = sd.size();
  // (row, col) strides of our logical matrices.
  const int64_t a_rs = sa[ra - 2], a_cs = sa[ra - 1], b_rs = sb[rb - 2], b_cs = sb[rb - 1];
  const int64_t d_rs = sd[rd - 2], d_cs = sd[rd - 1];
  for (int64_t s : {a_rs, a_cs, b_rs, b_cs, d_rs, d_cs})
    if (s < 0) return not_supported(kTag + "negative strides are not supported by this implementation");

  const Want want_a = opt.a_transposed_b_not ? Want::transposed : Want::any;
  const Want want_b = opt.a_transposed_b_not ? Want::normal : Want::any;
  // The library's A is op(A) (m x k) or, swapped, op(B)^T (N x K); its B is op(B) or op(A)^T.
  auto la = swap ? operand_matrix(sig.n, sig.k, b_cs, b_rs, want_a) : operand_matrix(sig.m, sig.k, a_rs, a_cs, want_a);
  auto lb = swap ? operand_matrix(sig.k, sig.m, a_cs, a_rs, want_b) : operand_matrix(sig.k, sig.n, b_rs, b_cs, want_b);
  const char* d_orient = swap ? "row-major D" : "column-major D";
  if (!la || !lb) {
    const bool a_bad = swap ? !lb : !la;
    const Operand& o = a_bad ? d.a : d.b;
    return not_supported(kTag + std::string(a_bad ? "A" : "B") + " strides " + strides_of(o) +
                         (opt.a_transposed_b_not ? " do not give the TN layout this implementation needs (with a " +
                                                       std::string(d_orient) + ")"
                                                 : " have no unit-stride matrix dim (general strides)"));
  }
  auto ld_d = swap ? column_major_ld(sig.n, sig.m, d_cs, d_rs) : column_major_ld(sig.m, sig.n, d_rs, d_cs);
  if (!ld_d) return not_supported(kTag + "D strides " + strides_of(d.d) + " are not " + d_orient);
  p.a = *la;
  p.b = *lb;
  p.d = ColumnMajorMatrix{p.m, p.n, *ld_d, 0, false};

  // Batch: the longest run of trailing batch dims that folds for every operand goes to the
  // library; the dims before it are looped (outer).
  const std::vector<int64_t>& bshape = sig.batch_shape;
  const auto eff_a = batch_strides(d.a, 2, bshape), eff_b = batch_strides(d.b, 2, bshape), eff_d = batch_strides(d.d, 2, bshape);
  const bool use_c = d.c && d.beta != 0.0;
  const auto eff_c = use_c ? batch_strides(*d.c, 2, bshape) : std::vector<int64_t>(bshape.size(), 0);
  const auto eff_aux = d.pre_activation ? batch_strides(*d.pre_activation, 2, bshape) : std::vector<int64_t>(bshape.size(), 0);
  for (const auto* eff : {&eff_a, &eff_b, &eff_d, &eff_c, &eff_aux})
    for (int64_t s : *eff)
      if (s < 0) return not_supported(kTag + "negative batch strides are not supported by this implementation");
  size_t from = 0;
  for (; from < bshape.size(); ++from)
    if (fold_batch(eff_a, bshape, from) && fold_batch(eff_b, bshape, from) && fold_batch(eff_d, bshape, from) &&
        fold_batch(eff_c, bshape, from) && fold_batch(eff_aux, bshape, from))
      break;
  p.batch = 1;
  for (size_t j = from; j < bshape.size(); ++j) p.batch *= bshape[j];
  for (size_t j = 0; j < from; ++j) {
    if (bshape[j] == 1) continue;
    OuterBatchDim o{bshape[j], swap ? eff_b[j] : eff_a[j], swap ? eff_a[j] : eff_b[j], eff_c[j], eff_d[j], eff_aux[j]};
    p.outer.push_back(o);
  }
  (swap ? p.b : p.a).batch_stride = *fold_batch(eff_a, bshape, from);
  (swap ? p.a : p.b).batch_stride = *fold_batch(eff_b, bshape, from);
  p.d.batch_stride = *fold_batch(eff_d, bshape, from);
  const int64_t c_batch_stride = *fold_batch(eff_c, bshape, from), aux_batch_stride = *fold_batch(eff_aux, bshape, from);

  // C and pre_activation: full matrices in D's orientation (own leading dim and batch stride).
  auto same_orientation = [&](const Operand& o, const char* name) -> Result<ColumnMajorMatrix> {
    const size_t r = o.shape.size();
    if (r < 2 || o.shape[r - 2] != sig.m || o.shape[r - 1] != sig.n)
      return not_supported(kTag + name + " of shape " + shape_to_string(o.shape) +
                           " broadcasts inside the matrix; this implementation needs a full [M, N] " + name);
    const auto so = full_strides(o);
    const int64_t rs = so[r - 2], cs = so[r - 1];
    auto ld = swap ? column_major_ld(sig.n, sig.m, cs, rs) : column_major_ld(sig.m, sig.n, rs, cs);
    if (!ld || rs < 0 || cs < 0)
      return not_supported(kTag + name + " strides " + strides_of(o) + " are not " + d_orient +
                           " (this implementation needs " + name + " stored like D)");
    return ColumnMajorMatrix{p.m, p.n, *ld, 0, false};
  };
  if (use_c) {
    BARACUDA_ASSIGN_OR_RETURN(p.c, same_orientation(*d.c, "C"));
    p.c.batch_stride = c_batch_stride;
    p.has_c = true;
  }
  if (d.pre_activation) {
    BARACUDA_ASSIGN_OR_RETURN(p.aux, same_orientation(*d.pre_activation, "pre_activation"));
    p.aux.batch_stride = aux_batch_stride;
    p.has_aux = true;
  }
  p.bias_along_lib_rows = (d.bias_axis == GemmVectorAxis::rows) != swap;
  p.bias_grad_from_lib_a = (d.bias_grad_axis == GemmVectorAxis::rows) != swap;
  return p;
}

}  // namespace

Result<ColumnMajorGemm> to_column_major(const GemmDescriptor& desc, const GemmSignature& sig,
                                        const ColumnMajorOptions& opt) {
  // Prefer D's own orientation; a degenerate D (one row or column) may go either way.
  const auto sd = full_strides(desc.d);
  const bool d_row_major = sig.n > 1 && sd[sd.size() - 1] == 1 && !(sig.m > 1 && sd[sd.size() - 2] == 1);
  auto first = build(desc, sig, opt, d_row_major);
  if (first) return first;
  auto second = build(desc, sig, opt, !d_row_major);
  if (second) return second;
  return first.status();
}

}  // namespace baracuda::gemm
