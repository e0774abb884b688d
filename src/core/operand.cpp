// Argument checks shared by every family: a run() tensor against its descriptor operand, and
// memory overlap between tensors.
#include "baracuda/core/operand.hpp"

#include <algorithm>
#include <cstdlib>
#include <span>

namespace baracuda {
namespace {

template <class Ptr>
Status check_view(const std::string& where, const TensorView<Ptr>& t, const Operand& expected, const Device& device,
                  size_t alignment) {
  if (!t.defined()) return invalid_argument(where + " is missing (undefined tensor)");
  if (t.dtype != expected.dtype)
    return invalid_argument(where + " has dtype " + std::string(dtype_name(t.dtype)) + ", the plan expects " +
                            std::string(dtype_name(expected.dtype)));
  if (!t.device.same_place(device))
    return invalid_argument(where + " is on " + t.device.to_string() + ", the plan runs on " + device.to_string());
  std::span<const int64_t> shape = t.shape();
  if (!std::equal(shape.begin(), shape.end(), expected.shape.begin(), expected.shape.end()))
    return invalid_argument(where + " has shape " + shape_to_string(shape) + ", the plan expects " +
                            shape_to_string(expected.shape));
  const int64_t n = t.numel();
  if (n < 0) return invalid_argument(where + " element count overflows int64");
  std::vector<int64_t> strides = expected.strides.empty() ? contiguous_strides(expected.shape) : expected.strides;
  // An empty tensor touches no memory: its strides are irrelevant (numpy exports zeros).
  for (int d = 0; d < t.rank() && n != 0; ++d)
    if (t.size(d) != 1 && t.stride(d) != strides[d])
      return invalid_argument(where + " has strides " + shape_to_string(t.layout.stride()) + ", the plan expects " +
                              shape_to_string(strides) + " (describe them in the descriptor's Operand::strides)");
  if (n > 0 && t.data == nullptr) return invalid_argument(where + " has a null data pointer");
  if (n > 0) {
    size_t el = dtype_size(t.dtype);
    if (t.alignment() < el)
      return misaligned(where + " pointer " + std::to_string(reinterpret_cast<uintptr_t>(t.data)) +
                        " is not aligned to its element size " + std::to_string(el));
    if (t.alignment() < std::min<size_t>(alignment, 256))
      return misaligned(where + " pointer is " + std::to_string(t.alignment()) + "-byte aligned, the descriptor promised " +
                        std::to_string(alignment) + " (select a plan with a smaller descriptor alignment)");
  }
  return Status::ok();
}

// [lowest, highest] byte addresses a tensor touches; empty when it has no elements.
struct ByteSpan {
  uintptr_t lo = 0, hi = 0;
  bool empty = true;
};
ByteSpan byte_span(const TensorRef& t) {
  ByteSpan s;
  if (!t.defined() || t.numel() <= 0 || !t.data) return s;
  auto base = reinterpret_cast<intptr_t>(t.data);
  intptr_t lo = base, hi = base;
  for (int d = 0; d < t.rank(); ++d) {
    intptr_t ext = static_cast<intptr_t>((t.size(d) - 1) * t.stride(d) * static_cast<int64_t>(dtype_size(t.dtype)));
    (ext < 0 ? lo : hi) += ext;
  }
  s.lo = static_cast<uintptr_t>(lo);
  s.hi = static_cast<uintptr_t>(hi) + dtype_size(t.dtype) - 1;
  s.empty = false;
  return s;
}

}  // namespace

Status check_tensor_arg(const std::string& where, const TensorRef& t, const Operand& expected, const Device& device,
                        size_t alignment) {
  return check_view(where, t, expected, device, alignment);
}
Status check_tensor_arg(const std::string& where, const TensorMut& t, const Operand& expected, const Device& device,
                        size_t alignment) {
  return check_view(where, t, expected, device, alignment);
}

bool memory_overlaps(const TensorRef& a, const TensorRef& b) {
  ByteSpan x = byte_span(a), y = byte_span(b);
  return !x.empty && !y.empty && x.lo <= y.hi && y.lo <= x.hi;
}

bool has_internal_overlap(const TensorMut& t) {
  for (int d = 0; d < t.rank(); ++d)
    if (t.size(d) > 1 && t.stride(d) == 0) return true;
  // Sorted by |stride|, each stride must exceed the extent of the dims inside it.
  std::vector<int> dims;
  for (int d = 0; d < t.rank(); ++d)
    if (t.size(d) > 1) dims.push_back(d);
  std::sort(dims.begin(), dims.end(), [&](int a, int b) { return std::abs(t.stride(a)) < std::abs(t.stride(b)); });
  int64_t extent = 1;
  for (int d : dims) {
    if (std::abs(t.stride(d)) < extent) return true;
    extent = std::abs(t.stride(d)) * t.size(d);
  }
  return false;
}

}  // namespace baracuda
