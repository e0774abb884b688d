// DLPack objects (numpy, torch, CuPy, JAX, ...) -> baracuda tensor views, zero-copy.
#include <algorithm>
#include <charconv>

#include "bindings.hpp"

namespace baracuda::py {
namespace {

namespace dl = nb::dlpack;

std::string dlpack_dtype_string(dl::dtype dt) {
  const char* kind = "code";
  switch (static_cast<dl::dtype_code>(dt.code)) {
    case dl::dtype_code::Int: kind = "int"; break;
    case dl::dtype_code::UInt: kind = "uint"; break;
    case dl::dtype_code::Float: kind = "float"; break;
    case dl::dtype_code::Bfloat: kind = "bfloat"; break;
    case dl::dtype_code::Complex: kind = "complex"; break;
    case dl::dtype_code::Bool: kind = "bool"; break;
    case dl::dtype_code::Float8_E4M3: kind = "float8_e4m3"; break;
    case dl::dtype_code::Float8_E4M3FNUZ: kind = "float8_e4m3fnuz"; break;
    case dl::dtype_code::Float8_E5M2FNUZ: kind = "float8_e5m2fnuz"; break;
    case dl::dtype_code::Float8_E8M0FNU: kind = "float8_e8m0fnu"; break;
    default: break;
  }
  std::string s = std::string(kind) + std::to_string(dt.bits);
  if (dt.lanes != 1) s += "x" + std::to_string(dt.lanes);
  return s;
}

template <class Array, class Ptr>
TensorView<Ptr> make_view(const Array& a, Ptr data, nb::handle dtype_override, const char* what) {
  DType dt;
  if (dtype_override.is_valid() && !dtype_override.is_none()) {
    // Reinterpret the elements (e.g. uint8 storage of fp8, uint16 storage of bf16): sizes must match.
    dt = parse_dtype(nb::cast<std::string_view>(dtype_override));
    const size_t bytes = (static_cast<size_t>(a.dtype().bits) * a.dtype().lanes + 7) / 8;
    if (bytes != dtype_size(dt))
      throw_dtype_error(std::string(what) + ": cannot view DLPack " + dlpack_dtype_string(a.dtype()) +
                        " elements as " + std::string(dtype_name(dt)) + " (different element size)");
  } else {
    dt = dtype_from_dlpack(a.dtype());
  }
  const size_t rank = a.ndim();
  if (rank > static_cast<size_t>(kMaxRank))
    throw_invalid(std::string(what) + " has rank " + std::to_string(rank) + ", baracuda supports at most " +
                  std::to_string(kMaxRank));
  int64_t sizes[kMaxRank] = {};
  int64_t strides[kMaxRank] = {};
  bool empty = false;
  for (size_t i = 0; i < rank; ++i) {
    sizes[i] = static_cast<int64_t>(a.shape(i));
    strides[i] = a.stride(i);
    empty |= sizes[i] == 0;
  }
  // An empty tensor's strides are arbitrary (numpy exports zeros): describe it as contiguous, as
  // the Python layer's specs do.
  if (empty)
    for (int64_t i = static_cast<int64_t>(rank) - 1, acc = 1; i >= 0; --i) {
      strides[i] = acc;
      acc *= std::max<int64_t>(sizes[i], 1);
    }
  Device dev = device_from_dlpack(a.device_type(), a.device_id());
  TensorView<Ptr> t;
  t.data = data;
  t.dtype = dt;
  t.device = dev;
  t.layout = unwrap(Layout::make(std::span<const int64_t>(sizes, rank), std::span<const int64_t>(strides, rank)));
  return t;
}

// Splits a tensor argument into (array object, optional dtype override).
std::pair<nb::handle, nb::handle> split_arg(nb::handle obj) {
  if (nb::isinstance<nb::tuple>(obj)) {
    nb::tuple t = nb::borrow<nb::tuple>(obj);
    if (t.size() != 2) throw nb::type_error("a tensor argument tuple must be (array, dtype name)");
    return {t[0], t[1]};
  }
  return {obj, nb::handle()};
}

std::string py_type_name(nb::handle obj) { return nb::cast<std::string>(nb::type_name(obj.type())); }

}  // namespace

DType parse_dtype(std::string_view name) {
  if (auto t = dtype_from_name(name)) return *t;
  throw_dtype_error("unknown baracuda dtype '" + std::string(name) +
                    "' (f64 f32 f16 bf16 f8e4m3 f8e5m2 i64 i32 i16 i8 u8 bool c64 c128)");
}

Device parse_device(std::string_view name) {
  if (name == "cpu") return Device::cpu();
  if (name.starts_with("cuda")) {
    std::string_view rest = name.substr(4);
    int ordinal = 0;
    if (!rest.empty()) {
      if (rest[0] != ':') throw_invalid("device '" + std::string(name) + "': expected 'cpu', 'cuda' or 'cuda:N'");
      rest.remove_prefix(1);
      auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), ordinal);
      if (ec != std::errc() || p != rest.data() + rest.size() || ordinal < 0)
        throw_invalid("device '" + std::string(name) + "': expected 'cpu', 'cuda' or 'cuda:N'");
    }
    return Device{DeviceKind::cuda, ordinal, 0};
  }
  throw_invalid("device '" + std::string(name) + "': expected 'cpu', 'cuda' or 'cuda:N'");
}

std::string device_name(const Device& d) { return d.is_cpu() ? "cpu" : "cuda:" + std::to_string(d.ordinal); }

DType dtype_from_dlpack(dl::dtype dt) {
  if (dt.lanes == 1) {
    switch (static_cast<dl::dtype_code>(dt.code)) {
      case dl::dtype_code::Float:
        if (dt.bits == 64) return DType::f64;
        if (dt.bits == 32) return DType::f32;
        if (dt.bits == 16) return DType::f16;
        break;
      case dl::dtype_code::Bfloat:
        if (dt.bits == 16) return DType::bf16;
        break;
      case dl::dtype_code::Int:
        if (dt.bits == 64) return DType::i64;
        if (dt.bits == 32) return DType::i32;
        if (dt.bits == 16) return DType::i16;
        if (dt.bits == 8) return DType::i8;
        break;
      case dl::dtype_code::UInt:
        if (dt.bits == 8) return DType::u8;
        break;
      case dl::dtype_code::Bool:
        if (dt.bits == 8) return DType::boolean;
        break;
      case dl::dtype_code::Complex:
        if (dt.bits == 64) return DType::c64;
        if (dt.bits == 128) return DType::c128;
        break;
      // OCP fp8 (torch.float8_e4m3fn / float8_e5m2): baracuda's f8e4m3 is the finite-only "fn" variant.
      case dl::dtype_code::Float8_E4M3FN:
        if (dt.bits == 8) return DType::f8e4m3;
        break;
      case dl::dtype_code::Float8_E5M2:
        if (dt.bits == 8) return DType::f8e5m2;
        break;
      default: break;
    }
  }
  throw_dtype_error("baracuda has no dtype for DLPack " + dlpack_dtype_string(dt) +
                    " (supported: float16/32/64, bfloat16, float8_e4m3fn, float8_e5m2, int8/16/32/64, uint8, bool, "
                    "complex64/128)");
}

Device device_from_dlpack(int32_t device_type, int32_t device_id) {
  switch (device_type) {
    case nb::device::cpu::value:
    case nb::device::cuda_host::value:  // pinned host memory is addressed by the CPU
      return Device::cpu();
    case nb::device::cuda::value:
    case nb::device::cuda_managed::value:
      return Device{DeviceKind::cuda, device_id, 0};
    default:
      throw_invalid("tensor on DLPack device type " + std::to_string(device_type) +
                    ": baracuda takes CPU or CUDA memory");
  }
}

TensorRef to_tensor_ref(nb::handle obj, std::vector<InArray>& keep) {
  auto [arr, override_dtype] = split_arg(obj);
  InArray a;
  if (!nb::try_cast(arr, a, /*convert=*/false))
    throw nb::type_error(("expected a DLPack-compatible array (numpy, torch, cupy, jax, ...), got " + py_type_name(arr)).c_str());
  keep.push_back(a);
  return make_view<InArray, const void*>(a, a.data(), override_dtype, "input");
}

TensorMut to_tensor_mut(nb::handle obj, std::vector<OutArray>& keep) {
  auto [arr, override_dtype] = split_arg(obj);
  OutArray a;
  if (!nb::try_cast(arr, a, /*convert=*/false))
    throw nb::type_error(("expected a writable DLPack-compatible array (numpy, torch, cupy, ...), got " + py_type_name(arr))
                             .c_str());
  keep.push_back(a);
  return make_view<OutArray, void*>(a, a.data(), override_dtype, "output");
}

Scalar to_scalar(nb::handle obj) {
  if (PyBool_Check(obj.ptr())) return Scalar::of(obj.ptr() == Py_True);
  if (PyLong_Check(obj.ptr())) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(obj.ptr(), &overflow);
    if (overflow) throw_invalid("Python int scalar " + nb::cast<std::string>(nb::str(obj)) + " does not fit in int64");
    return Scalar::of(static_cast<int64_t>(v));
  }
  if (PyFloat_Check(obj.ptr())) return Scalar::of(PyFloat_AsDouble(obj.ptr()));
  throw nb::type_error(("a scalar operand must be a Python bool, int or float, got " + py_type_name(obj)).c_str());
}

void register_tensors(nb::module_& m) {
  m.def(
      "tensor_info",
      [](nb::handle obj, bool writable) {
        nb::dict d;
        TensorRef t;
        if (writable) {
          std::vector<OutArray> keep;
          t = as_ref(to_tensor_mut(obj, keep));
        } else {
          std::vector<InArray> keep;
          t = to_tensor_ref(obj, keep);
        }
        d["dtype"] = std::string(dtype_name(t.dtype));
        d["shape"] = nb::tuple(nb::cast(std::vector<int64_t>(t.shape().begin(), t.shape().end())));
        d["strides"] = nb::tuple(nb::cast(std::vector<int64_t>(t.layout.stride().begin(), t.layout.stride().end())));
        d["device"] = device_name(t.device);
        d["data_ptr"] = reinterpret_cast<uintptr_t>(t.data);
        d["alignment"] = t.alignment();
        return d;
      },
      nb::arg("tensor"), nb::arg("writable") = false,
      "How baracuda sees a DLPack object (or an (array, dtype name) tuple): dtype, shape, strides (elements), "
      "device, data pointer and its alignment. Zero-copy.");
}

}  // namespace baracuda::py
