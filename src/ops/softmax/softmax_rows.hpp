#pragma once
// Internal: the "row view" of a softmax problem. Every tensor of the op is seen as rows along the
// softmax dim: `rows` = the product of the other dims (the outer index space), `n` = the dim's size.
// Each operand contributes its strides over the outer dims and its stride along the dim; a mask is
// first broadcast to x's shape (stride 0 on missing or size-1 dims). Used by the CPU reference and
// by the CUDA plan (which picks its kernel from these strides).
#include <cstdint>
#include <span>
#include <vector>

#include "baracuda/core/tensor.hpp"

namespace baracuda::sm {

struct RowStrides {
  std::vector<int64_t> outer;  // one per outer dim, in x's dim order minus the softmax dim
  int64_t along = 0;           // stride along the softmax dim
};

struct RowView {
  int64_t n = 1;                    // size of the softmax dim (1 for a 0-d input)
  int64_t rows = 1;                 // product of outer_sizes
  std::vector<int64_t> outer_sizes; // the other dims of x
};

inline RowView make_row_view(std::span<const int64_t> shape, int dim) {
  RowView v;
  for (int i = 0; i < static_cast<int>(shape.size()); ++i) {
    if (i == dim) {
      v.n = shape[i];
    } else {
      v.outer_sizes.push_back(shape[i]);
      v.rows *= shape[i];
    }
  }
  return v;
}

// Strides of a tensor of x's rank (a 0-d tensor has only the degenerate dim).
inline RowStrides row_strides(std::span<const int64_t> strides, int dim) {
  RowStrides r;
  for (int i = 0; i < static_cast<int>(strides.size()); ++i) {
    if (i == dim) r.along = strides[i];
    else r.outer.push_back(strides[i]);
  }
  return r;
}

// A tensor of `shape`/`strides` broadcast (right-aligned) to `to_rank` dims: missing and size-1
// dims get stride 0.
inline std::vector<int64_t> broadcast_strides(std::span<const int64_t> shape, std::span<const int64_t> strides,
                                              size_t to_rank) {
  std::vector<int64_t> out(to_rank, 0);
  const size_t lead = to_rank - shape.size();
  for (size_t i = 0; i < shape.size(); ++i) out[lead + i] = shape[i] == 1 ? 0 : strides[i];
  return out;
}

// Element offset of row `r` (a linear index over outer_sizes, row-major) for one operand.
inline int64_t row_offset(const RowView& v, const RowStrides& s, int64_t r) {
  int64_t off = 0;
  for (size_t k = v.outer_sizes.size(); k-- > 0;) {
    const int64_t size = v.outer_sizes[k];
    off += (r % size) * s.outer[k];
    r /= size;
  }
  return off;
}

}  // namespace baracuda::sm
