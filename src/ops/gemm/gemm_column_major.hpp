#pragma once
// Internal: a GEMM descriptor rewritten in the column-major BLAS form that cuBLASLt (and later
// CUTLASS) takes: D (rows x cols, column-major, leading dim ld) = op(A) op(B), with one strided
// batch dim per operand. Pure host logic without any library types, so the CPU tests check it.
//
// Every row-major logical matrix X (r x c, strides rs, cs) is either a column-major matrix
// (rs == 1, ld = cs) or the transpose of one (cs == 1, ld = rs). A row-major D is handled by
// computing D^T = op(B)^T op(A)^T (the operands swap roles): `swapped`. The batch dims split into
// an inner run that folds into one stride per operand (0 = broadcast), handed to the library as
// its strided batch, and the outer dims before it, which the caller loops over (`outer`, one
// library call per outer index): torch.matmul's [3, 1] x [4] broadcast is 3 calls of a batch of
// 4. General strides (neither dim unit-stride) and negative strides give not_supported.
#include <cstdint>
#include <vector>

#include "baracuda/ops/gemm.hpp"

namespace baracuda::gemm {

struct ColumnMajorMatrix {
  int64_t rows = 0, cols = 0;  // of the stored column-major matrix
  int64_t ld = 1;
  int64_t batch_stride = 0;    // elements between batch entries (0 = shared by every entry)
  bool transposed = false;     // the GEMM uses its transpose (cuBLAS's op = T)
};

// A batch dim looped outside the library call: its size and each operand's element stride
// along it, in the library's roles (a, b are the library's A and B).
struct OuterBatchDim {
  int64_t size = 1;
  int64_t a = 0, b = 0, c = 0, d = 0, aux = 0;
};

struct ColumnMajorGemm {
  bool swapped = false;        // computing D^T = B^T A^T: lib A is our B, lib B is our A
  int64_t m = 0, n = 0, k = 0;  // the library's problem (swapped: m = our N, n = our M)
  int64_t batch = 1;            // the library's strided batch count (the inner, folded dims)
  std::vector<OuterBatchDim> outer;  // outermost first; empty when every batch dim folds
  ColumnMajorMatrix a, b, d;   // the library's A (m x k after op), B (k x n after op), D (m x n)
  bool has_c = false;
  ColumnMajorMatrix c;         // D's orientation, its own ld and batch stride
  bool has_aux = false;
  ColumnMajorMatrix aux;       // pre_activation, D's orientation
  // The library's epilogue vectors run along its rows (length m) or its columns (length n).
  bool bias_along_lib_rows = false;
  bool bias_grad_from_lib_a = false;  // sums the library's A over k (cuBLASLt's BGRADA), else B
};

struct ColumnMajorOptions {
  bool a_transposed_b_not = false;  // the library needs "TN" (cuBLASLt fp8 on sm_89/sm_90)
};

// The column-major form of `desc` (validated: `sig` is its signature), or not_supported with the
// reason (general / negative strides, C broadcast inside the matrix,
// C or pre_activation stored in the other orientation than D, a layout `opt` forbids).
Result<ColumnMajorGemm> to_column_major(const GemmDescriptor& desc, const GemmSignature& sig,
                                        const ColumnMajorOptions& opt = {});

}  // namespace baracuda::gemm
