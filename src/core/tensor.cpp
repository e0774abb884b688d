#include "baracuda/core/tensor.hpp"

#include <string>

namespace baracuda {

int64_t Layout::numel() const {
  int64_t n = 1;
  for (int d = 0; d < rank; ++d)
    if (__builtin_mul_overflow(n, sizes[d], &n)) return -1;
  return n;
}

bool Layout::is_contiguous() const {
  int64_t expected = 1;
  for (int d = rank - 1; d >= 0; --d) {
    if (sizes[d] == 1) continue;
    if (strides[d] != expected) return false;
    expected *= sizes[d];
  }
  return true;
}

std::string shape_to_string(std::span<const int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string Layout::to_string() const {
  if (!defined()) return "undefined";
  return shape_to_string(shape()) + " strides " + shape_to_string(stride());
}

std::vector<int64_t> contiguous_strides(std::span<const int64_t> sizes) {
  std::vector<int64_t> s(sizes.size());
  int64_t acc = 1;
  for (size_t i = sizes.size(); i-- > 0;) {
    s[i] = acc;
    acc *= sizes[i] > 0 ? sizes[i] : 1;
  }
  return s;
}

Result<Layout> Layout::make(std::span<const int64_t> sizes, std::span<const int64_t> strides) {
  if (sizes.size() > static_cast<size_t>(kMaxRank))
    return invalid_argument("[tensor] rank " + std::to_string(sizes.size()) + " exceeds the maximum rank " +
                            std::to_string(kMaxRank));
  if (!strides.empty() && strides.size() != sizes.size())
    return invalid_argument("[tensor] " + std::to_string(strides.size()) + " strides for " +
                            std::to_string(sizes.size()) + " sizes");
  Layout l;
  l.rank = static_cast<int>(sizes.size());
  std::vector<int64_t> dense = strides.empty() ? contiguous_strides(sizes) : std::vector<int64_t>();
  for (int d = 0; d < l.rank; ++d) {
    if (sizes[d] < 0)
      return invalid_argument("[tensor] negative size " + std::to_string(sizes[d]) + " in " + shape_to_string(sizes));
    l.sizes[d] = sizes[d];
    l.strides[d] = strides.empty() ? dense[d] : strides[d];
  }
  if (l.numel() < 0) return invalid_argument("[tensor] element count of " + shape_to_string(sizes) + " overflows int64");
  return l;
}

template <class Ptr>
static Result<TensorView<Ptr>> make_view(Ptr data, DType dtype, std::span<const int64_t> sizes,
                                         std::span<const int64_t> strides, Device device) {
  auto layout = Layout::make(sizes, strides);
  if (!layout) return layout.status();
  return TensorView<Ptr>{data, dtype, device, *layout};
}

Result<TensorRef> make_tensor_ref(const void* data, DType dtype, std::span<const int64_t> sizes,
                                  std::span<const int64_t> strides, Device device) {
  return make_view<const void*>(data, dtype, sizes, strides, device);
}
Result<TensorMut> make_tensor_mut(void* data, DType dtype, std::span<const int64_t> sizes,
                                  std::span<const int64_t> strides, Device device) {
  return make_view<void*>(data, dtype, sizes, strides, device);
}

}  // namespace baracuda
