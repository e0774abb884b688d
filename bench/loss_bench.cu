// Loss benchmark: every op of the loss family, forward and backward, at one memory-bound shape each
// (>= 256 MB of traffic, far larger than L2), timed with CUDA events (median after warm-up), GB/s
// against the device copy bandwidth measured in the same run.
//
// The first two cases are the original ones: cross_entropy on [8192, 128256] bf16 logits (a Llama-3
// vocabulary), forward and the fused forward+backward. They keep the bytes /work/shared/
// baseline_torch.py counts, so that their GB/s compare with earlier runs: forward reads the logits
// once (2 N V); forward+backward 3 x 2 N V (read for the loss, read again and write the gradient).
//
// The coverage cases after them count every operand once: each input read once (targets, weights,
// pos_weight and backward's grad_loss included) plus each output written once. nll_loss is the one
// exception (it does not stream its input; see its cases). cross_entropy's backward is benchmarked
// mostly as the fused forward+backward (*_fwdbwd_*, what a training step calls); *_bwd_* cases run
// the family's backward direction (grad_loss in, grad_input / grad_other out). Reduction is mean
// unless the name says otherwise. bench/twins/loss.py holds the PyTorch twin of every added case.
//
//   baracuda_loss_bench [--json out.json] [--reps N]
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "baracuda/baracuda.hpp"
#include "bench_fill.cuh"
#include "bench_harness.hpp"

using namespace baracuda;
using bench::Buffer;
using bench::median_ms;
using bench::Record;

namespace {

// Class indices (i * 7919) % classes (7919 is prime: the targets visit every class); with
// ignore_every > 0, every ignore_every-th sample is ignore_index instead (padding tokens).
__global__ void fill_targets(int64_t* t, int64_t n, int64_t classes, int64_t ignore_every, int64_t ignore_index) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    t[i] = ignore_every > 0 && i % ignore_every == ignore_every - 1 ? ignore_index : (i * 7919) % classes;
}

// Labels y = +-1 (cosine_embedding, margin_ranking), each sign with probability 1/2 (the hash of
// bench::fill_uniform, so that y is not correlated with the index).
template <class T>
__global__ void fill_signs(T* p, int64_t n, uint64_t seed) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    p[i] = T(bench::hash_uniform(i, seed, -1.f, 1.f) < 0.f ? -1.f : 1.f);
}

// A device buffer of n values of dtype t, uniform in [lo, hi) (enqueued on s).
std::unique_ptr<Buffer> uniform(DType t, int64_t n, uint64_t seed, float lo, float hi, cudaStream_t s) {
  auto b = std::make_unique<Buffer>(size_t(n) * dtype_size(t));
  switch (t) {
    case DType::f32: bench::fill_uniform<float>(b->p, n, seed, lo, hi, s); break;
    case DType::bf16: bench::fill_uniform<__nv_bfloat16>(b->p, n, seed, lo, hi, s); break;
    case DType::f16: bench::fill_uniform<__half>(b->p, n, seed, lo, hi, s); break;
    case DType::f64: bench::fill_uniform<double>(b->p, n, seed, lo, hi, s); break;
    default:
      std::fprintf(stderr, "uniform: unsupported dtype %s\n", std::string(dtype_name(t)).c_str());
      std::exit(1);
  }
  return b;
}

// n labels +-1 of dtype t (f32 or bf16).
std::unique_ptr<Buffer> signs(DType t, int64_t n, uint64_t seed, cudaStream_t s) {
  auto b = std::make_unique<Buffer>(size_t(n) * dtype_size(t));
  if (t == DType::f32) fill_signs<float><<<1024, 256, 0, s>>>(static_cast<float*>(b->p), n, seed);
  else fill_signs<__nv_bfloat16><<<1024, 256, 0, s>>>(static_cast<__nv_bfloat16*>(b->p), n, seed);
  CHECK_CUDA(cudaGetLastError());
  return b;
}

// n class indices (i64), see fill_targets.
std::unique_ptr<Buffer> class_targets(int64_t n, int64_t classes, int64_t ignore_every, int64_t ignore_index,
                                      cudaStream_t s) {
  auto b = std::make_unique<Buffer>(size_t(n) * 8);
  fill_targets<<<64, 256, 0, s>>>(static_cast<int64_t*>(b->p), n, classes, ignore_every, ignore_index);
  CHECK_CUDA(cudaGetLastError());
  return b;
}

double bytes_of(const Operand& o) {
  double n = 1;
  for (int64_t v : o.shape) n *= double(v);
  return n * double(dtype_size(o.dtype));
}

LossDescriptor fused(LossDescriptor d) {  // cross_entropy forward that also writes the gradient
  d.fused_backward = true;
  return d;
}
LossDescriptor backward(LossDescriptor d) {
  d.direction = Direction::backward;
  return d;
}

// The device data of one case's inputs by LossArgs slot (null: a slot the op does not take). The
// descriptor gives their shapes; backward's grad_loss and every output are made by run_case from
// the signature.
struct CaseInputs {
  const void* input = nullptr;
  const void* other = nullptr;
  const void* target = nullptr;
  const void* weight = nullptr;
  const void* pos_weight = nullptr;
};

}  // namespace

int main(int argc, char** argv) {
  const bench::Options opts = bench::parse_options(argc, argv);
  const std::string& json_path = opts.json_path;
  const int reps = opts.reps;
  const bench::Session session = bench::open_session(reps);  // stream, device, same-run roofline
  cudaStream_t s = session.raw;
  const Stream* stream = &session.stream;
  const cudaDeviceProp& prop = session.prop;
  const double copy_gbs = session.copy_gbs;
  const Device dev = stream->device();
  std::vector<Record> records;

  // One case: select the plan (a refusal is printed and the driver goes on), bind the inputs the
  // signature expects, make grad_loss (backward: ones, the seed of a plain loss.backward()) and
  // the outputs from the signature, then time. bytes <= 0: every operand once, from the signature.
  auto run_case = [&](const std::string& name, const LossDescriptor& d, const CaseInputs& in, double bytes = 0.0) {
    const char* cname = name.c_str();
    auto sig = infer_signature(d);
    if (!sig) {
      std::printf("%-40s invalid descriptor: %s\n", cname, sig.status().to_string().c_str());
      return;
    }
    auto plan = LossPlan::select(*stream, d);
    if (!plan) {
      std::printf("%-40s select failed: %s\n", cname, plan.status().to_string().c_str());
      return;
    }
    LossArgs a;
    double counted = 0.0;
    std::string error;
    auto bind_input = [&](TensorRef& slot, const void* p, const std::optional<Operand>& o, const char* what) {
      if (!error.empty()) return;
      if (!o) {
        if (p) error = std::string(what) + " is given but the op takes none";
        return;
      }
      if (!p) {
        error = std::string("the case gives no ") + what;
        return;
      }
      auto r = make_tensor_ref(p, o->dtype, o->shape, o->strides, dev);
      if (!r) {
        error = std::string(what) + ": " + r.status().to_string();
        return;
      }
      slot = *r;
      counted += bytes_of(*o);
    };
    bind_input(a.input, in.input, sig->input, "input");
    bind_input(a.other, in.other, sig->other, "other");
    bind_input(a.target, in.target, sig->target, "target");
    bind_input(a.weight, in.weight, sig->weight, "weight");
    bind_input(a.pos_weight, in.pos_weight, sig->pos_weight, "pos_weight");
    std::unique_ptr<Buffer> grad_loss;  // the fused forward leaves it out (an implicit 1)
    if (d.direction == Direction::backward && sig->grad_loss) {
      int64_t n = 1;
      for (int64_t v : sig->grad_loss->shape) n *= v;
      grad_loss = uniform(sig->grad_loss->dtype, n, 7, 1.f, 1.f, s);
      bind_input(a.grad_loss, grad_loss->p, sig->grad_loss, "grad_loss");
    }
    std::vector<std::unique_ptr<Buffer>> outputs;
    auto bind_output = [&](TensorMut& slot, const std::optional<Operand>& o, const char* what) {
      if (!error.empty() || !o) return;
      outputs.push_back(std::make_unique<Buffer>(size_t(bytes_of(*o))));
      auto r = make_tensor_mut(outputs.back()->p, o->dtype, o->shape, {}, dev);
      if (!r) {
        error = std::string(what) + ": " + r.status().to_string();
        return;
      }
      slot = *r;
      counted += bytes_of(*o);
    };
    bind_output(a.loss, sig->loss, "loss");
    bind_output(a.grad_input, sig->grad_input, "grad_input");
    bind_output(a.grad_other, sig->grad_other, "grad_other");
    if (!error.empty()) {
      std::printf("%-40s bad arguments: %s\n", cname, error.c_str());
      return;
    }
    Buffer ws(plan->workspace_size());
    const Workspace w{ws.p, plan->workspace_size()};
    if (Status st = plan->run(*stream, w, a); !st.is_ok()) {
      std::printf("%-40s run failed: %s\n", cname, st.to_string().c_str());
      return;
    }
    // A kernel fault is sticky (every later case would fail too): name the case and stop.
    if (cudaError_t e = cudaStreamSynchronize(s); e != cudaSuccess) {
      std::fprintf(stderr, "%s: kernel failed: %s [%s]\n", cname, cudaGetErrorString(e), plan->sku().to_string().c_str());
      std::exit(1);
    }
    const double ms = median_ms([&] { (void)plan->run(*stream, w, a); }, reps, s);
    const double gbs = (bytes > 0 ? bytes : counted) / (ms * 1e6);
    std::printf("%-40s %9.4f ms %8.1f GB/s %5.1f%% of copy  [%s]\n", cname, ms, gbs, 100.0 * gbs / copy_gbs,
                plan->sku().to_string().c_str());
    records.push_back({plan->sku().op, name, std::string(dtype_name(d.input.dtype)), shape_to_string(d.input.shape),
                       plan->sku().impl, ms, gbs});
  };

  // cross_entropy on a 128k vocabulary: logits in [-4, 4), class-index targets.
  {
    const int64_t N = 8192, V = 128256;
    auto logits = uniform(DType::bf16, N * V, 1234, -4.f, 4.f, s);
    auto targets = class_targets(N, V, 0, -100, s);
    LossDescriptor ce;
    ce.op = LossOp::cross_entropy;
    ce.input = Operand::tensor(DType::bf16, {N, V});
    ce.target = Operand::tensor(DType::i64, {N});
    const CaseInputs in{.input = logits->p, .target = targets->p};
    // The original cases, with baseline_torch.py's byte counts (see the top of the file).
    run_case("cross_entropy_bf16_8192x128256", ce, in, 2.0 * N * V);
    run_case("cross_entropy_fwdbwd_bf16_8192x128256", fused(ce), in, 3.0 * 2.0 * N * V);
    // The backward direction alone (grad_loss in): torch's twin differentiates a retained graph.
    run_case("cross_entropy_bwd_bf16_8192x128256", backward(ce), in);
    // Label smoothing leaves the TMA bulk-copy kernel (docs/perf/loss.md): its own rate.
    LossDescriptor ls = ce;
    ls.label_smoothing = 0.1;
    run_case("cross_entropy_ls_bf16_8192x128256", ls, in);
    run_case("cross_entropy_ls_fwdbwd_bf16_8192x128256", fused(ls), in);
    // PaLM's z-loss (z lse^2 per sample), 1e-4 as in PaLM; torch has no option, the twin adds it.
    LossDescriptor z = ce;
    z.z_loss = 1e-4;
    run_case("cross_entropy_zloss_bf16_8192x128256", z, in);
    run_case("cross_entropy_zloss_fwdbwd_bf16_8192x128256", fused(z), in);
  }

  // cross_entropy with class-probability targets (distillation): [8192, 32000] bf16, targets of
  // the same shape, uniform in [0, 2/C) so that rows sum to about 1 (the loss does not need them
  // normalized).
  {
    const int64_t N = 8192, C = 32000;
    auto logits = uniform(DType::bf16, N * C, 1235, -4.f, 4.f, s);
    auto probs = uniform(DType::bf16, N * C, 1236, 0.f, 2.f / C, s);
    LossDescriptor d;
    d.op = LossOp::cross_entropy;
    d.input = Operand::tensor(DType::bf16, {N, C});
    d.target = Operand::tensor(DType::bf16, {N, C});
    const CaseInputs in{.input = logits->p, .target = probs->p};
    run_case("cross_entropy_probs_bf16_8192x32000", d, in);
    run_case("cross_entropy_probs_fwdbwd_bf16_8192x32000", fused(d), in);
  }

  // cross_entropy on [N, C, d1] (class dim 1, e.g. per-pixel segmentation): 64 x 1024 x 4096 bf16,
  // targets [64, 4096]. The classes of a sample are d1 elements apart (the per-sample kernel).
  {
    const int64_t N = 64, C = 1024, S = 4096;
    auto logits = uniform(DType::bf16, N * C * S, 1237, -4.f, 4.f, s);
    auto targets = class_targets(N * S, C, 0, -100, s);
    LossDescriptor d;
    d.op = LossOp::cross_entropy;
    d.input = Operand::tensor(DType::bf16, {N, C, S});
    d.target = Operand::tensor(DType::i64, {N, S});
    const CaseInputs in{.input = logits->p, .target = targets->p};
    run_case("cross_entropy_bf16_64x1024x4096", d, in);
    run_case("cross_entropy_fwdbwd_bf16_64x1024x4096", fused(d), in);
  }

  // nll_loss on log-probabilities [65536, 1024] f32 in [-10, 0); 1 target in 8 is ignore_index
  // (-100, set explicitly: HF's padding label). Bytes are what the op moves, not the input's size:
  // the forward gathers one log-probability per sample (reads the targets and N values, writes the
  // loss), the backward never reads the input (reads the targets and grad_loss, writes the dense
  // gradient). Counting the 268 MB input as read would report more than HBM delivers.
  {
    const int64_t N = 65536, C = 1024, kIgnore = -100;
    auto logp = uniform(DType::f32, N * C, 1238, -10.f, 0.f, s);
    auto targets = class_targets(N, C, 8, kIgnore, s);
    LossDescriptor d;
    d.op = LossOp::nll_loss;
    d.ignore_index = kIgnore;
    d.input = Operand::tensor(DType::f32, {N, C});
    d.target = Operand::tensor(DType::i64, {N});
    const CaseInputs in{.input = logp->p, .target = targets->p};
    run_case("nll_loss_f32_65536x1024", d, in, 8.0 * N + 4.0 * N + 4.0);
    run_case("nll_loss_bwd_f32_65536x1024", backward(d), in, 4.0 + 8.0 * N + 4.0 * N * C);
  }

  // Regression losses on 2^27 elements, f32 and bf16: input and target in [-3, 3), so that
  // smooth_l1 (beta 1) and huber (delta 1) take both of their branches. Names are spelled out
  // (not assembled) so that a name in a result file greps to its line here.
  const int64_t P = int64_t{1} << 27;
  struct Regression {
    LossOp op;
    DType dt;
    const char* fwd;
    const char* bwd;
  };
  const Regression regression[] = {
      {LossOp::mse_loss, DType::f32, "mse_f32_134M", "mse_bwd_f32_134M"},
      {LossOp::l1_loss, DType::f32, "l1_f32_134M", "l1_bwd_f32_134M"},
      {LossOp::smooth_l1_loss, DType::f32, "smooth_l1_f32_134M", "smooth_l1_bwd_f32_134M"},
      {LossOp::huber_loss, DType::f32, "huber_f32_134M", "huber_bwd_f32_134M"},
      {LossOp::mse_loss, DType::bf16, "mse_bf16_134M", "mse_bwd_bf16_134M"},
      {LossOp::l1_loss, DType::bf16, "l1_bf16_134M", "l1_bwd_bf16_134M"},
      {LossOp::smooth_l1_loss, DType::bf16, "smooth_l1_bf16_134M", "smooth_l1_bwd_bf16_134M"},
      {LossOp::huber_loss, DType::bf16, "huber_bf16_134M", "huber_bwd_bf16_134M"},
  };
  for (DType dt : {DType::f32, DType::bf16}) {
    auto x = uniform(dt, P, 2001, -3.f, 3.f, s);
    auto t = uniform(dt, P, 2002, -3.f, 3.f, s);
    const CaseInputs in{.input = x->p, .target = t->p};
    for (const Regression& r : regression) {
      if (r.dt != dt) continue;
      LossDescriptor d;
      d.op = r.op;
      d.input = Operand::tensor(dt, {P});
      d.target = Operand::tensor(dt, {P});
      run_case(r.fwd, d, in);
      run_case(r.bwd, backward(d), in);
    }
    if (dt == DType::f32) {
      // Reduction none: the per-element losses are written (a 512 MB output instead of a scalar).
      LossDescriptor d;
      d.op = LossOp::mse_loss;
      d.reduction = LossReduction::none;
      d.input = Operand::tensor(dt, {P});
      d.target = Operand::tensor(dt, {P});
      run_case("mse_none_f32_134M", d, in);
    }
  }

  // Binary cross entropy on 2^27 f32 elements: probabilities in [0.02, 0.98) (away from the log
  // clamp), soft targets in [0, 1). With logits: [131072, 1024] logits in [-4, 4) and a pos_weight
  // per column [1024] (one per label, as multi-label classifiers use it).
  {
    const int64_t R = P / 1024, L = 1024;
    auto probs = uniform(DType::f32, P, 3001, 0.02f, 0.98f, s);
    auto logits = uniform(DType::f32, P, 3002, -4.f, 4.f, s);
    auto targets = uniform(DType::f32, P, 3003, 0.f, 1.f, s);
    auto pos_weight = uniform(DType::f32, L, 3004, 0.5f, 3.f, s);
    LossDescriptor bce;
    bce.op = LossOp::binary_cross_entropy;
    bce.input = Operand::tensor(DType::f32, {P});
    bce.target = Operand::tensor(DType::f32, {P});
    const CaseInputs bce_in{.input = probs->p, .target = targets->p};
    run_case("bce_f32_134M", bce, bce_in);
    run_case("bce_bwd_f32_134M", backward(bce), bce_in);
    LossDescriptor bcel;
    bcel.op = LossOp::binary_cross_entropy_with_logits;
    bcel.input = Operand::tensor(DType::f32, {R, L});
    bcel.target = Operand::tensor(DType::f32, {R, L});
    bcel.pos_weight = Operand::tensor(DType::f32, {L});
    const CaseInputs bcel_in{.input = logits->p, .target = targets->p, .pos_weight = pos_weight->p};
    run_case("bce_with_logits_f32_134M", bcel, bcel_in);
    run_case("bce_with_logits_bwd_f32_134M", backward(bcel), bcel_in);
  }

  // kl_div on [8192, 32000] f32 (distillation over a 32k vocabulary): input log-probabilities in
  // [-14, -7) (around log(1/32000) = -10.4); targets positive probabilities in [1e-6, 6e-5)
  // (mean about 1/32000), or with log_target log-probabilities like the input. Mean is over every
  // element, as torch's reduction="mean".
  {
    const int64_t N = 8192, C = 32000;
    auto logq = uniform(DType::f32, N * C, 4001, -14.f, -7.f, s);
    auto p = uniform(DType::f32, N * C, 4002, 1e-6f, 6e-5f, s);
    auto logp = uniform(DType::f32, N * C, 4003, -14.f, -7.f, s);
    LossDescriptor d;
    d.op = LossOp::kl_div;
    d.input = Operand::tensor(DType::f32, {N, C});
    d.target = Operand::tensor(DType::f32, {N, C});
    const CaseInputs in{.input = logq->p, .target = p->p};
    run_case("kl_div_f32_8192x32000", d, in);
    run_case("kl_div_bwd_f32_8192x32000", backward(d), in);
    d.log_target = true;
    const CaseInputs in_log{.input = logq->p, .target = logp->p};
    run_case("kl_div_log_target_f32_8192x32000", d, in_log);
    run_case("kl_div_log_target_bwd_f32_8192x32000", backward(d), in_log);
  }

  // cosine_embedding on 65536 pairs of 1024-feature bf16 rows in [-2, 2), y = +-1 (bf16, [N]),
  // margin 0.1 (so that the y = -1 branch is not always clamped). Backward writes both gradients.
  {
    const int64_t N = 65536, D = 1024;
    auto x1 = uniform(DType::bf16, N * D, 5001, -2.f, 2.f, s);
    auto x2 = uniform(DType::bf16, N * D, 5002, -2.f, 2.f, s);
    auto y = signs(DType::bf16, N, 5003, s);
    LossDescriptor d;
    d.op = LossOp::cosine_embedding_loss;
    d.margin = 0.1;
    d.input = Operand::tensor(DType::bf16, {N, D});
    d.other = Operand::tensor(DType::bf16, {N, D});
    d.target = Operand::tensor(DType::bf16, {N});
    const CaseInputs in{.input = x1->p, .other = x2->p, .target = y->p};
    run_case("cosine_embedding_bf16_65536x1024", d, in);
    run_case("cosine_embedding_bwd_bf16_65536x1024", backward(d), in);
  }

  // margin_ranking on 2^27 f32 pairs in [-2, 2), y = +-1, margin 0.3 (both sides of the hinge).
  // Backward writes both gradients.
  {
    auto x1 = uniform(DType::f32, P, 6001, -2.f, 2.f, s);
    auto x2 = uniform(DType::f32, P, 6002, -2.f, 2.f, s);
    auto y = signs(DType::f32, P, 6003, s);
    LossDescriptor d;
    d.op = LossOp::margin_ranking_loss;
    d.margin = 0.3;
    d.input = Operand::tensor(DType::f32, {P});
    d.other = Operand::tensor(DType::f32, {P});
    d.target = Operand::tensor(DType::f32, {P});
    const CaseInputs in{.input = x1->p, .other = x2->p, .target = y->p};
    run_case("margin_ranking_f32_134M", d, in);
    run_case("margin_ranking_bwd_f32_134M", backward(d), in);
  }

  if (!json_path.empty() && !bench::write_json(json_path, "loss", prop.name, copy_gbs, records)) return 1;
  cudaStreamDestroy(s);
  return 0;
}
