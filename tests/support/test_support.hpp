#pragma once
// Shared helpers of the baracuda tests: host tensors with arbitrary strides, per-op input domains,
// elementwise test-case builders (descriptor + inputs + outputs, forward and backward), and the
// comparison of two results in the output dtype's tolerance.
#include <array>
#include <cstdlib>
#include <complex>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "baracuda/baracuda.hpp"

namespace bt {

// Restores an environment variable's old value (or its absence) on scope exit; with a value, also
// sets it for the scope (a null value unsets it for the scope). Plans read their switches when
// they are made.
class ScopedEnv {
 public:
  explicit ScopedEnv(const char* name) : name_(name) {
    const char* v = std::getenv(name);
    had_ = v != nullptr;
    if (had_) old_ = v;
  }
  ScopedEnv(const char* name, const char* value) : ScopedEnv(name) {
    if (value) (void)setenv(name, value, 1);
    else (void)unsetenv(name);
  }
  ~ScopedEnv() {
    if (had_) (void)setenv(name_, old_.c_str(), 1);
    else (void)unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

using namespace baracuda;

// 256-byte aligned owning byte storage with deep-copy semantics.
class AlignedBytes {
 public:
  AlignedBytes() = default;
  explicit AlignedBytes(size_t n);
  AlignedBytes(const AlignedBytes& o);
  AlignedBytes& operator=(const AlignedBytes& o);
  AlignedBytes(AlignedBytes&&) noexcept = default;
  AlignedBytes& operator=(AlignedBytes&&) noexcept = default;
  std::byte* data() { return p_.get(); }
  const std::byte* data() const { return p_.get(); }
  size_t size() const { return n_; }

 private:
  struct Free {
    void operator()(std::byte* p) const;
  };
  std::unique_ptr<std::byte[], Free> p_;
  size_t n_ = 0;
};

// A host tensor: storage covering every element of a (possibly strided, negative-stride or
// broadcast) view. Elements are addressed by their logical row-major index.
class HostTensor {
 public:
  HostTensor() = default;
  // Empty strides: contiguous row-major.
  HostTensor(DType dtype, std::vector<int64_t> shape, std::vector<int64_t> strides = {});

  DType dtype() const { return dtype_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  const std::vector<int64_t>& strides() const { return strides_; }
  int64_t numel() const;
  // Element offset (in elements, from the view's data pointer) of logical element `linear`.
  int64_t offset_of(int64_t linear) const;
  void* data() { return storage_.data() + base_bytes_; }
  const void* data() const { return storage_.data() + base_bytes_; }
  void* elem(int64_t linear) { return static_cast<std::byte*>(data()) + offset_of(linear) * esize(); }
  const void* elem(int64_t linear) const { return static_cast<const std::byte*>(data()) + offset_of(linear) * esize(); }

  double get(int64_t linear) const { return load_as_double(elem(linear), dtype_); }
  int64_t get_int(int64_t linear) const { return load_as_int64(elem(linear), dtype_); }
  void set(int64_t linear, double v) { store_from_double(elem(linear), dtype_, v); }
  void set_int(int64_t linear, int64_t v) { store_from_int64(elem(linear), dtype_, v); }
  // Complex view of an element (real dtypes: (v, 0) / the real part is stored).
  std::complex<double> get_c(int64_t linear) const { return load_as_complex(elem(linear), dtype_); }
  void set_c(int64_t linear, std::complex<double> v) { store_from_complex(elem(linear), dtype_, v); }
  void set_all(std::initializer_list<double> values);
  std::vector<double> values() const;

  // The whole storage (including gaps of strided views), and where the view starts in it.
  AlignedBytes& storage() { return storage_; }
  const AlignedBytes& storage() const { return storage_; }
  size_t base_bytes() const { return base_bytes_; }
  void fill_bytes(uint8_t b);

  TensorRef ref(Device device = Device::cpu()) const;
  TensorMut mut(Device device = Device::cpu());
  // The same view over another base pointer of the same storage layout (e.g. a device copy).
  TensorRef ref_at(const void* storage_base, Device device) const;
  TensorMut mut_at(void* storage_base, Device device) const;
  Operand operand() const { return Operand::tensor(dtype_, shape_, strides_given_ ? strides_ : std::vector<int64_t>{}); }

 private:
  int64_t esize() const { return static_cast<int64_t>(dtype_size(dtype_)); }
  DType dtype_ = DType::f32;
  std::vector<int64_t> shape_, strides_;
  bool strides_given_ = false;
  bool dense_ = false;  // strides_ are the row-major ones: offset_of(i) == i
  AlignedBytes storage_;
  size_t base_bytes_ = 0;
};

// A contiguous host tensor holding `values` (converted to dtype).
inline HostTensor host(DType dtype, std::vector<int64_t> shape, std::initializer_list<double> values) {
  HostTensor t(dtype, std::move(shape));
  t.set_all(values);
  return t;
}

// ---------------------------------------------------------------------------------------------
// Input domains: where an op's inputs are drawn from so that the math is well-conditioned and
// (for finite differences) smooth.
struct Domain {
  double lo = -3.0, hi = 3.0;
  bool integer_valued = false;  // draw integers (exact float quotients for the division family)
  bool nonzero = false;         // avoid |v| < 0.25 (e.g. divisors)
};
// Domain of forward input `index` of `op` for floating dtypes.
Domain float_domain(ElementwiseOp op, int index);
// Inclusive integer range of forward input `index` of `op` for integer/bool dtype `dtype`.
std::pair<int64_t, int64_t> int_domain(ElementwiseOp op, int index, DType dtype);
// Op attributes the tests use (non-default where the default makes an op trivial on the domain).
ElementwiseAttrs test_attrs(ElementwiseOp op);

// ---------------------------------------------------------------------------------------------
// Elementwise cases.
enum class Variant {
  contiguous,  // every operand dense, shape {n} (gated {n, 2*half}; prelu {n, 3} with weight {3})
  strided,     // shape {37, 29}: input 0 transposed, the others every-other-column views
  broadcast,   // shape {37, 29}: input 1 is [29] (rank-mismatched), input 2 is [37, 1], unary via stride 0
  scalar,      // binary/ternary: the last input is a Python scalar
  specials,    // contiguous with NaN, +-inf, +-0 sprinkled into floating inputs (forward only)
};
const char* variant_name(Variant v);

struct CaseOptions {
  int64_t n = 7;              // contiguous/specials: elements (gated: rows)
  int64_t gated_half = 1;     // gated contiguous: half width along the last dim
  uint64_t seed = 1;
  bool ties = false;          // binary ops: make some b == a (comparisons / max / min tie rules)
  double dy_lo = -2.0, dy_hi = 2.0;
};

struct Case {
  std::string name;                 // "op.backward f32 strided n=7 seed=..."
  ElementwiseDescriptor desc;
  std::vector<HostTensor> inputs;   // kernel order: backward starts with dy; scalar slots hold an empty tensor
  std::vector<bool> input_is_scalar;
  std::array<Scalar, ElementwiseArgs::kMaxInputs> scalars{};
  std::vector<HostTensor> outputs;  // one per signature output
  std::vector<bool> output_wanted;  // false: passed as undefined
  ElementwiseArgs args();           // host pointers
};

// Builds the case or says why the op does not take these dtypes (infer_signature's Status).
// `dtype` is the dtype of every floating/value input (where: of a and b; its condition is bool).
Result<Case> make_case(ElementwiseOp op, DType dtype, Direction dir, Variant v, const CaseOptions& opt);
// Casts: x of `src` converted to `dst`, optional scale and amax.
Result<Case> make_cast_case(DType src, DType dst, Direction dir, Variant v, const CaseOptions& opt,
                            double scale = 1.0, bool amax = false);

// Fills a tensor with random values of its dtype from [lo, hi] (integer dtypes: rounded; complex
// dtypes: both parts from [lo, hi]).
void fill_uniform(HostTensor& t, std::mt19937_64& rng, double lo, double hi, bool integer_valued = false);

// Selects the plan for `c` on `stream` and runs it with host pointers (CPU streams).
Status run_case_cpu(Case& c);

// ---------------------------------------------------------------------------------------------
// Comparison in the output dtype.
struct Tolerance {
  double rtol = 0.0, atol = 0.0;
};
Tolerance default_tolerance(DType out);

struct Mismatch {
  int64_t index = -1;
  double got = 0.0, want = 0.0;
};
struct CompareResult {
  int64_t mismatches = 0;
  Mismatch first;
  std::string to_string() const;
};
// Compares every logical element of `got` and `want` (same dtype and shape). NaN must match NaN;
// infinities must match exactly; integers and bool compare exactly (bool: the raw byte must be 0/1).
// Complex: part by part for NaN/inf, otherwise |got - want| <= atol + rtol |want| (modulus).
CompareResult compare(const HostTensor& got, const HostTensor& want, Tolerance tol);

}  // namespace bt
