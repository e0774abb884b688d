// The cuBLASLt GEMM: the descriptor's column-major form (gemm_column_major.hpp) becomes matrix
// layouts and a matmul descriptor at plan time; cublasLtMatmulAlgoGetHeuristic ranks up to
// kMaxTactics algorithms within the descriptor's workspace limit and the first is used. run()
// rebuilds the matmul descriptor on the stack with the real epilogue / scale pointers (the
// plan stays immutable and thread-safe; nothing is allocated) and enqueues cublasLtMatmul.
#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ops/gemm/cuda/cublaslt_autotune.hpp"
#include "ops/gemm/cuda/cublaslt_handle_pool.hpp"
#include "ops/gemm/gemm_args.hpp"
#include "ops/gemm/gemm_column_major.hpp"
#include "ops/gemm/gemm_impls.hpp"

namespace baracuda::gemm {
namespace {

constexpr int kMaxTactics = 8;
// With the autotune preference the heuristic is asked for more: on the H200 the decode shapes'
// top 8 all ran within 1% of each other (bf16 16x8192x8192, 0.042 ms) while torch's cuBLAS call
// took 0.034 ms, so the faster kernels, if cuBLASLt offers them at all, rank lower.
constexpr int kAutotuneTactics = 32;
// run() needs the workspace this aligned (the library's recommendation for its scratch buffers).
constexpr size_t kWorkspaceAlignment = 256;

std::optional<cudaDataType> cuda_type(DType t) {
  switch (t) {
    case DType::f64: return CUDA_R_64F;
    case DType::f32: return CUDA_R_32F;
    case DType::f16: return CUDA_R_16F;
    case DType::bf16: return CUDA_R_16BF;
    case DType::f8e4m3: return CUDA_R_8F_E4M3;
    case DType::f8e5m2: return CUDA_R_8F_E5M2;
    case DType::i8: return CUDA_R_8I;
    case DType::i32: return CUDA_R_32I;
    default: return std::nullopt;
  }
}

// Everything about the call that is fixed at plan time.
struct LtConfig {
  ColumnMajorGemm p;
  cudaDataType ta{}, tb{}, tc{}, td{};
  cudaDataType t_bias{}, t_aux{};
  cublasComputeType_t compute{};
  cudaDataType scale_type{};
  cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
  bool has_bias = false, has_bias_grad = false, has_aux = false;
  bool fp8 = false, d_fp8 = false, amax = false;
  bool fast_accum = false;  // fp8: CUBLASLT_MATMUL_DESC_FAST_ACCUM
  // fp8 scale modes of cuBLASLt's A and B (after the row-major swap).
  cublasLtMatmulMatrixScale_t lib_a_scale = CUBLASLT_MATMUL_MATRIX_SCALE_SCALAR_32F;
  cublasLtMatmulMatrixScale_t lib_b_scale = CUBLASLT_MATMUL_MATRIX_SCALE_SCALAR_32F;
};

// The pointers that live in the matmul descriptor (dummies at plan time: the heuristic reads
// their alignment, never their memory).
struct LtPointers {
  const void* bias = nullptr;
  void* bias_grad = nullptr;
  void* aux = nullptr;
  const void* a_scale = nullptr;
  const void* b_scale = nullptr;
  const void* d_scale = nullptr;
  void* amax = nullptr;
};

template <class T>
Status set_desc(cublasLtMatmulDesc_t md, cublasLtMatmulDescAttributes_t attr, const T& value, const char* name) {
  if (cublasStatus_t st = cublasLtMatmulDescSetAttribute(md, attr, &value, sizeof(value)); st != CUBLAS_STATUS_SUCCESS)
    return cublaslt_error(std::string("cublasLtMatmulDescSetAttribute(") + name + ")", st);
  return Status::ok();
}

// One code path builds the matmul descriptor for the heuristic (plan time) and for the call.
Status init_matmul_desc(cublasLtMatmulDescOpaque_t* storage, const LtConfig& c, const LtPointers& ptr) {
  cublasLtMatmulDesc_t md = storage;
  if (cublasStatus_t st = cublasLtMatmulDescInit(md, c.compute, c.scale_type); st != CUBLAS_STATUS_SUCCESS)
    return cublaslt_error("cublasLtMatmulDescInit", st);
  const cublasOperation_t op_a = c.p.a.transposed ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = c.p.b.transposed ? CUBLAS_OP_T : CUBLAS_OP_N;
  BARACUDA_TRY(set_desc(md, CUBLASLT_MATMUL_DESC_TRANSA, op_a, "TRANSA"));
  BARACUDA_TRY(set_desc(md, CUBLASLT_MATMUL_DESC_TRANSB, op_b, "TRANSB"));
  if (c.epilogue != CUBLASLT_EPILOGUE_DEFAULT) BARACUDA_TRY(set_desc(md, CUBLASLT_MATMUL_DESC_EPILOGUE, c.epilogue, "EPILOGUE"));
  if (c.has_bias || c.has_bias_grad) {
    const void* vec = c.has_bias ? ptr.bias : static_cast<const void*>(ptr.bias_grad);
    BARACUDA_TRY(set_desc(md, CUBLASLT_MATMUL_DESC_BIAS_POINTER, vec, "BIAS_POINTER"));
    if (c.fp8) BARACUDA_TRY(set_desc(md, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, static_cast<int32_t>(c.t_bias), "BIAS_DATA_TYPE"));
  }
  if (c.has_aux) {
    BARACUDA_TRY(set_desc(md, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, ptr.aux, "EPILOGUE_AUX_POINTER"));
    BARACUDA_TRY(set_desc(md, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, c.p.aux.ld, "EPILOGUE_AUX_LD"));
    BARACUDA_TRY(set_desc(md, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_BATCH_STRIDE, c.p.aux.batch_stride, "EPILOGUE_AUX_BATCH_STRIDE"));
    if (c.fp8)
      BARACUDA_TRY(set_desc(md, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_DATA_TYPE, static_cast<int32_t>(c.t_aux), "EPILOGUE_AUX_DATA_TYPE"));
  }
  if (c.fp8) {
    BARACUDA_TRY(set_desc(md, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, c.p.swapped ? ptr.b_scale : ptr.a_scale, "A_SCALE_POINTER"));
    BARACUDA_TRY(set_desc(md, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, c.p.swapped ? ptr.a_scale : ptr.b_scale, "B_SCALE_POINTER"));
    if (c.lib_a_scale != CUBLASLT_MATMUL_MATRIX_SCALE_SCALAR_32F)
      BARACUDA_TRY(set_desc(md, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, static_cast<int32_t>(c.lib_a_scale), "A_SCALE_MODE"));
    if (c.lib_b_scale != CUBLASLT_MATMUL_MATRIX_SCALE_SCALAR_32F)
      BARACUDA_TRY(set_desc(md, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, static_cast<int32_t>(c.lib_b_scale), "B_SCALE_MODE"));
    if (c.d_fp8) BARACUDA_TRY(set_desc(md, CUBLASLT_MATMUL_DESC_D_SCALE_POINTER, ptr.d_scale, "D_SCALE_POINTER"));
    if (c.amax) BARACUDA_TRY(set_desc(md, CUBLASLT_MATMUL_DESC_AMAX_D_POINTER, ptr.amax, "AMAX_D_POINTER"));
    if (c.fast_accum) BARACUDA_TRY(set_desc(md, CUBLASLT_MATMUL_DESC_FAST_ACCUM, int8_t{1}, "FAST_ACCUM"));
  }
  return Status::ok();
}

Status init_layout(cublasLtMatrixLayoutOpaque_t* storage, cudaDataType type, const ColumnMajorMatrix& m, int64_t batch,
                   const char* name) {
  const std::string call = std::string("cublasLtMatrixLayoutInit(") + name + ")";
  if (cublasStatus_t st = cublasLtMatrixLayoutInit(storage, type, static_cast<uint64_t>(m.rows), static_cast<uint64_t>(m.cols), m.ld);
      st != CUBLAS_STATUS_SUCCESS)
    return cublaslt_error(call, st);
  if (batch > 1) {
    const auto count = static_cast<int32_t>(batch);
    if (cublasStatus_t st = cublasLtMatrixLayoutSetAttribute(storage, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof(count));
        st != CUBLAS_STATUS_SUCCESS)
      return cublaslt_error(call + " BATCH_COUNT", st);
    const int64_t stride = m.batch_stride;
    if (cublasStatus_t st = cublasLtMatrixLayoutSetAttribute(storage, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof(stride));
        st != CUBLAS_STATUS_SUCCESS)
      return cublaslt_error(call + " STRIDED_BATCH_OFFSET", st);
  }
  return Status::ok();
}

bool is_empty(const GemmSignature& sig) { return sig.m == 0 || sig.n == 0 || sig.batch == 0; }

// An fp8 operand's per-row / per-block scales as cuBLASLt (12.9+, Hopper) reads them: each mode
// implies the scale tensor's layout (there is no leading-dimension attribute for it). What is
// required here is what PyTorch's _scaled_mm passes it:
//  * outer_vector: one contiguous f32 per row of A / column of B;
//  * block_1x128: "outer-dim major": for each K block, the M (or N) scales contiguous; M (or N)
//    a multiple of 4 (PyTorch's callers pad the tokens to 4);
//  * block_128x128: for each block row of A (block column of B), its K-block scales contiguous,
//    the stride between them ceil(K/128) rounded up to 4 (PyTorch's callers pad it so).
// Checked on the H200 (GemmGpu.Fp8RowwiseAndBlockScales) against the CPU reference.
Result<cublasLtMatmulMatrixScale_t> lib_scale_mode(const char* what, GemmScaleMode mode, const Operand& scale,
                                                   bool is_a) {
  if (mode == GemmScaleMode::tensor) return CUBLASLT_MATMUL_MATRIX_SCALE_SCALAR_32F;
  const std::vector<int64_t> strides = scale.strides.empty() ? contiguous_strides(scale.shape) : scale.strides;
  // (outer index, k-block index) -> stride, whichever dims they are for A ([outer, k]) or B ([k, outer]).
  const int64_t outer_stride = is_a ? strides[0] : strides[1], k_stride = is_a ? strides[1] : strides[0];
  const int64_t outer_len = is_a ? scale.shape[0] : scale.shape[1], k_len = is_a ? scale.shape[1] : scale.shape[0];
  const std::string why = kTag + std::string(what) + " mode " + std::string(gemm_scale_mode_name(mode)) + " with shape " +
                          shape_to_string(scale.shape) + " and strides " + shape_to_string(strides) + ": cuBLASLt needs ";
  switch (mode) {
    case GemmScaleMode::outer_vector:
      if (outer_len > 1 && outer_stride != 1) return not_supported(why + "the vector contiguous");
      return CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F;
    case GemmScaleMode::block_1x128: {
      if (outer_len % 4 != 0)
        return not_supported(why + (is_a ? "M" : "N") + " a multiple of 4, got " + std::to_string(outer_len));
      if ((outer_len > 1 && outer_stride != 1) || (k_len > 1 && k_stride != outer_len))
        return not_supported(why + "the scales of each K block contiguous (strides " +
                             (is_a ? "[1, " + std::to_string(outer_len) + "]" : "[" + std::to_string(outer_len) + ", 1]") + ")");
      return CUBLASLT_MATMUL_MATRIX_SCALE_VEC128_32F;
    }
    case GemmScaleMode::block_128x128: {
      const int64_t ld = (k_len + 3) / 4 * 4;
      if ((k_len > 1 && k_stride != 1) || (outer_len > 1 && outer_stride != ld))
        return not_supported(why + "each block " + (is_a ? "row" : "column") + "'s K-block scales contiguous, " +
                             std::to_string(ld) + " apart (ceil(K/128) rounded up to 4)");
      return CUBLASLT_MATMUL_MATRIX_SCALE_BLK128x128_32F;
    }
    case GemmScaleMode::tensor: break;
  }
  return CUBLASLT_MATMUL_MATRIX_SCALE_SCALAR_32F;
}

// The pairs of scale modes cuBLASLt runs. On the H200 (cuBLAS 13.0) it ran per-tensor x per-tensor,
// outer_vector x outer_vector and block_1x128 x block_128x128 (DeepSeek's recipe); for
// block_1x128 x block_1x128 and block_128x128 x block_128x128 its heuristic returned no algorithm,
// and for outer_vector x tensor the heuristic call failed with INVALID_VALUE. Those are refused
// here with the reason instead of a library error.
Status check_scale_mode_pair(GemmScaleMode a, GemmScaleMode b) {
  using M = GemmScaleMode;
  if ((a == M::tensor && b == M::tensor) || (a == M::outer_vector && b == M::outer_vector) ||
      (a == M::block_1x128 && b == M::block_128x128))
    return Status::ok();
  return not_supported(kTag + "cuBLASLt runs the fp8 scale-mode pairs tensor x tensor, outer_vector x outer_vector and "
                       "block_1x128 x block_128x128 (a_scale x b_scale); got " + std::string(gemm_scale_mode_name(a)) +
                       " x " + std::string(gemm_scale_mode_name(b)));
}

// The checks that need no library call: dtypes, epilogue mapping, layouts. Fills `cfg`.
Status plan_config(const GemmDescriptor& d, const GemmSignature& sig, const Device& device, LtConfig& cfg) {
  if (!device.is_cuda()) return not_supported("cuBLASLt runs on CUDA devices");
  if (sig.fp8 && device.sm < 89)
    return not_supported(kTag + "fp8 GEMMs need sm_89 or newer, the device is sm_" + std::to_string(device.sm));
  if (is_empty(sig)) {
    if (d.bias_grad) return not_supported(kTag + "an empty D with a bias gradient is not implemented on cuBLASLt");
    return Status::ok();  // nothing to compute: run() returns at once
  }
  if (sig.k == 0)
    return not_supported(kTag + "K = 0 (D = epilogue(beta C + bias)) is not implemented on cuBLASLt");

  // Epilogue: cuBLASLt's GELU is the tanh approximation; it has no erf GELU, no SiLU, and its
  // ReLU auxiliary output is a bit-mask, not the pre-activation.
  const GemmActivation act = d.activation;
  if (act == GemmActivation::gelu_erf)
    return not_supported(kTag + "cuBLASLt has no erf GELU epilogue (its GELU is the tanh approximation: use gelu_tanh)");
  if (act == GemmActivation::silu) return not_supported(kTag + "cuBLASLt has no SiLU epilogue");
  // The f64 GELU epilogue differed from torch's f64 gelu(approximate='tanh') by up to 8e-9
  // relative on the H200 (cuBLAS 13.0): not f64 accuracy. The second-pass plan computes it in f64.
  if (act == GemmActivation::gelu_tanh && d.d.dtype == DType::f64)
    return not_supported(kTag + "cuBLASLt's f64 GELU epilogue is not f64-accurate (8e-9 relative seen)");
  if (d.pre_activation && act != GemmActivation::gelu_tanh)
    return not_supported(kTag + "cuBLASLt writes the pre-activation only with the GELU epilogue (ReLU's auxiliary output is "
                         "a bit-mask), got activation " + std::string(gemm_activation_name(act)));
  if (d.bias_grad && (d.bias || act != GemmActivation::none || d.pre_activation))
    return not_supported(kTag + "cuBLASLt's bias-gradient epilogue (BGRADA/BGRADB) combines with no other epilogue");
  if (d.bias_grad && d.alpha != 1.0)
    return not_supported(kTag + "cuBLASLt's bias gradient with alpha != 1 has no documented scaling; alpha is " +
                         std::to_string(d.alpha));

  ColumnMajorOptions opt;
  opt.a_transposed_b_not = sig.fp8;  // cuBLASLt's fp8 kernels on sm_89/sm_90 take only "TN"
  BARACUDA_ASSIGN_OR_RETURN(cfg.p, to_column_major(d, sig, opt));
  const ColumnMajorGemm& p = cfg.p;
  if (p.batch > INT32_MAX) return not_supported(kTag + "batch count " + std::to_string(p.batch) + " exceeds cuBLASLt's int32");
  if (!p.outer.empty() && (d.bias_grad || d.amax))
    return not_supported(kTag + "batch dims that do not fold into one stride run as one cuBLASLt call per outer batch "
                         "entry; a bias_grad or amax would need combining across the calls (not implemented)");
  if (d.bias) {
    if (!p.bias_along_lib_rows)
      return not_supported(kTag + "cuBLASLt adds the bias along the rows of its column-major D: a bias along " +
                           std::string(gemm_vector_axis_name(d.bias_axis)) + " needs D stored " +
                           (d.bias_axis == GemmVectorAxis::rows ? "column-major" : "row-major"));
    const auto& s = d.bias->strides;
    if (!s.empty() && d.bias->shape[0] > 1 && s[0] != 1) return not_supported(kTag + "cuBLASLt needs a contiguous bias");
  }
  if (d.bias_grad) {
    const auto& s = d.bias_grad->strides;
    if (!s.empty() && d.bias_grad->shape[0] > 1 && s[0] != 1) return not_supported(kTag + "cuBLASLt needs a contiguous bias_grad");
  }
  if (p.has_aux && (p.aux.ld % 8 != 0 || p.aux.batch_stride % 8 != 0))
    return not_supported(kTag + "cuBLASLt needs the pre_activation's leading dim (" + std::to_string(p.aux.ld) +
                         ") and batch stride (" + std::to_string(p.aux.batch_stride) + ") divisible by 8");

  // Types.
  const DType lib_a = p.swapped ? d.b.dtype : d.a.dtype, lib_b = p.swapped ? d.a.dtype : d.b.dtype;
  if (sig.fp8 && lib_a == DType::f8e5m2 && lib_b == DType::f8e5m2)
    return not_supported(kTag + "cuBLASLt has no f8e5m2 x f8e5m2 GEMM");
  cfg.ta = *cuda_type(lib_a);
  cfg.tb = *cuda_type(lib_b);
  cfg.td = *cuda_type(d.d.dtype);
  // Without C (beta == 0) the C layout describes D; an fp8 D pairs with a 16-bit C type.
  cfg.tc = p.has_c ? *cuda_type(d.c->dtype) : (is_fp8(d.d.dtype) ? CUDA_R_16BF : cfg.td);
  if (d.bias) cfg.t_bias = *cuda_type(d.bias->dtype);
  if (d.bias_grad) cfg.t_bias = *cuda_type(d.bias_grad->dtype);
  if (d.pre_activation) cfg.t_aux = *cuda_type(d.pre_activation->dtype);
  cfg.has_bias = d.bias.has_value();
  cfg.has_bias_grad = d.bias_grad.has_value();
  cfg.has_aux = p.has_aux;
  cfg.fp8 = sig.fp8;
  cfg.fast_accum = sig.fp8 && d.fp8_fast_accum;
  if (sig.fp8) {
    // Each operand's layout first (the more specific reason), then whether cuBLASLt runs the pair.
    BARACUDA_ASSIGN_OR_RETURN(cublasLtMatmulMatrixScale_t a_mode,
                              lib_scale_mode("a_scale", d.a_scale_mode, *sig.a_scale, true));
    BARACUDA_ASSIGN_OR_RETURN(cublasLtMatmulMatrixScale_t b_mode,
                              lib_scale_mode("b_scale", d.b_scale_mode, *sig.b_scale, false));
    BARACUDA_TRY(check_scale_mode_pair(d.a_scale_mode, d.b_scale_mode));
    cfg.lib_a_scale = p.swapped ? b_mode : a_mode;
    cfg.lib_b_scale = p.swapped ? a_mode : b_mode;
  }
  cfg.d_fp8 = is_fp8(d.d.dtype);
  cfg.amax = d.amax;
  switch (d.a.dtype) {
    case DType::f64: cfg.compute = CUBLAS_COMPUTE_64F; cfg.scale_type = CUDA_R_64F; break;
    case DType::f32:
      cfg.compute = d.allow_tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
      cfg.scale_type = CUDA_R_32F;
      break;
    case DType::i8: cfg.compute = CUBLAS_COMPUTE_32I; cfg.scale_type = CUDA_R_32I; break;
    default: cfg.compute = CUBLAS_COMPUTE_32F; cfg.scale_type = CUDA_R_32F; break;  // f16, bf16, fp8
  }

  // Epilogue id.
  if (d.bias_grad) {
    cfg.epilogue = p.bias_grad_from_lib_a ? CUBLASLT_EPILOGUE_BGRADA : CUBLASLT_EPILOGUE_BGRADB;
  } else if (act == GemmActivation::relu) {
    cfg.epilogue = d.bias ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_RELU;
  } else if (act == GemmActivation::gelu_tanh) {
    if (d.pre_activation) cfg.epilogue = d.bias ? CUBLASLT_EPILOGUE_GELU_AUX_BIAS : CUBLASLT_EPILOGUE_GELU_AUX;
    else cfg.epilogue = d.bias ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_GELU;
  } else {
    cfg.epilogue = d.bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
  }
  return Status::ok();
}

std::string epilogue_name(cublasLtEpilogue_t e) {
  switch (e) {
    case CUBLASLT_EPILOGUE_DEFAULT: return "";
    case CUBLASLT_EPILOGUE_RELU: return "relu";
    case CUBLASLT_EPILOGUE_BIAS: return "bias";
    case CUBLASLT_EPILOGUE_RELU_BIAS: return "relu_bias";
    case CUBLASLT_EPILOGUE_GELU: return "gelu";
    case CUBLASLT_EPILOGUE_GELU_AUX: return "gelu_aux";
    case CUBLASLT_EPILOGUE_GELU_BIAS: return "gelu_bias";
    case CUBLASLT_EPILOGUE_GELU_AUX_BIAS: return "gelu_aux_bias";
    case CUBLASLT_EPILOGUE_BGRADA: return "bgrada";
    case CUBLASLT_EPILOGUE_BGRADB: return "bgradb";
    default: return "epilogue " + std::to_string(static_cast<int>(e));
  }
}

// "cublaslt[algo 66, tile 27, stages 35, splitk 1, reduction 0, cluster 0, waves 0.93]": the
// algorithm's configuration ids as cuBLASLt exposes them (tile / stages / cluster ids index
// cublasLtMatmulTile_t, cublasLtMatmulStages_t, cublasLtClusterShape_t).
int32_t split_k_of(const cublasLtMatmulAlgo_t& algo) {
  int32_t splitk = 1;
  size_t written = 0;
  (void)cublasLtMatmulAlgoConfigGetAttribute(&algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &splitk, sizeof(splitk), &written);
  return splitk;
}

std::string tactic_name(const cublasLtMatmulHeuristicResult_t& r) {
  int32_t algo = -1, splitk = 1;
  uint32_t tile = 0, stages = 0, reduction = 0;
  uint16_t cluster = 0;
  size_t written = 0;
  (void)cublasLtMatmulAlgoConfigGetAttribute(&r.algo, CUBLASLT_ALGO_CONFIG_ID, &algo, sizeof(algo), &written);
  (void)cublasLtMatmulAlgoConfigGetAttribute(&r.algo, CUBLASLT_ALGO_CONFIG_TILE_ID, &tile, sizeof(tile), &written);
  (void)cublasLtMatmulAlgoConfigGetAttribute(&r.algo, CUBLASLT_ALGO_CONFIG_STAGES_ID, &stages, sizeof(stages), &written);
  (void)cublasLtMatmulAlgoConfigGetAttribute(&r.algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &splitk, sizeof(splitk), &written);
  (void)cublasLtMatmulAlgoConfigGetAttribute(&r.algo, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, &reduction, sizeof(reduction),
                                             &written);
  (void)cublasLtMatmulAlgoConfigGetAttribute(&r.algo, CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID, &cluster, sizeof(cluster),
                                             &written);
  char buf[160];
  std::snprintf(buf, sizeof(buf), "cublaslt[algo %d, tile %u, stages %u, splitk %d, reduction %u, cluster %u, waves %.2f]",
                algo, tile, stages, splitk, reduction, static_cast<unsigned>(cluster), static_cast<double>(r.wavesCount));
  return buf;
}

// alpha and beta in the scale type, for cuBLASLt's host pointer mode.
class HostAlphaBeta {
 public:
  HostAlphaBeta(cudaDataType scale_type, double alpha, double beta) : type_(scale_type) {
    a64_ = alpha, b64_ = beta;
    a32_ = static_cast<float>(alpha), b32_ = static_cast<float>(beta);
    ai_ = static_cast<int32_t>(alpha), bi_ = static_cast<int32_t>(beta);
  }
  HostAlphaBeta(const HostAlphaBeta&) = delete;
  HostAlphaBeta& operator=(const HostAlphaBeta&) = delete;
  const void* alpha() const { return type_ == CUDA_R_64F ? static_cast<const void*>(&a64_) : type_ == CUDA_R_32I ? static_cast<const void*>(&ai_) : &a32_; }
  const void* beta() const { return type_ == CUDA_R_64F ? static_cast<const void*>(&b64_) : type_ == CUDA_R_32I ? static_cast<const void*>(&bi_) : &b32_; }

 private:
  cudaDataType type_;
  double a64_ = 0, b64_ = 0;
  float a32_ = 0, b32_ = 0;
  int32_t ai_ = 0, bi_ = 0;
};

// Bytes an f32 scale operand spans from its first element (at least 16).
size_t scale_bytes(const Operand& o) {
  const std::vector<int64_t> st = o.strides.empty() ? contiguous_strides(o.shape) : o.strides;
  int64_t last = 0;
  for (size_t i = 0; i < o.shape.size(); ++i) {
    if (o.shape[i] == 0) return 16;
    last += (o.shape[i] - 1) * st[i];
  }
  return std::max<size_t>(16, static_cast<size_t>(last + 1) * 4);
}

// Bytes a column-major matrix (with its strided batch) spans from its first element.
size_t span_bytes(const ColumnMajorMatrix& m, int64_t batch, size_t element_size) {
  if (m.rows == 0 || m.cols == 0 || batch == 0) return 0;
  const int64_t last = (batch - 1) * m.batch_stride + (m.cols - 1) * m.ld + m.rows;
  return static_cast<size_t>(last) * element_size;
}

class LtGemm final : public Executable<GemmFamily> {
 public:
  LtGemm(GemmDescriptor d, GemmSignature sig, Device device, LtConfig cfg, bool autotune)
      : d_(std::move(d)), sig_(std::move(sig)), device_(device), cfg_(std::move(cfg)), autotune_(autotune) {}

  // Layouts, heuristic, SKU. Empty problems stop after the SKU.
  Status init() {
    sku_.family = "gemm";
    sku_.op = "gemm";
    sku_.dtypes = std::string(dtype_name(d_.a.dtype)) + "," + std::string(dtype_name(d_.b.dtype)) + "->" +
                  std::string(dtype_name(d_.d.dtype));
    sku_.arch = "sm_" + std::to_string(device_.sm);
    sku_.backend = "cublaslt";
    sku_.impl = "cublaslt";
    const bool f64 = d_.a.dtype == DType::f64;
    pg_.accumulator = f64 ? DType::f64 : (sig_.integer ? DType::i32 : DType::f32);
    if (sig_.integer) pg_.math = "exact int32 accumulation (wraps modulo 2^32), cuBLASLt IMMA";
    else if (f64) pg_.math = "f64 FMA accumulation, one rounding to the output dtype";
    else if (d_.a.dtype == DType::f32)
      pg_.math = d_.allow_tf32 ? "tf32 tensor-core products (10-bit mantissa inputs), f32 accumulation"
                               : "IEEE f32 products and f32 accumulation (no tf32)";
    else if (sig_.fp8)
      pg_.math = d_.fp8_fast_accum
                     ? "fp8 tensor-core products, fast accumulation (partial sums at lower precision between f32 "
                       "promotions, as torch._scaled_mm(use_fast_accum=True)), scales in f32"
                     : "fp8 tensor-core products, f32 accumulation (fast accumulation off), scales in f32";
    else pg_.math = "tensor-core products, f32 accumulation, one rounding to the output dtype";
    // cuBLAS: the same algorithm on the same architecture and SM count gives bitwise the same
    // results run after run; split-K reductions go through workspace/counters in a fixed order.
    pg_.deterministic = true;
    pg_.bit_stable = true;
    if (is_empty(sig_)) {
      sku_.layout = "empty";
      sku_.tactic = "none (empty problem)";
      return Status::ok();
    }
    const ColumnMajorGemm& p = cfg_.p;
    sku_.layout = std::string(p.swapped ? "row-major D (swapped) " : "column-major D ") + (p.a.transposed ? "T" : "N") +
                  (p.b.transposed ? "T" : "N") + (p.batch > 1 ? " batch " + std::to_string(p.batch) : "");
    if (!p.outer.empty()) {
      int64_t calls = 1;
      for (const OuterBatchDim& o : p.outer) calls *= o.size;
      sku_.layout += ", " + std::to_string(calls) + " calls (outer batch dims that do not fold)";
    }
    sku_.epilogue = epilogue_name(cfg_.epilogue);

    BARACUDA_ASSIGN_OR_RETURN(handle_, cublaslt_handle(device_.ordinal));
    BARACUDA_TRY(init_layout(&a_, cfg_.ta, p.a, p.batch, "A"));
    BARACUDA_TRY(init_layout(&b_, cfg_.tb, p.b, p.batch, "B"));
    BARACUDA_TRY(init_layout(&c_, cfg_.tc, p.has_c ? p.c : p.d, p.batch, "C"));
    BARACUDA_TRY(init_layout(&d_layout_, cfg_.td, p.d, p.batch, "D"));

    cublasLtMatmulPreferenceOpaque_t pref;
    if (cublasStatus_t st = cublasLtMatmulPreferenceInit(&pref); st != CUBLAS_STATUS_SUCCESS)
      return cublaslt_error("cublasLtMatmulPreferenceInit", st);
    const uint64_t max_ws = d_.max_workspace_bytes;
    if (cublasStatus_t st = cublasLtMatmulPreferenceSetAttribute(&pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &max_ws,
                                                                 sizeof(max_ws));
        st != CUBLAS_STATUS_SUCCESS)
      return cublaslt_error("cublasLtMatmulPreferenceSetAttribute(MAX_WORKSPACE_BYTES)", st);
    const auto align = static_cast<uint32_t>(std::min<size_t>(d_.alignment, 256));
    for (auto attr : {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                      CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES})
      if (cublasStatus_t st = cublasLtMatmulPreferenceSetAttribute(&pref, attr, &align, sizeof(align)); st != CUBLAS_STATUS_SUCCESS)
        return cublaslt_error("cublasLtMatmulPreferenceSetAttribute(MIN_ALIGNMENT)", st);

    // Split-K partial sums added in a 16-bit or fp8 output type would round more than once:
    // only reductions in the compute type (or none) keep "f32 accumulation, one rounding".
    if (dtype_size(d_.d.dtype) < 4) {
      const uint32_t mask = CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE;
      if (cublasStatus_t st = cublasLtMatmulPreferenceSetAttribute(&pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, &mask,
                                                                   sizeof(mask));
          st != CUBLAS_STATUS_SUCCESS)
        return cublaslt_error("cublasLtMatmulPreferenceSetAttribute(REDUCTION_SCHEME_MASK)", st);
    }

    // Dummy epilogue pointers carrying the promised alignment (never dereferenced here).
    LtPointers dummy;
    void* aligned = reinterpret_cast<void*>(static_cast<uintptr_t>(std::max<size_t>(align, 16)));
    dummy.bias = dummy.bias_grad = dummy.aux = dummy.amax = aligned;
    dummy.a_scale = dummy.b_scale = dummy.d_scale = aligned;
    cublasLtMatmulDescOpaque_t md;
    BARACUDA_TRY(init_matmul_desc(&md, cfg_, dummy));

    std::vector<cublasLtMatmulHeuristicResult_t> results(autotune_ ? kAutotuneTactics : kMaxTactics);
    int count = 0;
    const cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(handle_, &md, &a_, &b_, &c_, &d_layout_, &pref,
                                                             static_cast<int>(results.size()), results.data(), &count);
    if (st != CUBLAS_STATUS_SUCCESS && st != CUBLAS_STATUS_NOT_SUPPORTED)
      return cublaslt_error("cublasLtMatmulAlgoGetHeuristic", st);
    // With an epilogue and a 16-bit or fp8 D, split-K tactics were seen on the H200 (cuBLAS 13.0,
    // bf16 129x72x65 + bias / gelu, splitk 16 and 60) to round the partial sums to the output type
    // even with the compute-type reduction scheme requested: errors of a few bf16 ulps of the
    // partials, far beyond "f32 accumulation, one rounding". Those tactics are dropped; when only
    // split-K ones are offered, the best is re-run through AlgoCheck with split-K off.
    const bool single_pass_only = cfg_.epilogue != CUBLASLT_EPILOGUE_DEFAULT && dtype_size(d_.d.dtype) < 4;
    cublasLtMatmulHeuristicResult_t fallback{};
    bool have_fallback = false;
    for (int i = 0; i < count; ++i) {
      if (results[i].state != CUBLAS_STATUS_SUCCESS) continue;
      if (single_pass_only && split_k_of(results[i].algo) > 1) {
        if (!have_fallback) fallback = results[i], have_fallback = true;
        continue;
      }
      tactics_.push_back(results[i]);
    }
    if (tactics_.empty() && have_fallback) {
      const int32_t one = 1;
      const uint32_t none = CUBLASLT_REDUCTION_SCHEME_NONE;
      (void)cublasLtMatmulAlgoConfigSetAttribute(&fallback.algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &one, sizeof(one));
      (void)cublasLtMatmulAlgoConfigSetAttribute(&fallback.algo, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, &none, sizeof(none));
      cublasLtMatmulHeuristicResult_t checked{};
      if (cublasLtMatmulAlgoCheck(handle_, &md, &a_, &b_, &c_, &d_layout_, &fallback.algo, &checked) ==
              CUBLAS_STATUS_SUCCESS &&
          checked.workspaceSize <= d_.max_workspace_bytes) {
        checked.algo = fallback.algo;
        tactics_.push_back(checked);
      }
    }
    if (st == CUBLAS_STATUS_NOT_SUPPORTED || tactics_.empty())
      return not_supported(kTag + "cuBLASLt's heuristic has no algorithm for " + GemmFamily::describe(d_) + " as " +
                           sku_.layout + (sku_.epilogue.empty() ? "" : " epilogue " + sku_.epilogue) + " within " +
                           std::to_string(d_.max_workspace_bytes) + " workspace bytes and " + std::to_string(align) +
                           "-byte alignment");
    std::string tuned;
    if (autotune_ && tactics_.size() > 1) tuned = autotune(align);
    sku_.tactic = tactic_name(tactics_[0]) + " (1 of " + std::to_string(tactics_.size()) + " ranked" +
                  (tuned.empty() ? "" : "; " + tuned) + ")" + (cfg_.fast_accum ? ", fp8 fast accumulation" : "");
    return Status::ok();
  }

  // PlanPreference::autotune: times the ranked tactics on zeroed scratch operands (plan time:
  // allocates and synchronizes) and moves the fastest to the front; the winner is cached per
  // problem for the process. Never fails the plan: it returns what it did, for the SKU.
  std::string autotune(uint32_t align) {
    const std::string key = GemmFamily::describe(d_) + " sm_" + std::to_string(device_.sm) + " #" +
                            std::to_string(device_.ordinal) + " ws " + std::to_string(d_.max_workspace_bytes) +
                            " align " + std::to_string(align) + (d_.allow_tf32 ? " tf32" : "");
    const auto front = [&](size_t i) {
      std::rotate(tactics_.begin(), tactics_.begin() + static_cast<std::ptrdiff_t>(i),
                  tactics_.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    };
    if (auto won = cached_winner(key))
      for (size_t i = 0; i < tactics_.size(); ++i)
        if (std::memcmp(&tactics_[i].algo, &*won, sizeof(cublasLtMatmulAlgo_t)) == 0) {
          front(i);
          return "autotuned, cached winner";
        }
    DeviceGuard guard(device_.ordinal);
    const ColumnMajorGemm& p = cfg_.p;
    const size_t es_a = dtype_size(p.swapped ? d_.b.dtype : d_.a.dtype);
    const size_t es_b = dtype_size(p.swapped ? d_.a.dtype : d_.b.dtype);
    const size_t es_d = dtype_size(d_.d.dtype);
    size_t ws_bytes = 0;
    for (const auto& t : tactics_) ws_bytes = std::max(ws_bytes, t.workspaceSize);
    ScratchBuffer a(span_bytes(p.a, p.batch, es_a)), b(span_bytes(p.b, p.batch, es_b)), dd(span_bytes(p.d, p.batch, es_d));
    ScratchBuffer c(p.has_c ? span_bytes(p.c, p.batch, dtype_size(d_.c->dtype)) : 0);
    ScratchBuffer aux(p.has_aux ? span_bytes(p.aux, p.batch, dtype_size(d_.pre_activation->dtype)) : 0);
    ScratchBuffer vec(static_cast<size_t>(std::max(p.m, p.n)) * 8 + 256), scalars(256), ws(ws_bytes);
    // Per-row / per-block scales (zeros: the timing does not depend on their values).
    ScratchBuffer a_scales(sig_.a_scale ? scale_bytes(*sig_.a_scale) : 0);
    ScratchBuffer b_scales(sig_.b_scale ? scale_bytes(*sig_.b_scale) : 0);
    for (const ScratchBuffer* sb : {&a, &b, &dd, &c, &aux, &vec, &scalars, &ws, &a_scales, &b_scales})
      if (!sb->ok()) return "autotune skipped: scratch allocation failed";
    LtPointers ptr;
    char* sc = static_cast<char*>(scalars.get());
    ptr.bias = vec.get();
    ptr.bias_grad = vec.get();
    ptr.aux = aux.get();
    ptr.a_scale = d_.a_scale_mode == GemmScaleMode::tensor ? static_cast<const void*>(sc) : a_scales.get();
    ptr.b_scale = d_.b_scale_mode == GemmScaleMode::tensor ? static_cast<const void*>(sc + 16) : b_scales.get();
    ptr.d_scale = sc + 32;
    ptr.amax = sc + 48;
    cublasLtMatmulDescOpaque_t md;
    if (!init_matmul_desc(&md, cfg_, ptr).is_ok()) return "autotune skipped: descriptor";
    const HostAlphaBeta ab(cfg_.scale_type, d_.alpha, d_.beta);
    const void* cptr = p.has_c ? c.get() : (cfg_.d_fp8 ? nullptr : dd.get());
    auto layout = [](const cublasLtMatrixLayoutOpaque_t& l) { return const_cast<cublasLtMatrixLayoutOpaque_t*>(&l); };
    auto launch = [&](int i, cudaStream_t s) {
      const auto& t = tactics_[static_cast<size_t>(i)];
      return cublasLtMatmul(handle_, &md, ab.alpha(), a.get(), layout(a_), b.get(), layout(b_), ab.beta(), cptr,
                            layout(c_), dd.get(), layout(d_layout_), &t.algo, t.workspaceSize > 0 ? ws.get() : nullptr,
                            t.workspaceSize, s);
    };
    auto times = time_candidates(static_cast<int>(tactics_.size()), launch);
    if (!times) return "autotune skipped: " + times.status().message();
    const size_t best = static_cast<size_t>(std::min_element(times->begin(), times->end()) - times->begin());
    if (!std::isfinite((*times)[best])) return "autotune skipped: no tactic ran";
    char buf[96];
    std::snprintf(buf, sizeof buf, "autotuned: #%zu of %zu, %.4f ms vs the heuristic's first %.4f ms", best + 1,
                  tactics_.size(), (*times)[best], (*times)[0]);
    front(best);
    remember_winner(key, tactics_[0].algo);
    return buf;
  }

  Status can_implement(const GemmArgs& args) const override { return check_args(d_, sig_, args, device_); }
  size_t workspace_size() const override { return tactics_.empty() ? 0 : tactics_[0].workspaceSize; }
  const KernelSku& sku() const override { return sku_; }
  const PrecisionGuarantee& precision_guarantee() const override { return pg_; }

  Status run(const Stream& stream, Workspace ws, const GemmArgs& a) const override {
    if (is_empty(sig_)) return Status::ok();
    const size_t need = workspace_size();
    if (ws.bytes < need)
      return workspace_too_small(kTag + "workspace of " + std::to_string(ws.bytes) + " bytes, the plan needs " +
                                 std::to_string(need));
    if (need > 0 && reinterpret_cast<uintptr_t>(ws.data) % kWorkspaceAlignment != 0)
      return misaligned(kTag + "the workspace must be " + std::to_string(kWorkspaceAlignment) + "-byte aligned");

    LtPointers ptr;
    ptr.bias = a.bias.data;
    ptr.bias_grad = a.bias_grad.data;
    ptr.aux = a.pre_activation.data;
    ptr.a_scale = a.a_scale.data;
    ptr.b_scale = a.b_scale.data;
    ptr.d_scale = a.d_scale.data;
    ptr.amax = a.amax.data;
    cublasLtMatmulDescOpaque_t md;
    BARACUDA_TRY(init_matmul_desc(&md, cfg_, ptr));

    // alpha / beta in the scale type (host pointer mode).
    const HostAlphaBeta ab(cfg_.scale_type, d_.alpha, d_.beta);
    const void* alpha = ab.alpha();
    const void* beta = ab.beta();
    const ColumnMajorGemm& p = cfg_.p;
    const void* lib_a = p.swapped ? a.b.data : a.a.data;
    const void* lib_b = p.swapped ? a.a.data : a.b.data;
    if (!p.outer.empty()) return run_outer(stream, ws, need, md, alpha, beta, lib_a, lib_b, a);
    // beta == 0 without C: C is not read. cuBLASLt treats C == D as in-place and then wants C's
    // layout to equal D's, which an fp8 D (C typed bf16, as cuBLASLt requires) breaks: the H200
    // answered CUBLAS_STATUS_INVALID_VALUE for every f8e4m3 D. There C is null instead (cuBLASLt
    // accepts a null C with a host-side beta of 0).
    const void* c = p.has_c ? a.c.data : (cfg_.d_fp8 ? nullptr : a.d.data);
    // cuBLASLt takes non-const layout handles but only reads them.
    auto layout = [](const cublasLtMatrixLayoutOpaque_t& l) { return const_cast<cublasLtMatrixLayoutOpaque_t*>(&l); };
    const cublasStatus_t st =
        cublasLtMatmul(handle_, &md, alpha, lib_a, layout(a_), lib_b, layout(b_), beta, c, layout(c_), a.d.data,
                       layout(d_layout_), &tactics_[0].algo, need > 0 ? ws.data : nullptr, need,
                       static_cast<cudaStream_t>(stream.cuda_stream()));
    if (st != CUBLAS_STATUS_SUCCESS) return cublaslt_error("cublasLtMatmul (" + sku_.tactic + ")", st);
    return Status::ok();
  }

 private:
  // Batch dims that do not fold: one cuBLASLt call per outer index, each on the inner strided
  // batch, with the operands offset by the outer strides. Same stream, no allocation.
  Status run_outer(const Stream& stream, Workspace ws, size_t need, cublasLtMatmulDescOpaque_t& md, const void* alpha,
                   const void* beta, const void* lib_a, const void* lib_b, const GemmArgs& a) const {
    const ColumnMajorGemm& p = cfg_.p;
    const size_t es_a = dtype_size(p.swapped ? d_.b.dtype : d_.a.dtype), es_b = dtype_size(p.swapped ? d_.a.dtype : d_.b.dtype);
    const size_t es_c = p.has_c ? dtype_size(d_.c->dtype) : 0, es_d = dtype_size(d_.d.dtype);
    const size_t es_aux = p.has_aux ? dtype_size(d_.pre_activation->dtype) : 0;
    std::vector<int64_t> index(p.outer.size(), 0);
    auto layout = [](const cublasLtMatrixLayoutOpaque_t& l) { return const_cast<cublasLtMatrixLayoutOpaque_t*>(&l); };
    for (;;) {
      int64_t off_a = 0, off_b = 0, off_c = 0, off_d = 0, off_aux = 0;
      for (size_t i = 0; i < index.size(); ++i) {
        off_a += index[i] * p.outer[i].a;
        off_b += index[i] * p.outer[i].b;
        off_c += index[i] * p.outer[i].c;
        off_d += index[i] * p.outer[i].d;
        off_aux += index[i] * p.outer[i].aux;
      }
      const auto at = [](const void* base, int64_t elems, size_t es) {
        return static_cast<const void*>(static_cast<const char*>(base) + elems * static_cast<int64_t>(es));
      };
      void* dptr = const_cast<void*>(at(a.d.data, off_d, es_d));
      const void* cptr = p.has_c ? at(a.c.data, off_c, es_c) : (cfg_.d_fp8 ? nullptr : dptr);
      if (p.has_aux) {
        void* aux = const_cast<void*>(at(a.pre_activation.data, off_aux, es_aux));
        BARACUDA_TRY(set_desc(&md, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, aux, "EPILOGUE_AUX_POINTER"));
      }
      const cublasStatus_t st = cublasLtMatmul(
          handle_, &md, alpha, at(lib_a, off_a, es_a), layout(a_), at(lib_b, off_b, es_b), layout(b_), beta, cptr,
          layout(c_), dptr, layout(d_layout_), &tactics_[0].algo, need > 0 ? ws.data : nullptr, need,
          static_cast<cudaStream_t>(stream.cuda_stream()));
      if (st != CUBLAS_STATUS_SUCCESS) return cublaslt_error("cublasLtMatmul (" + sku_.tactic + ", outer batch loop)", st);
      size_t i = index.size();
      while (i > 0 && ++index[i - 1] == p.outer[i - 1].size) index[--i] = 0;
      if (i == 0) return Status::ok();
    }
  }

  GemmDescriptor d_;
  GemmSignature sig_;
  Device device_;
  LtConfig cfg_;
  bool autotune_ = false;
  cublasLtHandle_t handle_ = nullptr;
  cublasLtMatrixLayoutOpaque_t a_{}, b_{}, c_{}, d_layout_{};
  std::vector<cublasLtMatmulHeuristicResult_t> tactics_;  // ranked by the heuristic; [0] runs
  KernelSku sku_;
  PrecisionGuarantee pg_;
};

}  // namespace

Status cublaslt_supports(const GemmDescriptor& desc, const Device& device) {
  BARACUDA_ASSIGN_OR_RETURN(GemmSignature sig, infer_signature(desc));
  LtConfig cfg;
  return plan_config(desc, sig, device, cfg);
}

Result<GemmExecPtr> cublaslt_make(const GemmDescriptor& desc, const Device& device) {
  return cublaslt_make_with_preference(desc, device, PlanPreference{});
}

Result<GemmExecPtr> cublaslt_make_with_preference(const GemmDescriptor& desc, const Device& device,
                                                  const PlanPreference& pref) {
  GemmDescriptor d = desc;
  d.allow_tf32 = d.allow_tf32 || pref.allow_tf32;
  d.max_workspace_bytes = std::min(d.max_workspace_bytes, pref.max_workspace_bytes);
  BARACUDA_ASSIGN_OR_RETURN(GemmSignature sig, infer_signature(d));
  LtConfig cfg;
  BARACUDA_TRY(plan_config(d, sig, device, cfg));
  auto exec = std::make_shared<LtGemm>(d, std::move(sig), device, std::move(cfg), pref.autotune || autotune_forced_by_env());
  BARACUDA_TRY(exec->init());
  return GemmExecPtr(std::move(exec));
}

}  // namespace baracuda::gemm
