#pragma once
// Non-owning tensor views. Sizes and strides are int64 and counted in elements; a stride of 0
// broadcasts, a negative stride walks backwards. Rank is at most kMaxRank.
#include <array>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

#include "baracuda/core/device.hpp"
#include "baracuda/core/dtype.hpp"
#include "baracuda/core/status.hpp"

namespace baracuda {

inline constexpr int kMaxRank = 8;
using Dims = std::array<int64_t, kMaxRank>;

// Shape and strides of a tensor, without its data. rank == -1 means "no tensor" (an optional
// operand that was not given, e.g. a gradient the caller does not want).
struct Layout {
  int rank = -1;
  Dims sizes{};
  Dims strides{};

  bool defined() const { return rank >= 0; }
  std::span<const int64_t> shape() const { return {sizes.data(), static_cast<size_t>(rank < 0 ? 0 : rank)}; }
  std::span<const int64_t> stride() const { return {strides.data(), static_cast<size_t>(rank < 0 ? 0 : rank)}; }
  // Number of elements; -1 when the product overflows int64.
  int64_t numel() const;
  bool is_contiguous() const;  // row-major dense (size-1 dims may have any stride)
  std::string to_string() const;  // "[2, 3] strides [3, 1]"

  // Validates rank <= kMaxRank, sizes >= 0 and strides.size() == sizes.size() (when strides are
  // given; empty strides mean row-major contiguous).
  static Result<Layout> make(std::span<const int64_t> sizes, std::span<const int64_t> strides = {});
};

std::vector<int64_t> contiguous_strides(std::span<const int64_t> sizes);
std::string shape_to_string(std::span<const int64_t> shape);

template <class Ptr>
struct TensorView {
  Ptr data = nullptr;
  DType dtype = DType::f32;
  Device device{};
  Layout layout{};

  bool defined() const { return layout.defined(); }
  int rank() const { return layout.rank; }
  int64_t size(int d) const { return layout.sizes[d]; }
  int64_t stride(int d) const { return layout.strides[d]; }
  std::span<const int64_t> shape() const { return layout.shape(); }
  int64_t numel() const { return layout.numel(); }
  bool is_contiguous() const { return layout.is_contiguous(); }
  // Largest power of two (<= 256) that divides the data pointer's address.
  size_t alignment() const {
    auto a = reinterpret_cast<uintptr_t>(data);
    size_t al = 1;
    while (al < 256 && (a % (al * 2)) == 0) al *= 2;
    return al;
  }
};

using TensorRef = TensorView<const void*>;  // read-only
using TensorMut = TensorView<void*>;         // writable

// Builders. They return a Status for rank > kMaxRank, negative sizes or a strides/sizes mismatch.
Result<TensorRef> make_tensor_ref(const void* data, DType dtype, std::span<const int64_t> sizes,
                                  std::span<const int64_t> strides = {}, Device device = Device::cpu());
Result<TensorMut> make_tensor_mut(void* data, DType dtype, std::span<const int64_t> sizes,
                                  std::span<const int64_t> strides = {}, Device device = Device::cpu());
inline Result<TensorRef> make_tensor_ref(const void* data, DType dtype, std::initializer_list<int64_t> sizes,
                                         Device device = Device::cpu()) {
  return make_tensor_ref(data, dtype, std::span<const int64_t>(sizes.begin(), sizes.size()), {}, device);
}
inline Result<TensorMut> make_tensor_mut(void* data, DType dtype, std::initializer_list<int64_t> sizes,
                                         Device device = Device::cpu()) {
  return make_tensor_mut(data, dtype, std::span<const int64_t>(sizes.begin(), sizes.size()), {}, device);
}
inline TensorRef as_ref(const TensorMut& t) { return {t.data, t.dtype, t.device, t.layout}; }

}  // namespace baracuda
