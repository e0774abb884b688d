#include "test_support.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>

namespace bt {

// ---------------------------------------------------------------------------------------------
// AlignedBytes

void AlignedBytes::Free::operator()(std::byte* p) const { ::operator delete[](p, std::align_val_t{256}); }

AlignedBytes::AlignedBytes(size_t n)
    : p_(static_cast<std::byte*>(::operator new[](n > 0 ? n : 1, std::align_val_t{256}))), n_(n) {
  std::memset(p_.get(), 0, n > 0 ? n : 1);
}
AlignedBytes::AlignedBytes(const AlignedBytes& o) : AlignedBytes(o.n_) {
  if (o.p_) std::memcpy(p_.get(), o.p_.get(), n_);
}
AlignedBytes& AlignedBytes::operator=(const AlignedBytes& o) {
  if (this != &o) *this = AlignedBytes(o);
  return *this;
}

// ---------------------------------------------------------------------------------------------
// HostTensor

HostTensor::HostTensor(DType dtype, std::vector<int64_t> shape, std::vector<int64_t> strides)
    : dtype_(dtype), shape_(std::move(shape)), strides_(std::move(strides)), strides_given_(!strides_.empty()) {
  if (!strides_given_) strides_ = contiguous_strides(shape_);
  if (strides_.size() != shape_.size()) throw std::invalid_argument("HostTensor: strides/shape rank mismatch");
  dense_ = strides_ == contiguous_strides(shape_);
  int64_t lo = 0, hi = 0;
  bool empty = false;
  for (size_t d = 0; d < shape_.size(); ++d) {
    if (shape_[d] == 0) empty = true;
    int64_t ext = (shape_[d] - 1) * strides_[d];
    (ext < 0 ? lo : hi) += ext;
  }
  const int64_t elems = empty ? 0 : hi - lo + 1;
  storage_ = AlignedBytes(static_cast<size_t>(elems) * dtype_size(dtype_));
  base_bytes_ = static_cast<size_t>(-lo) * dtype_size(dtype_);
}

int64_t HostTensor::numel() const {
  int64_t n = 1;
  for (int64_t s : shape_) n *= s;
  return n;
}

int64_t HostTensor::offset_of(int64_t linear) const {
  if (dense_) return linear;  // row-major: no division per dimension (most of the tests' tensors)
  int64_t off = 0;
  for (size_t d = shape_.size(); d-- > 0;) {
    const int64_t i = linear % shape_[d];
    linear /= shape_[d];
    off += i * strides_[d];
  }
  return off;
}

void HostTensor::set_all(std::initializer_list<double> values) {
  if (static_cast<int64_t>(values.size()) != numel()) throw std::invalid_argument("HostTensor::set_all: wrong count");
  int64_t i = 0;
  for (double v : values) set(i++, v);
}

std::vector<double> HostTensor::values() const {
  std::vector<double> out(static_cast<size_t>(numel()));
  for (int64_t i = 0; i < numel(); ++i) out[static_cast<size_t>(i)] = get(i);
  return out;
}

void HostTensor::fill_bytes(uint8_t b) {
  if (storage_.size() > 0) std::memset(storage_.data(), b, storage_.size());
}

TensorRef HostTensor::ref(Device device) const { return ref_at(storage_.data(), device); }
TensorMut HostTensor::mut(Device device) { return mut_at(storage_.data(), device); }

TensorRef HostTensor::ref_at(const void* storage_base, Device device) const {
  auto r = make_tensor_ref(static_cast<const std::byte*>(storage_base) + base_bytes_, dtype_, shape_, strides_, device);
  if (!r) throw std::runtime_error("HostTensor::ref: " + r.status().to_string());
  return *r;
}
TensorMut HostTensor::mut_at(void* storage_base, Device device) const {
  auto r = make_tensor_mut(static_cast<std::byte*>(storage_base) + base_bytes_, dtype_, shape_, strides_, device);
  if (!r) throw std::runtime_error("HostTensor::mut: " + r.status().to_string());
  return *r;
}

// ---------------------------------------------------------------------------------------------
// Domains

using Op = ElementwiseOp;

Domain float_domain(ElementwiseOp op, int index) {
  switch (op) {
    case Op::log: case Op::log2: case Op::log10: case Op::sqrt: case Op::rsqrt: case Op::reciprocal:
      return {0.5, 4.0};
    case Op::log1p: return {-0.5, 3.0};
    case Op::asin: case Op::acos: case Op::atanh: case Op::erfinv: return {-0.9, 0.9};
    case Op::acosh: return {1.2, 5.0};
    case Op::tan: return {-1.2, 1.2};
    case Op::lgamma: case Op::digamma: return {0.3, 6.0};
    case Op::logit: return {0.05, 0.95};
    // Quotients of k + 0.5 by a nonzero integer are never within 1/18 of an integer: floor/trunc
    // agree between f32 and f64 math, and finite differences never straddle a jump.
    case Op::div_floor: case Op::div_trunc: case Op::fmod: case Op::remainder:
      return index == 0 ? Domain{-60.0, 60.0, true, false} : Domain{-9.0, 9.0, true, true};
    case Op::pow: return index == 0 ? Domain{0.5, 3.0} : Domain{-2.0, 2.0};
    case Op::atan2: return index == 1 ? Domain{0.5, 3.0} : Domain{};
    case Op::hypot: return {0.5, 3.0};
    case Op::xlogy: return index == 1 ? Domain{0.5, 3.0} : Domain{};
    case Op::div: case Op::copysign: return index == 1 ? Domain{-3.0, 3.0, false, true} : Domain{};
    case Op::addcdiv: return index == 2 ? Domain{-3.0, 3.0, false, true} : Domain{};
    case Op::clamp:
      if (index == 1) return {-2.0, -0.2};
      if (index == 2) return {0.2, 2.0};
      return {};
    case Op::prelu: return index == 1 ? Domain{0.05, 0.5} : Domain{};
    default: return {};
  }
}

std::pair<int64_t, int64_t> int_domain(ElementwiseOp op, int index, DType dtype) {
  if (dtype == DType::boolean) return {0, 1};
  int64_t lo = -50, hi = 50;
  const ElementwiseCategory cat = op_info(op).category;
  switch (op) {
    case Op::shift_left: case Op::shift_right:
      if (index == 1) return {0, static_cast<int64_t>(dtype_size(dtype)) * 8 - 1};
      break;
    case Op::pow:
      if (index == 0) { lo = -3; hi = 3; } else { lo = 0; hi = 5; }
      break;
    case Op::div_floor: case Op::div_trunc: case Op::fmod: case Op::remainder: case Op::div:
      if (index == 1) { lo = -5; hi = 5; }  // includes 0: integer division by zero gives 0
      break;
    case Op::clamp:
      if (index == 1) { lo = -30; hi = 5; }
      if (index == 2) { lo = 10; hi = 40; }
      break;
    default:
      if (cat == ElementwiseCategory::float_math) {
        Domain d = float_domain(op, index);
        lo = static_cast<int64_t>(std::ceil(d.lo));
        hi = static_cast<int64_t>(std::floor(d.hi));
        if (lo > hi) lo = hi = 0;
      }
      break;
  }
  if (dtype == DType::u8) {
    lo = std::max<int64_t>(lo, 0);
    hi = std::max<int64_t>(hi, lo);
  }
  return {lo, hi};
}

ElementwiseAttrs test_attrs(ElementwiseOp op) {
  ElementwiseAttrs a;
  switch (op) {
    case Op::add: case Op::sub: case Op::addcmul: a.alpha = 2.0; break;
    case Op::addcdiv: a.alpha = 0.5; break;
    case Op::elu: a.alpha = 1.3; break;
    case Op::celu: a.alpha = 0.7; break;
    case Op::softplus: a.beta = 1.5; a.threshold = 3.0; break;
    case Op::threshold: a.threshold = 0.5; a.value = -1.0; break;
    case Op::leaky_relu: a.negative_slope = 0.1; break;
    case Op::hardtanh: a.min_val = -1.5; a.max_val = 2.0; break;
    default: break;
  }
  return a;
}

// ---------------------------------------------------------------------------------------------
// Cases

const char* variant_name(Variant v) {
  switch (v) {
    case Variant::contiguous: return "contiguous";
    case Variant::strided: return "strided";
    case Variant::broadcast: return "broadcast";
    case Variant::scalar: return "scalar";
    case Variant::specials: return "specials";
  }
  return "?";
}

void fill_uniform(HostTensor& t, std::mt19937_64& rng, double lo, double hi, bool integer_valued) {
  const DType dt = t.dtype();
  if (dt == DType::boolean) {
    std::uniform_int_distribution<int> d(0, 1);
    for (int64_t i = 0; i < t.numel(); ++i) t.set_int(i, d(rng));
    return;
  }
  if (is_complex(dt)) {
    std::uniform_real_distribution<double> d(lo, hi);
    for (int64_t i = 0; i < t.numel(); ++i) {
      const double re = d(rng);
      t.set_c(i, {re, d(rng)});
    }
    return;
  }
  if (!is_floating(dt)) {
    std::uniform_int_distribution<int64_t> d(static_cast<int64_t>(std::ceil(lo)), static_cast<int64_t>(std::floor(hi)));
    for (int64_t i = 0; i < t.numel(); ++i) t.set_int(i, d(rng));
    return;
  }
  std::uniform_real_distribution<double> d(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) {
    double v = d(rng);
    if (integer_valued) v = std::round(v);
    t.set(i, v);
  }
}

namespace {

// Complex inputs: both parts uniform in a box, away from the poles and branch points where a
// c64 kernel and the f64 reference legitimately part (zero for log/sqrt/reciprocal and divisors,
// tanh's poles at +-i pi/2, sigmoid's at +-i pi).
void fill_complex_domain(HostTensor& t, std::mt19937_64& rng, ElementwiseOp op, int index) {
  double lo = -2.0, hi = 2.0, min_modulus = 0.0;
  switch (op) {
    case Op::log: case Op::sqrt: case Op::reciprocal: min_modulus = 0.25; break;
    case Op::div: if (index == 1) min_modulus = 0.25; break;
    case Op::pow: if (index == 0) min_modulus = 0.5; else { lo = -1.5; hi = 1.5; } break;
    case Op::tanh: case Op::sigmoid: lo = -1.2; hi = 1.2; break;
    default: break;
  }
  std::uniform_real_distribution<double> u(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) {
    std::complex<double> z;
    do {
      const double re = u(rng);
      z = {re, u(rng)};
    } while (std::abs(z) < min_modulus);
    t.set_c(i, z);
  }
}

void fill_domain(HostTensor& t, std::mt19937_64& rng, ElementwiseOp op, int index) {
  if (is_complex(t.dtype())) {
    fill_complex_domain(t, rng, op, index);
    return;
  }
  if (!is_floating(t.dtype())) {
    auto [lo, hi] = int_domain(op, index, t.dtype());
    fill_uniform(t, rng, static_cast<double>(lo), static_cast<double>(hi));
    return;
  }
  const Domain d = float_domain(op, index);
  const bool half_offset = d.integer_valued && !d.nonzero;  // dividends: k + 0.5
  std::uniform_real_distribution<double> u(d.lo, d.hi);
  for (int64_t i = 0; i < t.numel(); ++i) {
    double v = u(rng);
    if (d.integer_valued) v = std::round(v) + (half_offset ? 0.5 : 0.0);
    if (d.nonzero && std::fabs(v) < (d.integer_valued ? 1.0 : 0.25)) v = v < 0 ? -1.0 : 1.0;
    t.set(i, v);
  }
}

Scalar random_scalar(std::mt19937_64& rng, ElementwiseOp op, int index, DType dtype) {
  if (is_floating(dtype) || is_complex(dtype)) {  // complex tensors meet real Python scalars
    HostTensor tmp(DType::f64, {1});
    fill_domain(tmp, rng, op, index);
    return Scalar::of(tmp.get(0));
  }
  auto [lo, hi] = int_domain(op, index, dtype == DType::boolean ? DType::i64 : dtype);
  std::uniform_int_distribution<int64_t> d(lo, hi);
  int64_t v = d(rng);
  if (dtype == DType::boolean) return Scalar::of(v != 0);
  return Scalar::of(v);
}

void sprinkle_specials(HostTensor& t, int k) {
  const double inf = std::numeric_limits<double>::infinity();
  const double specials[] = {std::numeric_limits<double>::quiet_NaN(), inf, -inf, 0.0, -0.0};
  if (is_complex(t.dtype())) {  // a special real part, imaginary part, or both
    for (int64_t i = 0; i < t.numel(); ++i) {
      const int64_t r = (i + 2 * k) % 11;
      if (r >= 5 || (i / 11) % 2 != 0) continue;
      std::complex<double> z = t.get_c(i);
      const int64_t which = (i / 22) % 3;
      z = {which == 1 ? z.real() : specials[r], which == 0 ? z.imag() : specials[(r + i) % 5]};
      t.set_c(i, z);
    }
    return;
  }
  if (!is_floating(t.dtype())) return;
  for (int64_t i = 0; i < t.numel(); ++i) {
    int64_t r = (i + 2 * k) % 11;
    if (r < 5 && (i / 11) % 2 == 0) t.set(i, specials[r]);
  }
}

std::string case_name(std::string_view op, Direction dir, const std::string& dtypes, Variant v, const CaseOptions& opt) {
  return std::string(op) + (dir == Direction::backward ? ".backward " : " ") + dtypes + " " + variant_name(v) +
         " n=" + std::to_string(opt.n) + " seed=" + std::to_string(opt.seed);
}

// Output tensors and which of them are wanted, from the descriptor's signature.
Status finish_case(Case& c, std::mt19937_64& rng, const CaseOptions& opt) {
  const ElementwiseOpInfo& info = op_info(c.desc.op);
  auto sig = infer_signature(c.desc);
  if (!sig) return sig.status();
  const bool bwd = c.desc.direction == Direction::backward;
  if (bwd) {
    ElementwiseDescriptor fwd = c.desc;
    fwd.direction = Direction::forward;
    fwd.outputs.clear();
    fwd.grad_output.reset();
    auto fsig = infer_signature(fwd);
    if (!fsig) return fsig.status();
    HostTensor dy(c.desc.grad_output ? c.desc.grad_output->dtype : fsig->outputs[0].dtype, sig->iteration_shape);
    fill_uniform(dy, rng, opt.dy_lo, opt.dy_hi);
    c.inputs.insert(c.inputs.begin(), std::move(dy));
    c.input_is_scalar.insert(c.input_is_scalar.begin(), false);
  }
  for (size_t i = 0; i < sig->outputs.size(); ++i) {
    const Operand& o = sig->outputs[i];
    c.outputs.emplace_back(o.dtype, o.shape, o.strides);
    bool wanted = true;
    if (bwd) {
      const Operand& in = c.desc.inputs[i];
      wanted = !in.is_scalar && (is_floating(in.dtype) || is_complex(in.dtype)) &&
               !(info.category == ElementwiseCategory::where && i == 0);
    }
    c.output_wanted.push_back(wanted);
  }
  return Status::ok();
}

}  // namespace

ElementwiseArgs Case::args() {
  ElementwiseArgs a;
  a.scalars = scalars;
  for (size_t k = 0; k < inputs.size(); ++k)
    if (!input_is_scalar[k]) a.inputs[k] = inputs[k].ref();
  for (size_t k = 0; k < outputs.size(); ++k)
    if (output_wanted[k]) a.outputs[k] = outputs[k].mut();
  return a;
}

Result<Case> make_case(ElementwiseOp op, DType dtype, Direction dir, Variant v, const CaseOptions& opt) {
  const ElementwiseOpInfo& info = op_info(op);
  const ElementwiseCategory cat = info.category;
  if (cat == ElementwiseCategory::cast) return invalid_argument("make_case: use make_cast_case for casts");
  std::mt19937_64 rng(opt.seed);
  Case c;
  c.desc.op = op;
  c.desc.direction = dir;
  c.desc.attrs = test_attrs(op);
  const int arity = info.arity;
  const bool gated = cat == ElementwiseCategory::gated;
  const bool prelu = cat == ElementwiseCategory::prelu;
  if (v == Variant::scalar && (arity < 2 || prelu)) return not_supported("make_case: no scalar variant for this op");

  for (int i = 0; i < arity; ++i) {
    const DType dt = (cat == ElementwiseCategory::where && i == 0) ? DType::boolean : dtype;
    if (v == Variant::scalar && i == arity - 1) {
      c.scalars[static_cast<size_t>(i)] = random_scalar(rng, op, i, dt);
      c.desc.inputs.push_back(Operand::scalar(c.scalars[static_cast<size_t>(i)].dtype));
      c.inputs.emplace_back();
      c.input_is_scalar.push_back(true);
      continue;
    }
    std::vector<int64_t> shape, strides;
    switch (v) {
      case Variant::contiguous:
      case Variant::specials:
      case Variant::scalar:
        if (gated) shape = {opt.n, 2 * opt.gated_half};
        else if (prelu) shape = i == 0 ? std::vector<int64_t>{opt.n, 3} : std::vector<int64_t>{3};
        else shape = {opt.n};
        break;
      case Variant::strided:
        if (gated) { shape = {37, 58}; strides = {1, 37}; }
        else if (prelu && i == 1) { shape = {29}; strides = {2}; }
        else if (i == 0) { shape = {37, 29}; strides = {1, 37}; }
        else { shape = {37, 29}; strides = {58, 2}; }
        break;
      case Variant::broadcast:
        if (gated) { shape = {37, 58}; strides = {0, 1}; }
        else if (prelu) shape = i == 0 ? std::vector<int64_t>{37, 29} : std::vector<int64_t>{1};
        else if (arity == 1) { shape = {37, 29}; strides = {0, 1}; }
        else if (i == 0) shape = {37, 29};
        else if (i == 1) shape = {29};
        else shape = {37, 1};
        break;
    }
    HostTensor t(dt, shape, strides);
    fill_domain(t, rng, op, i);
    if (v == Variant::specials) sprinkle_specials(t, i);
    c.desc.inputs.push_back(t.operand());
    c.inputs.push_back(std::move(t));
    c.input_is_scalar.push_back(false);
  }
  if (opt.ties && arity == 2 && !prelu && !c.input_is_scalar[1] && c.inputs[0].shape() == c.inputs[1].shape())
    for (int64_t e = 0; e < c.inputs[0].numel(); e += 3) c.inputs[1].set_c(e, c.inputs[0].get_c(e));
  if (v == Variant::strided && dir == Direction::forward && !gated) {
    // A transposed output: the kernels must follow the output's strides.
    auto sig = infer_signature(c.desc);
    if (!sig) return sig.status();
    c.desc.outputs = {Operand::tensor(sig->outputs[0].dtype, sig->outputs[0].shape, {1, 37})};
  }
  std::string dts = std::string(dtype_name(dtype));
  c.name = case_name(info.name, dir, dts, v, opt);
  BARACUDA_TRY(finish_case(c, rng, opt));
  return c;
}

Result<Case> make_cast_case(DType src, DType dst, Direction dir, Variant v, const CaseOptions& opt, double scale,
                            bool amax) {
  std::mt19937_64 rng(opt.seed);
  Case c;
  c.desc.op = ElementwiseOp::cast;
  c.desc.direction = dir;
  c.desc.output_dtype = dst;
  c.desc.attrs.scale = scale;
  c.desc.attrs.amax = amax;
  std::vector<int64_t> shape{opt.n}, strides;
  if (v == Variant::strided) { shape = {37, 29}; strides = {1, 37}; }
  if (v == Variant::broadcast) { shape = {37, 29}; strides = {0, 1}; }
  HostTensor x(src, shape, strides);
  if (is_floating(src) || is_complex(src)) {
    // Half the values small, half large enough to saturate narrow targets (complex: both parts).
    std::uniform_real_distribution<double> small(-3.0, 3.0), large(-1000.0, 1000.0);
    for (int64_t i = 0; i < x.numel(); ++i) {
      auto& d = (i % 2 == 0 || dir == Direction::backward) ? small : large;
      const double re = d(rng);
      x.set_c(i, {re, is_complex(src) ? d(rng) : 0.0});
    }
  } else {
    int64_t lim = src == DType::i64 || src == DType::i32 ? 100000 : src == DType::i16 ? 30000 : 127;
    if (src == DType::u8) fill_uniform(x, rng, 0, 255);
    else fill_uniform(x, rng, static_cast<double>(-lim), static_cast<double>(lim));
  }
  if (v == Variant::specials) sprinkle_specials(x, 0);
  c.desc.inputs.push_back(x.operand());
  c.inputs.push_back(std::move(x));
  c.input_is_scalar.push_back(false);
  std::string dts = std::string(dtype_name(src)) + "->" + std::string(dtype_name(dst));
  if (scale != 1.0) dts += " scale=" + std::to_string(scale);
  if (amax) dts += " +amax";
  c.name = case_name("cast", dir, dts, v, opt);
  BARACUDA_TRY(finish_case(c, rng, opt));
  return c;
}

Status run_case_cpu(Case& c) {
  auto plan = ElementwisePlan::select(Stream::cpu(), c.desc);
  if (!plan) return plan.status();
  return plan->run(Stream::cpu(), {}, c.args());
}

// ---------------------------------------------------------------------------------------------
// Comparison

Tolerance default_tolerance(DType out) {
  switch (out) {
    case DType::f64: return {1e-12, 1e-12};
    case DType::f32: return {2e-5, 1e-6};
    case DType::f16: return {2e-3, 1e-5};
    case DType::bf16: return {1.6e-2, 1e-4};
    case DType::f8e4m3: return {0.07, 1e-6};
    case DType::f8e5m2: return {0.13, 1e-6};
    case DType::c64: return {2e-5, 1e-6};
    case DType::c128: return {1e-12, 1e-12};
    default: return {0.0, 0.0};
  }
}

std::string CompareResult::to_string() const {
  if (mismatches == 0) return "all elements match";
  char buf[160];
  std::snprintf(buf, sizeof buf, "%lld mismatches; first at element %lld: got %.17g, want %.17g",
                static_cast<long long>(mismatches), static_cast<long long>(first.index), first.got, first.want);
  return buf;
}

CompareResult compare(const HostTensor& got, const HostTensor& want, Tolerance tol) {
  CompareResult r;
  if (got.dtype() != want.dtype() || got.shape() != want.shape()) {
    r.mismatches = 1;
    r.first.index = -1;
    return r;
  }
  const DType dt = got.dtype();
  auto note = [&](int64_t i, double g, double w) {
    if (r.mismatches++ == 0) r.first = {i, g, w};
  };
  for (int64_t i = 0; i < got.numel(); ++i) {
    if (is_complex(dt)) {
      const std::complex<double> g = got.get_c(i), w = want.get_c(i);
      bool special = false, same = true;
      for (int part = 0; part < 2; ++part) {
        const double gp = part ? g.imag() : g.real(), wp = part ? w.imag() : w.real();
        if (std::isnan(gp) || std::isnan(wp) || std::isinf(gp) || std::isinf(wp)) {
          special = true;
          same = same && (std::isnan(gp) ? std::isnan(wp) : gp == wp);
        }
      }
      if (special ? !same : std::abs(g - w) > tol.atol + tol.rtol * std::abs(w)) note(i, g.real(), w.real());
    } else if (dt == DType::boolean) {
      uint8_t g, w;
      std::memcpy(&g, got.elem(i), 1);
      std::memcpy(&w, want.elem(i), 1);
      if (g != w || g > 1) note(i, g, w);
    } else if (!is_floating(dt)) {
      int64_t g = got.get_int(i), w = want.get_int(i);
      if (g != w) note(i, static_cast<double>(g), static_cast<double>(w));
    } else {
      double g = got.get(i), w = want.get(i);
      if (std::isnan(w) || std::isnan(g)) {
        if (std::isnan(w) != std::isnan(g)) note(i, g, w);
      } else if (std::isinf(w) || std::isinf(g)) {
        if (g != w) note(i, g, w);
      } else if (std::fabs(g - w) > tol.atol + tol.rtol * std::fabs(w)) {
        note(i, g, w);
      }
    }
  }
  return r;
}

}  // namespace bt
