#pragma once
// How a descriptor describes one operand (a tensor's dtype, shape and optional strides, or a
// Python number), the direction of a differentiable op, and the argument check every family
// shares.
#include <cstdint>
#include <string>
#include <vector>

#include "baracuda/core/device.hpp"
#include "baracuda/core/dtype.hpp"
#include "baracuda/core/status.hpp"
#include "baracuda/core/tensor.hpp"

namespace baracuda {

enum class Direction : uint8_t { forward, backward };

// One input or output as the descriptor sees it. A scalar operand is a Python number: its dtype
// only says which kind (boolean, i64 for int, f64 for float) for promotion; its value travels in
// ElementwiseArgs::scalars, so one plan serves every value.
struct Operand {
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;  // empty: contiguous row-major
  bool is_scalar = false;

  static Operand tensor(DType dtype, std::vector<int64_t> shape, std::vector<int64_t> strides = {}) {
    return {dtype, std::move(shape), std::move(strides), false};
  }
  static Operand scalar(DType kind = DType::f64) { return {kind, {}, {}, true}; }
};

// Checks one run() argument against its descriptor operand: defined, dtype, device, shape,
// strides (size-1 dims and empty tensors excepted), element count, non-null data, element
// alignment and the byte `alignment` the descriptor promised. `where` prefixes every message
// ("[reduce.sum] input 0").
Status check_tensor_arg(const std::string& where, const TensorRef& t, const Operand& expected, const Device& device,
                        size_t alignment);
Status check_tensor_arg(const std::string& where, const TensorMut& t, const Operand& expected, const Device& device,
                        size_t alignment);
// Whether the bytes two tensors touch overlap (empty or undefined tensors never do), and whether
// a writable tensor has elements that share memory (a stride 0 over a size > 1, ...).
bool memory_overlaps(const TensorRef& a, const TensorRef& b);
bool has_internal_overlap(const TensorMut& t);

}  // namespace baracuda
