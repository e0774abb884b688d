// The CUDA scan plan against the CPU reference plan (Stream::cpu()) on the same random inputs:
// every op x dtype, scans along the first / middle / last axis, lengths 1, 7, 33, 1000, 4097,
// 100000 (rows up to 4096 take the warp-per-row kernel, longer ones the look-back: the line kernel
// when contiguous, forward and 16-byte aligned, scan_lookback_kernel otherwise), a flat
// 3'000'000 scan, shape (1000000, 8) along dim 0, strided and transposed inputs,
// exclusive / reverse, the backward of every op (cumprod with zeros in x, strided x and dy, dy in
// another dtype through dtype=), dtype= conversions between every input and output dtype, 0-d and
// empty tensors. Outputs AND the workspace are poisoned (0xFF) before every run, so unwritten
// elements and un-reset look-back flags show up; every case runs twice and must be bitwise
// identical (determinism).
//
// Tolerances: cummax/cummin values and indices, and integer scans, are exact. Floating scans are
// compared with the f64 reference through the summation-order bound: for output i of a line of
// length n, |got - want| <= 8 sqrt(n) eps(accumulator) * S_i + 2 eps(output) |want|, where S_i is
// sum |x| for cumsum, |want| for cumprod (relative error of a product) and 1 + |want| for
// logcumsumexp (absolute error of a log). Backward results are compared through the same factor
// times a magnitude computed by the reference itself: the backward of |dy| (and |x| for cumprod),
// i.e. the sum of the absolute values of the terms that make up dx_i (x48 for logcumsumexp, whose
// terms go through exp of an f32 log-sum-exp of magnitude up to ~40).
//
// Without a GPU every test skips. The last line printed is
//   "GPU scan: N passed, M failed, K not supported"
// (K stays 0: every descriptor here must have a CUDA plan; a refusal counts as a failure).
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <tuple>
#include <random>
#include <string>
#include <vector>

#include "baracuda/baracuda.hpp"
#include "gpu_test_support.hpp"
#include "device_buffer.hpp"
#include "gtest_helpers.hpp"
#include "test_support.hpp"

namespace {

using namespace baracuda;
using bt::DeviceBuffer;
using bt::HostTensor;

using bt::have_gpu;
BT_GPU_FAMILY_COUNTS("scan");  // the "GPU scan: ..." summary line

constexpr ScanOp kOps[] = {ScanOp::cumsum, ScanOp::cumprod, ScanOp::cummax, ScanOp::cummin, ScanOp::logcumsumexp};
constexpr DType kFloat[] = {DType::f32, DType::f16, DType::bf16, DType::f64};
constexpr DType kAll[] = {DType::f32, DType::f16, DType::bf16, DType::f64, DType::i64,
                          DType::i32, DType::i16, DType::i8,   DType::u8,  DType::boolean};

double eps_of(DType t) {
  switch (t) {
    case DType::f64: return 0x1p-52;
    case DType::f32: return 0x1p-23;
    case DType::f16: return 0x1p-10;
    case DType::bf16: return 0x1p-7;
    default: return 0.0;
  }
}

// Random inputs suited to the op: cumsum in [-1, 1]; cumprod magnitudes near 1 (no overflow over
// millions of factors); cummax/cummin small integers (many ties) plus a few NaNs; logcumsumexp in
// [-20, 20]. Integer dtypes get small integers.
void fill_input(HostTensor& x, ScanOp op, std::mt19937_64& rng) {
  const DType t = x.dtype();
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::uniform_int_distribution<int> small(-20, 20), ties(0, 15), coin(0, 1), nan_pick(0, 97);
  for (int64_t i = 0; i < x.numel(); ++i) {
    if (t == DType::boolean) { x.set_int(i, coin(rng)); continue; }
    if (!is_floating(t)) {
      int v = op == ScanOp::cummax || op == ScanOp::cummin ? ties(rng) : op == ScanOp::cumprod ? 1 + coin(rng) : small(rng);
      if (t == DType::u8 && v < 0) v = -v;
      if (op == ScanOp::cumprod && coin(rng) && t != DType::u8) v = -v;
      x.set_int(i, v);
      continue;
    }
    switch (op) {
      case ScanOp::cumsum: x.set(i, u(rng)); break;
      case ScanOp::cumprod: x.set(i, (coin(rng) ? 1 : -1) * (1.0 + 0.01 * u(rng))); break;
      case ScanOp::cummax: case ScanOp::cummin:
        x.set(i, nan_pick(rng) == 0 ? std::nan("") : ties(rng));
        break;
      case ScanOp::logcumsumexp: x.set(i, 20.0 * u(rng)); break;
    }
  }
}

struct GpuCase {
  ScanDescriptor desc;
  HostTensor x;
  HostTensor dy;  // backward only
};

// Per-element bound on the f32/16-bit error (see the header comment); `line_abs` is the running
// sum of |x| along the line, precomputed by the caller in the output's element order.
// The spacing of the output dtype's subnormals: below the smallest normal the output's rounding
// error is absolute (a bf16 cumprod decaying through 1e-39 is off by one such unit).
double subnormal_unit(DType t) {
  switch (t) {
    case DType::f64: return std::numeric_limits<double>::denorm_min();
    case DType::f32: return std::numeric_limits<float>::denorm_min();
    case DType::f16: return std::ldexp(1.0, -24);
    case DType::bf16: return std::ldexp(1.0, -133);
    default: return 0.0;
  }
}

double tolerance(ScanOp op, DType acc, DType out, int64_t n, double want, double running_abs) {
  const double k = 8.0 * std::sqrt(static_cast<double>(std::max<int64_t>(n, 1))) * eps_of(acc);
  double scale = std::fabs(want);
  if (op == ScanOp::cumsum) scale = running_abs;
  if (op == ScanOp::logcumsumexp) scale = 1.0 + std::fabs(want);
  return k * scale + 2.0 * eps_of(out) * std::fabs(want) + 2.0 * subnormal_unit(out) + 1e-300;
}

bool within(ScanOp op, DType acc, DType out, int64_t n, double got, double want, double running_abs) {
  if (std::isnan(want) || std::isinf(want)) return std::isnan(want) ? std::isnan(got) : got == want;
  return std::fabs(got - want) <= tolerance(op, acc, out, n, want, running_abs);
}

// Backward: |got - want| <= 8 sqrt(n) eps(acc) * c * magnitude + 2 eps(out) |want| (+ subnormals),
// `magnitude` being the reference's sum of |terms| of dx_i (see the header comment).
bool within_backward(ScanOp op, DType acc, DType out, int64_t n, double got, double want, double magnitude) {
  if (std::isnan(want) || std::isinf(want)) return std::isnan(want) ? std::isnan(got) : got == want;
  const double k = 8.0 * std::sqrt(static_cast<double>(std::max<int64_t>(n, 1))) * eps_of(acc);
  const double c = op == ScanOp::logcumsumexp ? 48.0 : op == ScanOp::cumprod ? 2.0 : 1.0;
  const double tol = k * c * magnitude + 2.0 * eps_of(out) * std::fabs(want) + 2.0 * subnormal_unit(out) + 1e-300;
  return std::fabs(got - want) <= tol;
}

// Upload a host tensor's whole storage (strides and gaps included).
bool upload(const HostTensor& h, DeviceBuffer& d) {
  d = DeviceBuffer(h.storage().size());
  return d && d.upload(h.storage().data(), h.storage().size()) == cudaSuccess;
}

void run_case(const GpuCase& c) {
  const ScanDescriptor& d = c.desc;
  const std::string what = ScanFamily::describe(d);
  SCOPED_TRACE(what);
  auto stream = Stream::cuda();
  ASSERT_TRUE(stream) << stream.status().to_string();
  auto plan = ScanPlan::select(*stream, d);
  if (!plan) {
    ++counts().failed;
    FAIL() << "CUDA select failed: " << plan.status().to_string();
  }
  auto sig = infer_signature(d);
  ASSERT_TRUE(sig);
  const bool bwd = d.direction == Direction::backward;

  // The reference.
  auto ref_plan = ScanPlan::select(Stream::cpu(), d);
  ASSERT_TRUE(ref_plan) << ref_plan.status().to_string();
  std::vector<HostTensor> want;
  for (const Operand& o : sig->outputs) want.emplace_back(o.dtype, o.shape, o.strides);
  ScanArgs ra;
  ra.inputs[0] = bwd ? c.dy.ref() : c.x.ref();
  if (bwd) ra.inputs[1] = c.x.ref();
  for (size_t i = 0; i < want.size(); ++i) ra.outputs[i] = want[i].mut();
  ASSERT_OK(ref_plan->run(Stream::cpu(), {}, ra));

  // Backward: the magnitude of the terms of each dx_i, from the reference on |dy| (and |x|).
  HostTensor magnitude;
  if (bwd) {
    HostTensor abs_x64(DType::f64, c.x.shape()), abs_dy64(DType::f64, c.dy.shape());
    for (int64_t i = 0; i < c.x.numel(); ++i) abs_x64.set(i, d.op == ScanOp::cumprod ? std::fabs(c.x.get(i)) : c.x.get(i));
    for (int64_t i = 0; i < c.dy.numel(); ++i) abs_dy64.set(i, std::fabs(c.dy.get(i)));
    magnitude = HostTensor(DType::f64, c.x.shape());
    ScanDescriptor md = d;  // same op, axis, exclusive, reverse; dense f64 operands
    md.input = abs_x64.operand();
    md.grad_output = abs_dy64.operand();
    md.output_dtype.reset();
    md.outputs.clear();
    auto mplan = ScanPlan::select(Stream::cpu(), md);
    ASSERT_TRUE(mplan) << mplan.status().to_string();
    ScanArgs ma;
    ma.inputs[0] = abs_dy64.ref();
    ma.inputs[1] = abs_x64.ref();
    ma.outputs[0] = magnitude.mut();
    ASSERT_OK(mplan->run(Stream::cpu(), {}, ma));
  }

  // The device run, twice, with poisoned outputs and workspace.
  DeviceBuffer dx_in, ddy;
  ASSERT_TRUE(upload(c.x, dx_in));
  if (bwd) {
    ASSERT_TRUE(upload(c.dy, ddy));
  }
  const Device dev = stream->device();
  std::vector<std::vector<HostTensor>> got(2);
  for (int rep = 0; rep < 2; ++rep) {
    std::vector<DeviceBuffer> douts;
    ScanArgs a;
    a.inputs[0] = bwd ? c.dy.ref_at(ddy.get(), dev) : c.x.ref_at(dx_in.get(), dev);
    if (bwd) a.inputs[1] = c.x.ref_at(dx_in.get(), dev);
    for (size_t i = 0; i < want.size(); ++i) {
      got[rep].emplace_back(want[i].dtype(), want[i].shape(), want[i].strides());
      douts.emplace_back(got[rep][i].storage().size());
      ASSERT_TRUE(douts[i]);
      ASSERT_EQ(douts[i].fill(0xFF), cudaSuccess);
      TensorRef r = got[rep][i].ref_at(douts[i].get(), dev);
      a.outputs[i] = TensorMut{const_cast<void*>(r.data), r.dtype, r.device, r.layout};
    }
    DeviceBuffer ws(plan->workspace_size());
    ASSERT_TRUE(ws);
    ASSERT_EQ(ws.fill(0xFF), cudaSuccess);
    ASSERT_OK(plan->can_implement(a));
    ASSERT_OK(plan->run(*stream, Workspace{ws.get(), plan->workspace_size()}, a));
    ASSERT_EQ(cudaStreamSynchronize(static_cast<cudaStream_t>(stream->cuda_stream())), cudaSuccess);
    for (size_t i = 0; i < want.size(); ++i)
      ASSERT_EQ(douts[i].download(got[rep][i].storage().data(), got[rep][i].storage().size()), cudaSuccess);
  }

  // Compare.
  const auto& shape = d.input.shape;
  const int rank = static_cast<int>(shape.size());
  const int axis = sig->axis;
  const int64_t n = rank == 0 ? 1 : shape[axis];
  int64_t inner = 1;
  for (int i = axis + 1; i < rank; ++i) inner *= shape[i];
  const HostTensor& src = bwd ? c.dy : c.x;
  // Running sum of |source| in scan order for the cumsum bound (the backward scans dy the other way).
  const bool scan_reverse = d.reverse != bwd;
  std::vector<double> running(static_cast<size_t>(c.x.numel()), 0.0);
  for (int64_t line0 = 0; line0 < c.x.numel(); ++line0) {
    if ((line0 / inner) % n != 0) continue;  // line starts: position 0 along the axis
    double acc = 0;
    for (int64_t j = 0; j < n; ++j) {
      const int64_t p = scan_reverse ? n - 1 - j : j;
      const int64_t lin = line0 + p * inner;
      acc += std::fabs(src.get(lin));
      running[static_cast<size_t>(lin)] = acc;
    }
  }
  int bad = 0;
  for (size_t o = 0; o < want.size(); ++o) {
    const DType t = want[o].dtype();
    for (int64_t i = 0; i < want[o].numel() && bad < 5; ++i) {
      const double g = got[0][o].get(i), w = want[o].get(i);
      bool ok;
      if (!is_floating(t)) ok = got[0][o].get_int(i) == want[o].get_int(i);
      else if (bwd) ok = within_backward(d.op, sig->accumulate, t, n, g, w, magnitude.get(i));
      else if (d.op == ScanOp::cummax || d.op == ScanOp::cummin) ok = std::isnan(w) ? std::isnan(g) : g == w;
      else ok = within(d.op, sig->accumulate, t, n, g, w, running[static_cast<size_t>(i)]);
      if (!ok) {
        ++bad;
        ADD_FAILURE() << "output " << o << " element " << i << ": got " << g << ", want " << w;
      }
    }
    if (std::memcmp(got[0][o].storage().data(), got[1][o].storage().data(), got[0][o].storage().size()) != 0) {
      ++bad;
      ADD_FAILURE() << "output " << o << " differs between two runs (not deterministic)";
    }
  }
  if (bad) {
    ++counts().failed;
    std::printf("FAILED: %s\n", what.c_str());
  } else {
    ++counts().passed;
  }
}

GpuCase make_case(ScanOp op, DType t, std::vector<int64_t> shape, int axis, bool exclusive = false, bool reverse = false,
                  std::vector<int64_t> strides = {}, uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  GpuCase c;
  c.x = HostTensor(t, shape, strides);
  fill_input(c.x, op, rng);
  c.desc.op = op;
  c.desc.input = c.x.operand();
  c.desc.axis = axis;
  c.desc.exclusive = exclusive;
  c.desc.reverse = reverse;
  return c;
}

bool valid_pair(ScanOp op, DType t) { return op != ScanOp::logcumsumexp || is_floating(t); }

TEST(ScanGpu, EveryOpAndDtypeAlongFirstMiddleLastAxes) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  const int64_t lengths[] = {1, 7, 33, 1000, 4097, 100000};
  for (ScanOp op : kOps)
    for (DType t : kAll) {
      if (!valid_pair(op, t)) continue;
      for (int64_t len : lengths) {
        run_case(make_case(op, t, {3, len}, -1));     // last axis (rows)
        run_case(make_case(op, t, {len, 3}, 0));      // first axis (columns)
        if (len <= 4097) run_case(make_case(op, t, {2, len, 5}, 1));  // middle axis
      }
    }
}

TEST(ScanGpu, ExclusiveAndReverse) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  for (ScanOp op : kOps)
    for (DType t : {DType::f32, DType::bf16, DType::i32})
      for (bool exclusive : {false, true})
        for (bool reverse : {false, true}) {
          if (!valid_pair(op, t) || (exclusive && (op == ScanOp::cummax || op == ScanOp::cummin))) continue;
          // Look-back lines, columns (W = 4 and W = 256 with two column blocks), warp-per-row rows.
          for (auto [shape, axis] : {std::pair<std::vector<int64_t>, int>{{4, 5000}, 1}, {{5000, 4}, 0}, {{3, 33, 300}, 1},
                                     {{6, 1000}, 1}, {{2, 3, 4096}, -1}})
            run_case(make_case(op, t, shape, axis, exclusive, reverse));
        }
}

TEST(ScanGpu, LongFlatScans) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  for (ScanOp op : kOps)
    for (DType t : {DType::f32, DType::bf16, DType::i32}) {
      if (!valid_pair(op, t)) continue;
      run_case(make_case(op, t, {3000000}, 0));
    }
  run_case(make_case(ScanOp::cumsum, DType::f32, {3000000}, 0, true, true));
  run_case(make_case(ScanOp::cumsum, DType::f64, {3000000}, 0));
}

TEST(ScanGpu, TallNarrowAlongDim0) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  // torch's pathological shape (pytorch issue 122170): (1M, 8) along dim 0.
  for (ScanOp op : kOps) run_case(make_case(op, DType::f32, {1000000, 8}, 0));
  run_case(make_case(ScanOp::cumsum, DType::bf16, {1000000, 8}, 0, false, true));
  run_case(make_case(ScanOp::cumsum, DType::f32, {1000, 300}, 0));  // inner 300: two column blocks
  run_case(make_case(ScanOp::cumsum, DType::f32, {4, 1000, 3}, 1));
}

TEST(ScanGpu, StridedInputs) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  for (ScanOp op : kOps)
    for (DType t : {DType::f32, DType::f16, DType::i64}) {
      if (!valid_pair(op, t)) continue;
      // A transposed view: [1000, 6] with strides [1, 1000], scanned along both dims.
      run_case(make_case(op, t, {1000, 6}, 0, false, false, {1, 1000}));
      run_case(make_case(op, t, {1000, 6}, 1, false, true, {1, 1000}));
      // Gaps: every other element of a wider buffer, a 3-d view with a permuted middle.
      run_case(make_case(op, t, {5, 777}, 1, false, false, {2000, 2}));
      run_case(make_case(op, t, {4, 50, 3}, 1, false, false, {3, 12, 1}));
    }
  // Strided outputs.
  GpuCase c = make_case(ScanOp::cummax, DType::f32, {300, 7}, 0);
  c.desc.outputs = {Operand::tensor(DType::f32, {300, 7}, {1, 300}), Operand::tensor(DType::i64, {300, 7}, {1, 300})};
  run_case(c);
}

TEST(ScanGpu, Backward) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  for (ScanOp op : kOps)
    for (DType t : kFloat)
      for (bool exclusive : {false, true})
        for (bool reverse : {false, true}) {
          if (exclusive && (op == ScanOp::cummax || op == ScanOp::cummin)) continue;
          for (auto [shape, axis] : {std::pair<std::vector<int64_t>, int>{{3, 4097}, 1}, {{4097, 3}, 0}, {{100000}, 0}}) {
            GpuCase c = make_case(op, t, shape, axis, exclusive, reverse);
            c.desc.direction = Direction::backward;
            std::mt19937_64 rng(5);
            c.dy = HostTensor(t, shape);
            fill_input(c.dy, ScanOp::cumsum, rng);
            run_case(c);
          }
        }
}

GpuCase make_backward_case(ScanOp op, DType t, std::vector<int64_t> shape, int axis, bool exclusive, bool reverse,
                           std::vector<int64_t> x_strides = {}, std::vector<int64_t> dy_strides = {},
                           std::optional<DType> output_dtype = std::nullopt) {
  GpuCase c = make_case(op, t, shape, axis, exclusive, reverse, std::move(x_strides));
  c.desc.direction = Direction::backward;
  c.desc.output_dtype = output_dtype;
  std::mt19937_64 rng(5);
  c.dy = HostTensor(output_dtype.value_or(t), shape, dy_strides);
  fill_input(c.dy, ScanOp::cumsum, rng);
  if (!dy_strides.empty() || output_dtype) c.desc.grad_output = c.dy.operand();
  return c;
}

TEST(ScanGpu, CumprodBackwardWithZeros) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  // Zeros at line starts, isolated and in runs: dx must be the product of the other factors (no
  // division), which the reference computes exactly the same way.
  for (DType t : kFloat)
    for (bool exclusive : {false, true})
      for (bool reverse : {false, true})
        for (auto [shape, axis] : {std::pair<std::vector<int64_t>, int>{{3, 4097}, 1}, {{4097, 3}, 0}, {{100000}, 0}, {{7}, 0}}) {
          GpuCase c = make_backward_case(ScanOp::cumprod, t, shape, axis, exclusive, reverse);
          for (int64_t i = 0; i < c.x.numel(); ++i)
            if (i % 37 == 0 || (i % 1001 >= 500 && i % 1001 < 503)) c.x.set(i, 0.0);
          run_case(c);
        }
}

TEST(ScanGpu, BackwardStridedOperands) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  for (ScanOp op : kOps)
    for (DType t : {DType::f32, DType::bf16, DType::f64}) {
      // x transposed, dy with gaps; both axes, forward and reverse.
      run_case(make_backward_case(op, t, {1000, 6}, 0, false, false, {1, 1000}, {12, 2}));
      run_case(make_backward_case(op, t, {1000, 6}, 1, false, true, {1, 1000}, {1, 1000}));
      run_case(make_backward_case(op, t, {4, 50, 3}, 1, false, false, {3, 12, 1}, {}));
      // Wide column groups: W = 32 and W = 256 (one thread per column walks the look-back).
      run_case(make_backward_case(op, t, {2, 700, 20}, 1, false, true));
      run_case(make_backward_case(op, t, {600, 300}, 0, false, false));
    }
}

TEST(ScanGpu, BackwardThroughDtype) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  // dtype= on cumsum / cumprod: dy comes in the output dtype, dx in x's.
  for (ScanOp op : {ScanOp::cumsum, ScanOp::cumprod})
    for (auto [t, o] : {std::pair{DType::f32, DType::f64}, {DType::f16, DType::f32}, {DType::bf16, DType::f64},
                        {DType::f64, DType::f32}, {DType::f32, DType::bf16}})
      for (bool exclusive : {false, true}) {
        run_case(make_backward_case(op, t, {3, 4097}, 1, exclusive, false, {}, {}, o));
        run_case(make_backward_case(op, t, {4097, 3}, 0, exclusive, true, {}, {}, o));
      }
}

TEST(ScanGpu, DtypeConversions) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  constexpr DType kOutputs[] = {DType::f64, DType::f32, DType::f16, DType::bf16, DType::i64,
                                DType::i32, DType::i16, DType::i8,  DType::u8};
  for (ScanOp op : {ScanOp::cumsum, ScanOp::cumprod})
    for (DType t : kAll)
      for (DType o : kOutputs)
        for (auto [shape, axis, exclusive, reverse] :
             {std::tuple<std::vector<int64_t>, int, bool, bool>{{3, 1000}, 1, false, false}, {{1000, 3}, 0, true, false},
              {{2, 4097}, 1, false, true}, {{5, 7}, 1, true, true}}) {
          GpuCase c = make_case(op, t, shape, axis, exclusive, reverse);
          if (op == ScanOp::cumsum && is_floating(t))  // fractions and magnitudes that truncation changes
            for (int64_t i = 0; i < c.x.numel(); ++i) c.x.set(i, 10.0 * c.x.get(i));
          c.desc.output_dtype = o;
          run_case(c);
        }
  // Long lines through many look-back tiles.
  for (DType o : {DType::f64, DType::i32, DType::f16}) {
    GpuCase c = make_case(ScanOp::cumsum, DType::f32, {3000000}, 0);
    c.desc.output_dtype = o;
    run_case(c);
  }
  // Integer wrap-around: int64 sums far beyond int32, stored wrapped (torch's int64 -> int32).
  GpuCase w = make_case(ScanOp::cumsum, DType::i64, {4, 5000}, 1);
  for (int64_t i = 0; i < w.x.numel(); ++i) w.x.set_int(i, (int64_t{1} << 40) + 12345 * i);
  w.desc.output_dtype = DType::i32;
  run_case(w);
}

TEST(ScanGpu, LineKernelEdgesAndClassicFallback) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  // Contiguous forward lines with 16-byte aligned starts, more than one line, take the line kernel:
  // partial last tiles (4100 = one tile + 4, 8200) and partial warps, exclusive, every non-index
  // op. A single line (100003 flat) keeps the classic look-back kernel.
  for (ScanOp op : {ScanOp::cumsum, ScanOp::cumprod, ScanOp::logcumsumexp})
    for (DType t : {DType::f32, DType::bf16, DType::f16, DType::f64, DType::i32, DType::u8}) {
      if (!valid_pair(op, t)) continue;
      for (bool exclusive : {false, true}) {
        run_case(make_case(op, t, {3, 4100}, 1, exclusive));
        run_case(make_case(op, t, {2, 8200}, -1, exclusive));
        run_case(make_case(op, t, {100003}, 0, exclusive));
      }
    }
  // The same launches with the line kernel switched off (scan_lookback_kernel, the A/B baseline).
  ASSERT_EQ(setenv("BARACUDA_SCAN_LINE_KERNEL", "0", 1), 0);
  for (DType t : {DType::f32, DType::bf16}) {
    run_case(make_case(ScanOp::cumsum, t, {3, 4100}, 1));
    run_case(make_case(ScanOp::cumsum, t, {3000000}, 0, true));
  }
  ASSERT_EQ(unsetenv("BARACUDA_SCAN_LINE_KERNEL"), 0);
}

// The tactic the CUDA plan selects for a case, or why selection failed.
std::string tactic_for(const Stream& stream, const GpuCase& c) {
  auto plan = ScanPlan::select(stream, c.desc);
  return plan ? plan->sku().tactic : plan.status().to_string();
}

// False under BARACUDA_TEST_SKIP_LARGE=1: the largest cases are then skipped.
bool large_cases_enabled() {
  const char* skip = std::getenv("BARACUDA_TEST_SKIP_LARGE");
  return !(skip && std::string(skip) == "1");
}

// The two chunked reduce-then-scan kernels (scan_chunked_engine.cuh) for one long contiguous line
// (BARACUDA_SCAN_CHUNK_LOOKBACK=0 picks them over the one-kernel form, the default;
// BARACUDA_SCAN_CHUNKED=0 turns both off): the smallest line they take (2^20),
// lengths that leave a partial tile and a partial last chunk, [1, n] along the last axis, exclusive,
// 16-bit types, and the other commutative ops (cumprod, logcumsumexp). run_case checks every output
// against the reference and that two runs are bitwise equal. The tactic names the kernels; reverse
// and cummax keep the look-back kernels.
TEST(ScanGpu, ChunkedLongLines) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  ASSERT_EQ(unsetenv("BARACUDA_SCAN_CHUNKED"), 0);
  ASSERT_EQ(setenv("BARACUDA_SCAN_CHUNK_LOOKBACK", "0", 1), 0);
  auto stream = Stream::cuda();
  ASSERT_TRUE(stream);
  const auto tactic_of = [&](const GpuCase& c) { return tactic_for(*stream, c); };
  const GpuCase probe = make_case(ScanOp::cumsum, DType::f32, {int64_t{1} << 20}, 0);
  EXPECT_NE(tactic_of(probe).find("reduce-then-scan"), std::string::npos) << tactic_of(probe);
  const GpuCase reversed = make_case(ScanOp::cumsum, DType::f32, {int64_t{1} << 20}, 0, false, true);
  EXPECT_EQ(tactic_of(reversed).find("reduce-then-scan"), std::string::npos) << tactic_of(reversed);
  const GpuCase shorter = make_case(ScanOp::cumsum, DType::f32, {(int64_t{1} << 20) - 1}, 0);
  EXPECT_EQ(tactic_of(shorter).find("reduce-then-scan"), std::string::npos) << tactic_of(shorter);
  for (bool exclusive : {false, true}) {
    run_case(probe);
    run_case(make_case(ScanOp::cumsum, DType::f32, {3000001}, 0, exclusive, false, {}, 7));
    run_case(make_case(ScanOp::cumsum, DType::f32, {1, (int64_t{1} << 22) + 5}, 1, exclusive, false, {}, 8));
    run_case(make_case(ScanOp::cumsum, DType::bf16, {3000003}, 0, exclusive, false, {}, 9));
    run_case(make_case(ScanOp::cumsum, DType::f16, {2100000}, 0, exclusive, false, {}, 10));
  }
  run_case(make_case(ScanOp::cumprod, DType::f32, {3000000}, 0, false, false, {}, 11));
  run_case(make_case(ScanOp::logcumsumexp, DType::f32, {2000000}, 0, false, false, {}, 12));
  run_case(make_case(ScanOp::logcumsumexp, DType::bf16, {2000000}, 0, true, false, {}, 13));
  run_case(make_case(ScanOp::cummax, DType::f32, {2000000}, 0, false, false, {}, 14));  // look-back (indices)
  run_case(make_case(ScanOp::cumsum, DType::f64, {2000000}, 0, false, false, {}, 15));  // look-back (8-byte)
  run_case(make_case(ScanOp::cumsum, DType::i32, {2000000}, 0, false, false, {}, 16));  // i32 -> i64: look-back
  // The A/B switch turns them off.
  ASSERT_EQ(setenv("BARACUDA_SCAN_CHUNKED", "0", 1), 0);
  EXPECT_EQ(tactic_of(probe).find("reduce-then-scan"), std::string::npos) << tactic_of(probe);
  run_case(probe);
  ASSERT_EQ(unsetenv("BARACUDA_SCAN_CHUNKED"), 0);
  ASSERT_EQ(unsetenv("BARACUDA_SCAN_CHUNK_LOOKBACK"), 0);
}

// The legacy kernel for one long line (BARACUDA_SCAN_FLAT=legacy): the chunked scan as one kernel (scan_chunk_onchip_kernel: each
// chunk held in shared memory, folded, looked back over and scanned from there). Chunks of the
// default 6 tiles and forced to 1, 3, 4 and 100 tiles (BARACUDA_SCAN_CHUNK_TILES; 1: many chunks, long
// look-back walks; 100 exceeds the shared memory of a block and is capped by the launcher); a
// partial last tile and chunk; inclusive and exclusive; 16-bit inputs; cumprod and logcumsumexp.
// run_case checks the reference and that two runs are bitwise equal (the look-back folds the chunk
// folds in order, whatever was published when).
TEST(ScanGpu, ChunkLookbackLongLines) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  ASSERT_EQ(unsetenv("BARACUDA_SCAN_CHUNK_LOOKBACK"), 0);
  ASSERT_EQ(unsetenv("BARACUDA_SCAN_CHUNK_TILES"), 0);
  ASSERT_EQ(setenv("BARACUDA_SCAN_FLAT", "legacy", 1), 0);  // the on-chip kernel, not the pipelined default
  auto stream = Stream::cuda();
  ASSERT_TRUE(stream);
  const GpuCase probe = make_case(ScanOp::cumsum, DType::f32, {int64_t{1} << 20}, 0);
  {
    auto plan = ScanPlan::select(*stream, probe.desc);
    ASSERT_TRUE(plan) << plan.status().to_string();
    EXPECT_NE(plan->sku().tactic.find("chunks of up to 6 tiles held in shared memory"), std::string::npos)
        << plan->sku().tactic;
  }
  for (const char* tiles : {"", "1", "3", "4", "100"}) {
    if (*tiles) ASSERT_EQ(setenv("BARACUDA_SCAN_CHUNK_TILES", tiles, 1), 0);
    else ASSERT_EQ(unsetenv("BARACUDA_SCAN_CHUNK_TILES"), 0);
    for (bool exclusive : {false, true}) {
      run_case(make_case(ScanOp::cumsum, DType::f32, {3000001}, 0, exclusive, false, {}, 41));
      run_case(make_case(ScanOp::cumsum, DType::bf16, {1, (int64_t{1} << 21) + 9}, 1, exclusive, false, {}, 42));
    }
    run_case(make_case(ScanOp::cumsum, DType::f16, {2100000}, 0, false, false, {}, 43));
    run_case(make_case(ScanOp::cumprod, DType::f32, {2000000}, 0, false, false, {}, 44));
    run_case(make_case(ScanOp::logcumsumexp, DType::f32, {2000000}, 0, true, false, {}, 45));
  }
  ASSERT_EQ(unsetenv("BARACUDA_SCAN_CHUNK_TILES"), 0);
  ASSERT_EQ(unsetenv("BARACUDA_SCAN_FLAT"), 0);
}

// The output of `c`'s forward scan on the device under the switches set now, outputs and workspace
// poisoned (0xFF) first.
HostTensor device_output(const GpuCase& c) {
  auto sig = infer_signature(c.desc);
  auto stream = Stream::cuda();
  if (!sig || !stream) {
    ADD_FAILURE() << "no signature or no CUDA stream";
    return HostTensor();
  }
  HostTensor out(sig->outputs[0].dtype, sig->outputs[0].shape, sig->outputs[0].strides);
  auto plan = ScanPlan::select(*stream, c.desc);
  if (!plan) {
    ADD_FAILURE() << "CUDA select failed: " << plan.status().to_string();
    return out;
  }
  const Device dev = stream->device();
  DeviceBuffer dx, dy(out.storage().size()), ws(plan->workspace_size());
  EXPECT_TRUE(upload(c.x, dx));
  EXPECT_EQ(dy.fill(0xFF), cudaSuccess);
  EXPECT_EQ(ws.fill(0xFF), cudaSuccess);
  ScanArgs a;
  a.inputs[0] = c.x.ref_at(dx.get(), dev);
  a.outputs[0] = out.mut_at(dy.get(), dev);
  EXPECT_OK(plan->run(*stream, Workspace{ws.get(), plan->workspace_size()}, a));
  EXPECT_EQ(cudaStreamSynchronize(static_cast<cudaStream_t>(stream->cuda_stream())), cudaSuccess);
  EXPECT_EQ(dy.download(out.storage().data(), out.storage().size()), cudaSuccess);
  return out;
}

// run_case on the pipelined kernel (the default; checked against the
// reference, twice bitwise equal), then its output against the on-chip kernel's (BARACUDA_SCAN_FLAT=legacy) on the same flat input:
// both within the reference bound of the exact result, so within twice that bound of each other (or
// the same inf / NaN). Flat (1-D) cases only.
void run_case_against_legacy(const GpuCase& c) {
  ASSERT_EQ(setenv("BARACUDA_SCAN_FLAT", "pipelined", 1), 0);
  run_case(c);
  const HostTensor fresh = device_output(c);
  ASSERT_EQ(setenv("BARACUDA_SCAN_FLAT", "legacy", 1), 0);
  const HostTensor legacy = device_output(c);
  ASSERT_EQ(unsetenv("BARACUDA_SCAN_FLAT"), 0);
  auto sig = infer_signature(c.desc);
  ASSERT_TRUE(sig);
  const int64_t n = c.x.numel();
  ASSERT_EQ(fresh.numel(), n);
  ASSERT_EQ(legacy.numel(), n);
  const ScanOp op = c.desc.op;
  double running = 0;
  int bad = 0;
  for (int64_t i = 0; i < n && bad < 5; ++i) {
    running += std::fabs(c.x.get(i));
    const double a = fresh.get(i), b = legacy.get(i);
    const bool special = !std::isfinite(a) || !std::isfinite(b);
    const bool ok = special ? (std::isnan(a) ? std::isnan(b) : a == b)
                            : std::fabs(a - b) <= 2.0 * tolerance(op, sig->accumulate, fresh.dtype(), n, b, running);
    if (!ok) {
      ++bad;
      ADD_FAILURE() << ScanFamily::describe(c.desc) << " element " << i << ": pipelined " << a << ", legacy " << b;
    }
  }
}

// The default for one long contiguous line (BARACUDA_SCAN_FLAT=legacy: the on-chip kernel; the
// pipelined kernel's first version was six times slower on the H200 at 9d70547, its rework faster
// at b5d1a5e): the pipelined flat kernel (scan_flat_pipelined_kernel,
// a persistent grid of chunks of tiles of 4096: f32 three stages of 4 tiles (chunk 16384), 16-bit
// two stages of 6 (chunk 24576)). Lengths start at 2^20 (shorter lines never take it): 2^20 itself
// (a partial last chunk), 2^20 + 1 (one element in the last tile), and 258 tiles = 43 16-bit chunks
// exactly (64.5 f32 chunks), one less (a tile one short) and one more (a tile of one); sum, prod and
// logaddexp; f32, f16, bf16; inclusive and exclusive; a chunk length forced up (16 tiles: capped at
// what fits) and down (1: raised to the kernel's minimum of 2; 3 for 16-bit, twice their chunks), and
// 5 (40 segments a chunk over the 7 loader warps, which load and fold them round-robin: 5 or 6
// each; capped at 4 for f32's three stages);
// and, unless BARACUDA_TEST_SKIP_LARGE=1, 2^26 + 3 (4097 f32 chunks, 2731 16-bit: look-back walks
// across thousands of chunks and many rounds of the persistent grid). Each case is checked against
// the reference, twice for determinism, and against the legacy kernel. Lines of 1, 4095 and 4097
// (one tile less and more) run too: the switch must leave the short-line kernels alone.
TEST(ScanGpu, FlatPipelinedLongLines) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  ASSERT_EQ(unsetenv("BARACUDA_SCAN_FLAT"), 0);
  ASSERT_EQ(unsetenv("BARACUDA_SCAN_FLAT_TILES"), 0);
  ASSERT_EQ(unsetenv("BARACUDA_SCAN_CHUNKED"), 0);
  ASSERT_EQ(unsetenv("BARACUDA_SCAN_CHUNK_LOOKBACK"), 0);
  auto stream = Stream::cuda();
  ASSERT_TRUE(stream);
  const GpuCase probe = make_case(ScanOp::cumsum, DType::f32, {int64_t{1} << 20}, 0);
  EXPECT_NE(tactic_for(*stream, probe).find("persistent grid double-buffering"), std::string::npos)
      << tactic_for(*stream, probe);  // two stages by default (f32 too, since the L2 lead)
  const GpuCase probe16 = make_case(ScanOp::cumsum, DType::bf16, {int64_t{1} << 20}, 0);
  EXPECT_NE(tactic_for(*stream, probe16).find("persistent grid double-buffering"), std::string::npos)
      << tactic_for(*stream, probe16);
  ASSERT_EQ(setenv("BARACUDA_SCAN_FLAT", "legacy", 1), 0);
  EXPECT_NE(tactic_for(*stream, probe).find("held in shared memory, folded"), std::string::npos)
      << tactic_for(*stream, probe);
  ASSERT_EQ(unsetenv("BARACUDA_SCAN_FLAT"), 0);

  const int64_t boundary = 258 * 4096;
  uint64_t seed = 60;
  for (int64_t n : {int64_t{1} << 20, (int64_t{1} << 20) + 1, boundary - 1, boundary, boundary + 1})
    for (DType t : {DType::f32, DType::f16, DType::bf16})
      for (bool exclusive : {false, true}) run_case_against_legacy(make_case(ScanOp::cumsum, t, {n}, 0, exclusive, false, {}, ++seed));
  for (ScanOp op : {ScanOp::cumprod, ScanOp::logcumsumexp})
    for (DType t : {DType::f32, DType::bf16}) {
      run_case_against_legacy(make_case(op, t, {boundary + 1}, 0, false, false, {}, ++seed));
      run_case_against_legacy(make_case(op, t, {boundary - 1}, 0, true, false, {}, ++seed));
    }
  run_case_against_legacy(make_case(ScanOp::logcumsumexp, DType::f16, {(int64_t{1} << 20) + 1}, 0, false, false, {}, ++seed));
  for (const char* tiles : {"16", "1", "3", "5"}) {
    ASSERT_EQ(setenv("BARACUDA_SCAN_FLAT_TILES", tiles, 1), 0);
    run_case_against_legacy(make_case(ScanOp::cumsum, DType::f32, {3000001}, 0, false, false, {}, ++seed));
    run_case_against_legacy(make_case(ScanOp::cumsum, DType::bf16, {3000003}, 0, true, false, {}, ++seed));
  }
  ASSERT_EQ(unsetenv("BARACUDA_SCAN_FLAT_TILES"), 0);
  for (int64_t n : {int64_t{1}, int64_t{4095}, int64_t{4097}})
    run_case(make_case(ScanOp::cumsum, DType::f32, {n}, 0, false, false, {}, ++seed));
  if (large_cases_enabled()) {
    const int64_t large = (int64_t{1} << 26) + 3;
    run_case_against_legacy(make_case(ScanOp::cumsum, DType::f32, {large}, 0, false, false, {}, ++seed));
    run_case_against_legacy(make_case(ScanOp::cumsum, DType::bf16, {large}, 0, true, false, {}, ++seed));
    run_case_against_legacy(make_case(ScanOp::logcumsumexp, DType::f32, {large}, 0, false, false, {}, ++seed));
  }
}

// A flat-scan switch against its other setting on case `c`: under `var`=`tried`, run_case (against
// the reference, twice bitwise equal); then the output under `tried` bitwise equal to the one under
// `baseline` (`what` names the pair in the failure). Leaves `var` at `baseline`.
void same_bits_both_ways(const GpuCase& c, const char* var, const char* tried, const char* baseline,
                         const char* what) {
  ASSERT_EQ(setenv(var, tried, 1), 0);
  run_case(c);
  const HostTensor got = device_output(c);
  ASSERT_EQ(setenv(var, baseline, 1), 0);
  const HostTensor base = device_output(c);
  ASSERT_EQ(got.storage().size(), base.storage().size());
  EXPECT_EQ(std::memcmp(got.storage().data(), base.storage().data(), base.storage().size()), 0)
      << ScanFamily::describe(c.desc) << ": " << what;
}

// The pipelined flat kernel's switches start unset; a tactic probe of one 2^20 f32 line.
std::string flat_probe_tactic() {
  EXPECT_EQ(unsetenv("BARACUDA_SCAN_FLAT"), 0);
  EXPECT_EQ(unsetenv("BARACUDA_SCAN_CHUNKED"), 0);
  EXPECT_EQ(unsetenv("BARACUDA_SCAN_CHUNK_LOOKBACK"), 0);
  auto stream = Stream::cuda();
  if (!stream) return "no CUDA stream";
  return tactic_for(*stream, make_case(ScanOp::cumsum, DType::f32, {int64_t{1} << 20}, 0));
}

// The flat kernels' op and long-line cases, each through `check`: cumprod f32 and logcumsumexp bf16
// just past 2^20, then (unless BARACUDA_TEST_SKIP_LARGE=1) cumsum f32 inclusive and bf16 exclusive
// at 2^26 + 3 (thousands of chunks over many rounds of the persistent grid).
template <class Check>
void flat_ops_and_long_lines(const Check& check, uint64_t& seed) {
  check(make_case(ScanOp::cumprod, DType::f32, {(int64_t{1} << 20) + 1}, 0, false, false, {}, ++seed));
  check(make_case(ScanOp::logcumsumexp, DType::bf16, {(int64_t{1} << 20) + 7}, 0, false, false, {}, ++seed));
  if (large_cases_enabled()) {
    const int64_t large = (int64_t{1} << 26) + 3;
    check(make_case(ScanOp::cumsum, DType::f32, {large}, 0, false, false, {}, ++seed));
    check(make_case(ScanOp::cumsum, DType::bf16, {large}, 0, true, false, {}, ++seed));
  }
}

// A flat-kernel switch `var` at `tried` against `baseline` (same_bits_both_ways) on the cases every
// such switch runs: f32 inclusive and bf16 exclusive lines of about 3M, an f32 one of 258 tiles + 1
// at three stages, then flat_ops_and_long_lines. Leaves `var` at `baseline`.
void flat_switch_cases(const char* var, const char* tried, const char* baseline, const char* what, uint64_t& seed) {
  const auto both_ways = [&](const GpuCase& c) { same_bits_both_ways(c, var, tried, baseline, what); };
  both_ways(make_case(ScanOp::cumsum, DType::f32, {3000001}, 0, false, false, {}, ++seed));
  both_ways(make_case(ScanOp::cumsum, DType::bf16, {3000003}, 0, true, false, {}, ++seed));
  ASSERT_EQ(setenv("BARACUDA_SCAN_FLAT_STAGES", "3", 1), 0);
  both_ways(make_case(ScanOp::cumsum, DType::f32, {258 * 4096 + 1}, 0, true, false, {}, ++seed));
  ASSERT_EQ(unsetenv("BARACUDA_SCAN_FLAT_STAGES"), 0);
  flat_ops_and_long_lines(both_ways, seed);
}

// BARACUDA_SCAN_FLAT_STAGES=3 (f32's default before the L2 lead): the pipelined flat kernel with three chunk
// stages (the chunk after next loading while the current one is scanned). Its tactic says so; every
// case against the reference and twice bitwise equal (run_case), then bitwise equal to the
// two-stage kernel at the same chunk length (the same chunks folded in the same order; at 5 f32
// tiles three stages do not fit, and the launcher's cap of 4 made the lengths differ). Chunks of 2
// (the smallest, an odd tile count: the last chunk one tile), 3 and 4 tiles, 8 for bf16; a partial last
// tile; sum, prod, logaddexp; f32 and bf16; inclusive and exclusive; 2^26 + 3 unless
// BARACUDA_TEST_SKIP_LARGE=1 (thousands of chunks over many rounds of the persistent grid).
TEST(ScanGpu, FlatPipelinedThreeStages) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  ASSERT_EQ(setenv("BARACUDA_SCAN_FLAT_STAGES", "3", 1), 0);
  const std::string tactic = flat_probe_tactic();
  EXPECT_NE(tactic.find("triple-buffering"), std::string::npos) << tactic;
  uint64_t seed = 90;
  const auto both_ways = [](const GpuCase& c) {
    same_bits_both_ways(c, "BARACUDA_SCAN_FLAT_STAGES", "3", "2", "three stages differ from two");
  };
  for (const char* tiles : {"2", "3", "4"}) {
    ASSERT_EQ(setenv("BARACUDA_SCAN_FLAT_TILES", tiles, 1), 0);
    both_ways(make_case(ScanOp::cumsum, DType::f32, {3000001}, 0, false, false, {}, ++seed));
    both_ways(make_case(ScanOp::cumsum, DType::bf16, {3000003}, 0, true, false, {}, ++seed));
    both_ways(make_case(ScanOp::cumsum, DType::f32, {258 * 4096 + 1}, 0, true, false, {}, ++seed));
  }
  ASSERT_EQ(setenv("BARACUDA_SCAN_FLAT_TILES", "8", 1), 0);  // 16-bit only: 8 f32 tiles do not fit three stages
  both_ways(make_case(ScanOp::cumsum, DType::bf16, {3000003}, 0, false, false, {}, ++seed));
  ASSERT_EQ(setenv("BARACUDA_SCAN_FLAT_TILES", "4", 1), 0);
  flat_ops_and_long_lines(both_ways, seed);
  ASSERT_EQ(unsetenv("BARACUDA_SCAN_FLAT_TILES"), 0);
  // The defaults (two stages: 3 f32 tiles, 6 16-bit ones) against the reference.
  ASSERT_EQ(unsetenv("BARACUDA_SCAN_FLAT_STAGES"), 0);
  run_case(make_case(ScanOp::cumsum, DType::f32, {3000001}, 0, false, false, {}, ++seed));
  run_case(make_case(ScanOp::cumsum, DType::bf16, {3000003}, 0, true, false, {}, ++seed));
}

// BARACUDA_SCAN_FLAT_L2_LEAD=N: the pipelined flat kernel prefetches into L2 the chunk whose copies
// start N rounds later (a hint: no result may change; the default is 1). Its
// tactic says so; every case against the reference and twice bitwise equal (run_case), then bitwise
// equal to the kernel without the lead, at both stage counts and at leads 1 and 3; long lines run
// many rounds of the grid.
TEST(ScanGpu, FlatPipelinedL2Lead) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  ASSERT_EQ(setenv("BARACUDA_SCAN_FLAT_L2_LEAD", "1", 1), 0);
  const std::string tactic = flat_probe_tactic();
  EXPECT_NE(tactic.find("prefetched into L2"), std::string::npos) << tactic;
  uint64_t seed = 190;
  for (const char* lead : {"1", "3"})
    ASSERT_NO_FATAL_FAILURE(flat_switch_cases("BARACUDA_SCAN_FLAT_L2_LEAD", lead, "0", "the L2 lead changed a result", seed));
  ASSERT_EQ(unsetenv("BARACUDA_SCAN_FLAT_L2_LEAD"), 0);
  EXPECT_NE(flat_probe_tactic().find("1 round(s) ahead prefetched into L2"), std::string::npos)
      << "the default leads by one round";
}

// The output of c's plan run inside a CUDA graph, replayed twice (the second replay finds the
// workspace as the first left it: the look-back's counter and words must be cleared inside the graph).
HostTensor captured_output(const GpuCase& c) {
  auto sig = infer_signature(c.desc);
  auto stream = Stream::cuda();
  if (!sig || !stream) {
    ADD_FAILURE() << "no signature or no CUDA stream";
    return HostTensor();
  }
  HostTensor out(sig->outputs[0].dtype, sig->outputs[0].shape, sig->outputs[0].strides);
  // A stream of its own: the legacy default stream cannot be captured.
  cudaStream_t cs = nullptr;
  if (cudaStreamCreateWithFlags(&cs, cudaStreamNonBlocking) != cudaSuccess) {
    ADD_FAILURE() << "cudaStreamCreateWithFlags failed";
    return out;
  }
  stream = Stream::cuda(cs);
  auto plan = ScanPlan::select(*stream, c.desc);
  if (!stream || !plan) {
    ADD_FAILURE() << "CUDA select failed: " << (plan ? std::string("no stream") : plan.status().to_string());
    (void)cudaStreamDestroy(cs);
    return out;
  }
  const Device dev = stream->device();
  DeviceBuffer dx, dy(out.storage().size()), ws(plan->workspace_size());
  EXPECT_TRUE(upload(c.x, dx));
  EXPECT_EQ(ws.fill(0xFF), cudaSuccess);
  ScanArgs a;
  a.inputs[0] = c.x.ref_at(dx.get(), dev);
  a.outputs[0] = out.mut_at(dy.get(), dev);
  cudaGraph_t graph = nullptr;
  EXPECT_EQ(cudaStreamBeginCapture(cs, cudaStreamCaptureModeGlobal), cudaSuccess);
  const Status ran = plan->run(*stream, Workspace{ws.get(), plan->workspace_size()}, a);
  EXPECT_EQ(cudaStreamEndCapture(cs, &graph), cudaSuccess);
  EXPECT_OK(ran);
  cudaGraphExec_t exec = nullptr;
  EXPECT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  (void)cudaGraphDestroy(graph);
  for (int replay = 0; replay < 2; ++replay) {
    EXPECT_EQ(dy.fill(0xFF), cudaSuccess);
    EXPECT_EQ(cudaGraphLaunch(exec, cs), cudaSuccess);
    EXPECT_EQ(cudaStreamSynchronize(cs), cudaSuccess);
  }
  (void)cudaGraphExecDestroy(exec);
  EXPECT_EQ(dy.download(out.storage().data(), out.storage().size()), cudaSuccess);
  (void)cudaStreamDestroy(cs);
  return out;
}

// BARACUDA_SCAN_FLAT_PDL=N: the pipelined flat kernel's launch. 0: cudaMemsetAsync of its counter
// and words, a plain launch; 1 (the default on sm_90): a clearing kernel and the scan as
// programmatic dependent launches; 2: also each block's likely first chunks into L2 before the wait. A
// launch form only: every case against the reference and twice bitwise equal (run_case, with a
// poisoned workspace), then bitwise equal to form 0, at both stage counts; the default's output
// from a CUDA graph replayed twice (the PDL edges captured) bitwise equal to the eager one.
TEST(ScanGpu, FlatPipelinedPdl) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  ASSERT_EQ(unsetenv("BARACUDA_SCAN_FLAT_PDL"), 0);
  ASSERT_EQ(unsetenv("BARACUDA_PDL"), 0);
  auto stream = Stream::cuda();
  ASSERT_TRUE(stream);
  const bool hopper = stream->device().sm >= 90;
  const std::string tactic = flat_probe_tactic();
  EXPECT_EQ(tactic.find("programmatic dependent launch)") != std::string::npos, hopper) << tactic;
  ASSERT_EQ(setenv("BARACUDA_SCAN_FLAT_PDL", "2", 1), 0);
  const std::string tactic2 = flat_probe_tactic();
  EXPECT_EQ(tactic2.find("programmatic dependent launch, its first chunks prefetched before the wait") !=
                std::string::npos,
            hopper)
      << tactic2;
  uint64_t seed = 290;
  for (const char* form : {"2", "1"}) {
    ASSERT_NO_FATAL_FAILURE(flat_switch_cases("BARACUDA_SCAN_FLAT_PDL", form, "0", "the launch form changed a result", seed));
    same_bits_both_ways(make_case(ScanOp::cumsum, DType::f32, {int64_t{1} << 20}, 0, false, false, {}, ++seed),
                        "BARACUDA_SCAN_FLAT_PDL", form, "0", "the launch form changed a result");
  }
  ASSERT_EQ(unsetenv("BARACUDA_SCAN_FLAT_PDL"), 0);
  for (DType t : {DType::f32, DType::bf16}) {
    const GpuCase c = make_case(ScanOp::cumsum, t, {3000001}, 0, false, false, {}, ++seed);
    const HostTensor eager = device_output(c), replayed = captured_output(c);
    ASSERT_EQ(eager.storage().size(), replayed.storage().size());
    EXPECT_EQ(std::memcmp(eager.storage().data(), replayed.storage().data(), eager.storage().size()), 0)
        << ScanFamily::describe(c.desc) << ": the graph replay differs from the eager run";
  }
}

// Many contiguous lines, each at least a tile (4096) long, at least 8 per resident block: one block
// per line carries the prefix tile to tile (scan_row_carry_kernel), the default for them
// (BARACUDA_SCAN_ROW_CARRY=0 keeps the look-back line kernel). 6000 lines exceed 8 x the resident
// blocks of the H200 for f32 (ptxas: 59 registers and 32 KB of shared memory a block, 4 blocks per
// SM: 8 x 528 = 4224) and 16-bit inputs (16 KB a block, 5 per SM: 5280). Lines of exactly one
// tile, a partial last tile and several tiles; exclusive; 16-bit types; cumprod and logcumsumexp;
// padded rows (the row stride 16 bytes more than the length). run_case checks every output against
// the reference and that two runs are bitwise equal. About 200M elements in all (the CPU reference
// dominates): the multi-tile and switch-off cases are skipped under BARACUDA_TEST_SKIP_LARGE.
TEST(ScanGpu, RowCarryManyLines) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  ASSERT_EQ(unsetenv("BARACUDA_SCAN_ROW_CARRY"), 0);
  const int64_t lines = 6000;
  const bool large = large_cases_enabled();
  for (bool exclusive : {false, true}) run_case(make_case(ScanOp::cumsum, DType::f32, {lines, 4096}, 1, exclusive, false, {}, 31));
  run_case(make_case(ScanOp::cumsum, DType::bf16, {lines, 4100}, 1, true, false, {}, 33));
  run_case(make_case(ScanOp::cumsum, DType::f16, {3, lines / 3, 4104}, 2, false, false, {}, 34));
  run_case(make_case(ScanOp::cumprod, DType::f32, {lines, 4100}, 1, false, false, {}, 35));
  run_case(make_case(ScanOp::logcumsumexp, DType::bf16, {lines, 4096}, 1, true, false, {}, 37));
  run_case(make_case(ScanOp::cumsum, DType::f32, {lines, 4100}, 1, false, false, {4104, 1}, 38));  // padded rows
  if (large) {
    run_case(make_case(ScanOp::cumsum, DType::f32, {lines, 4096 * 2 + 20}, 1, false, false, {}, 32));
    // The A/B switch turns the kernel off; the line kernel gives the same answers within tolerance.
    ASSERT_EQ(setenv("BARACUDA_SCAN_ROW_CARRY", "0", 1), 0);
    run_case(make_case(ScanOp::cumsum, DType::f32, {lines, 4096 * 2 + 20}, 1, false, false, {}, 32));
    ASSERT_EQ(unsetenv("BARACUDA_SCAN_ROW_CARRY"), 0);
  }
}

// Reverse scans of the same many contiguous lines (reverse=true, and cumsum's backward, which scans
// dy in reverse): the row-carry kernel walked from the end (scan_row_carry_reverse_kernel), the
// default for them; BARACUDA_SCAN_REVERSE_LINES=legacy keeps the look-back kernel. Lines of exactly
// one tile, a partial last tile (walked first) and several tiles; exclusive (y[p] = the fold of
// x(p, n)); 16-bit types; cumprod and logcumsumexp; padded rows; the cumsum backward both ways (the
// reversed forward's backward runs forward: scan_row_carry_kernel). 9000 lines exceed 8 x the
// resident blocks of the H200 at up to 8 blocks per SM (8 x 1056 = 8448). run_case poisons the
// outputs, checks every one against the reference and that two runs are bitwise equal.
TEST(ScanGpu, RowCarryReverseLines) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  ASSERT_EQ(unsetenv("BARACUDA_SCAN_ROW_CARRY"), 0);
  ASSERT_EQ(unsetenv("BARACUDA_SCAN_REVERSE_LINES"), 0);
  auto stream = Stream::cuda();
  ASSERT_TRUE(stream);
  const int64_t lines = 9000;
  const bool large = large_cases_enabled();
  const auto tactic_of = [&](const GpuCase& c) { return tactic_for(*stream, c); };
  const GpuCase probe = make_case(ScanOp::cumsum, DType::f32, {lines, 4100}, 1, false, true, {}, 51);
  EXPECT_NE(tactic_of(probe).find("walking it from the end"), std::string::npos) << tactic_of(probe);
  for (bool exclusive : {false, true}) {
    run_case(make_case(ScanOp::cumsum, DType::f32, {lines, 4096}, 1, exclusive, true, {}, 52));
    run_case(make_case(ScanOp::cumsum, DType::f32, {lines, 4100}, 1, exclusive, true, {}, 53));
  }
  run_case(make_case(ScanOp::cumsum, DType::bf16, {lines, 4104}, 1, true, true, {}, 54));
  run_case(make_case(ScanOp::cumsum, DType::f16, {3, lines / 3, 4104}, 2, false, true, {}, 55));
  run_case(make_case(ScanOp::cumprod, DType::f32, {lines, 4100}, 1, false, true, {}, 56));
  run_case(make_case(ScanOp::logcumsumexp, DType::bf16, {lines, 4096}, 1, true, true, {}, 57));
  run_case(make_case(ScanOp::logcumsumexp, DType::f32, {lines, 4104}, 1, false, true, {}, 58));
  run_case(make_case(ScanOp::cumsum, DType::f32, {lines, 4100}, 1, false, true, {4104, 1}, 59));  // padded rows
  for (bool reverse : {false, true}) {  // cumsum's backward: dy scanned the other way
    run_case(make_backward_case(ScanOp::cumsum, DType::f32, {lines, 4100}, 1, false, reverse));
    run_case(make_backward_case(ScanOp::cumsum, DType::bf16, {lines, 4104}, 1, true, reverse));
  }
  if (large) {
    run_case(make_case(ScanOp::cumsum, DType::f32, {lines, 4096 * 2 + 20}, 1, false, true, {}, 60));
    run_case(make_case(ScanOp::cumsum, DType::f16, {lines, 4096 * 3 + 8}, 1, true, true, {}, 61));
  }
  // The legacy switch keeps the look-back kernel; it gives the same answers within tolerance.
  ASSERT_EQ(setenv("BARACUDA_SCAN_REVERSE_LINES", "legacy", 1), 0);
  EXPECT_EQ(tactic_of(probe).find("walking it from the end"), std::string::npos) << tactic_of(probe);
  run_case(probe);
  run_case(make_backward_case(ScanOp::cumsum, DType::f32, {lines, 4100}, 1, false, false));
  ASSERT_EQ(unsetenv("BARACUDA_SCAN_REVERSE_LINES"), 0);
}

// cumprod's backward over many contiguous aligned lines: two block-per-line kernels (the suffix of dy
// through x walked from the end into an f32 temporary, then the exclusive product times it), the
// default for f32/bf16/f16; BARACUDA_SCAN_CUMPROD_BWD=legacy keeps the fused look-back passes. x gets
// zeros by line: one inside, one at the start, one at the end, several (isolated and a run), none,
// so dx must be the product of the other factors (no division), as the reference computes it.
// Lines of one tile, a partial last tile and several; exclusive; padded rows; a 3-d tensor. 9000
// lines exceed 8 x the resident blocks (3-4 per SM for these kernels). 16-bit lines are multiples of
// 8 long so that every line starts 16-byte aligned.
GpuCase with_line_zeros(GpuCase c) {
  const int64_t n = c.x.shape().back();
  for (int64_t i = 0; i < c.x.numel(); ++i) {
    const int64_t line = i / n, p = i % n;
    bool zero = false;
    switch (line % 5) {
      case 0: zero = p == (line * 7919) % n; break;
      case 1: zero = p == 0; break;
      case 2: zero = p == n - 1; break;
      case 3: zero = p % 997 == 5 || (p >= 2000 && p < 2003); break;
      default: break;
    }
    if (zero) c.x.set(i, 0.0);
  }
  return c;
}

TEST(ScanGpu, CumprodBackwardLines) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  ASSERT_EQ(unsetenv("BARACUDA_SCAN_CUMPROD_BWD"), 0);
  auto stream = Stream::cuda();
  ASSERT_TRUE(stream);
  const int64_t lines = 9000;
  const bool large = large_cases_enabled();
  const auto tactic_of = [&](const GpuCase& c) { return tactic_for(*stream, c); };
  const auto bwd = [&](DType t, std::vector<int64_t> shape, int axis, bool exclusive, std::vector<int64_t> x_strides = {},
                       std::vector<int64_t> dy_strides = {}) {
    return with_line_zeros(
        make_backward_case(ScanOp::cumprod, t, std::move(shape), axis, exclusive, false, std::move(x_strides), std::move(dy_strides)));
  };
  const GpuCase probe = bwd(DType::f32, {lines, 4100}, 1, false);
  EXPECT_NE(tactic_of(probe).find("cumprod backward lines"), std::string::npos) << tactic_of(probe);
  for (bool exclusive : {false, true}) {
    run_case(bwd(DType::f32, {lines, 4096}, 1, exclusive));
    run_case(bwd(DType::f32, {lines, 4100}, 1, exclusive));
    run_case(bwd(DType::bf16, {lines, 4104}, 1, exclusive));
    run_case(bwd(DType::f16, {lines, 4104}, 1, exclusive));
  }
  run_case(bwd(DType::f16, {3, lines / 3, 4104}, 2, false));
  run_case(bwd(DType::f32, {lines, 4100}, 1, false, {4104, 1}, {4108, 1}));  // padded rows
  if (large) {
    run_case(bwd(DType::f32, {lines, 4096 * 2 + 20}, 1, false));
    run_case(bwd(DType::bf16, {lines, 4096 * 3 + 8}, 1, true));
  }
  // Not taken (the fused passes answer): reverse, and lines whose starts are not 16-byte aligned.
  run_case(with_line_zeros(make_backward_case(ScanOp::cumprod, DType::f32, {lines, 4100}, 1, false, true)));
  run_case(bwd(DType::bf16, {lines, 4100}, 1, false));
  // The legacy switch keeps the fused look-back passes; they give the same answers within tolerance.
  ASSERT_EQ(setenv("BARACUDA_SCAN_CUMPROD_BWD", "legacy", 1), 0);
  EXPECT_EQ(tactic_of(probe).find("cumprod backward lines"), std::string::npos) << tactic_of(probe);
  run_case(probe);
  run_case(bwd(DType::bf16, {lines, 4104}, 1, true));
  ASSERT_EQ(unsetenv("BARACUDA_SCAN_CUMPROD_BWD"), 0);
}

// cummax/cummin over the same many contiguous lines: a block per line carrying the running value and
// index (scan_row_carry_indices_kernel), values and int64 indices stored through the staging area,
// the default for f32/bf16/f16 lines; BARACUDA_SCAN_INDEX_LINES=legacy keeps the look-back kernel.
// run_case compares values and indices exactly. fill_input's values (small integers, many ties, a
// NaN every ~98) make most lines NaN early, so `trend` refills a case without NaNs and with a
// running max (min) that keeps moving along the line (ties to the tie rule all the way). Lines of
// one tile, a partial last tile and several; exclusive; padded rows; a 3-d tensor. 16-bit lines are
// multiples of 8 long so that every output line starts 16-byte aligned (else the look-back kernel).
GpuCase trend(GpuCase c, bool rising, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> ties(0, 7);
  const int64_t n = c.x.shape().back();
  for (int64_t i = 0; i < c.x.numel(); ++i) {
    const double step = static_cast<double>((i % n) / 300);  // logical element order: i % n is the position
    c.x.set(i, (rising ? step : -step) + ties(rng));
  }
  return c;
}

TEST(ScanGpu, RowCarryIndicesLines) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  ASSERT_EQ(unsetenv("BARACUDA_SCAN_ROW_CARRY"), 0);
  ASSERT_EQ(unsetenv("BARACUDA_SCAN_INDEX_LINES"), 0);
  auto stream = Stream::cuda();
  ASSERT_TRUE(stream);
  const int64_t lines = 9000;
  const bool large = large_cases_enabled();
  const auto tactic_of = [&](const GpuCase& c) { return tactic_for(*stream, c); };
  const char* kTactic = "carrying the running value and index";
  const GpuCase probe = trend(make_case(ScanOp::cummax, DType::f32, {lines, 4100}, 1, false, false, {}, 71), true, 71);
  EXPECT_NE(tactic_of(probe).find(kTactic), std::string::npos) << tactic_of(probe);
  run_case(probe);
  for (ScanOp op : {ScanOp::cummax, ScanOp::cummin}) {
    const bool rising = op == ScanOp::cummax;
    for (DType t : {DType::f32, DType::bf16, DType::f16}) {
      run_case(make_case(op, t, {lines, 4104}, 1, false, false, {}, 72));  // NaNs
      run_case(trend(make_case(op, t, {lines, 4096}, 1, false, false, {}, 73), rising, 73));
    }
    run_case(trend(make_case(op, DType::bf16, {lines, 4104}, 1, false, false, {4112, 1}, 75), rising, 75));  // padded
    run_case(trend(make_case(op, DType::f32, {3, lines / 3, 4104}, 2, false, false, {}, 76), rising, 76));
  }
  if (large) {
    run_case(trend(make_case(ScanOp::cummax, DType::f32, {lines, 4096 * 2 + 20}, 1, false, false, {}, 77), true, 77));
    run_case(make_case(ScanOp::cummin, DType::f16, {lines, 4096 * 3 + 8}, 1, false, false, {}, 78));
  }
  // The legacy switch keeps the look-back kernel; same answers (exact).
  ASSERT_EQ(setenv("BARACUDA_SCAN_INDEX_LINES", "legacy", 1), 0);
  EXPECT_EQ(tactic_of(probe).find(kTactic), std::string::npos) << tactic_of(probe);
  run_case(probe);
  ASSERT_EQ(unsetenv("BARACUDA_SCAN_INDEX_LINES"), 0);
}

TEST(ScanGpu, ZeroDimAndEmpty) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  for (ScanOp op : kOps) {
    run_case(make_case(op, DType::f32, {}, 0));
    run_case(make_case(op, DType::f32, {0}, 0));
    run_case(make_case(op, DType::f32, {4, 0}, 0));
    run_case(make_case(op, DType::f32, {0, 4}, 1));
  }
}

TEST(ScanGpu, TooSmallWorkspaceIsAnError) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  auto stream = Stream::cuda();
  ASSERT_TRUE(stream);
  ScanDescriptor d;
  d.op = ScanOp::cumsum;
  d.input = Operand::tensor(DType::f32, {100000});
  d.axis = 0;
  auto plan = ScanPlan::select(*stream, d);
  ASSERT_TRUE(plan) << plan.status().to_string();
  ASSERT_GT(plan->workspace_size(), 0u);
  DeviceBuffer x(400000), y(400000), ws(plan->workspace_size());
  ScanArgs a;
  a.inputs[0] = TensorRef{x.get(), DType::f32, stream->device(), *Layout::make(std::vector<int64_t>{100000})};
  a.outputs[0] = TensorMut{y.get(), DType::f32, stream->device(), *Layout::make(std::vector<int64_t>{100000})};
  Status s = plan->run(*stream, Workspace{ws.get(), plan->workspace_size() - 1}, a);
  EXPECT_EQ(s.code(), StatusCode::workspace_too_small) << s.to_string();
  EXPECT_OK(plan->run(*stream, Workspace{ws.get(), plan->workspace_size()}, a));
  EXPECT_EQ(cudaStreamSynchronize(static_cast<cudaStream_t>(stream->cuda_stream())), cudaSuccess);
}

}  // namespace
