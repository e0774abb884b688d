#pragma once
// The norm backward rows engine with dweight/dbias, its rows streamed by TMA bulk copies (sm_90).
// Same math, geometry and partial rows as norm_bwd_rows_fast_kernel with PARAMS (one row group
// of GW warps per block), but x and dy do not wait in registers: thread 0 copies whole rows of
// both into a ring of shared-memory stages, several rows ahead, and the threads read them from
// there twice (the row sums, then dx and the parameter sums). The register-resident kernel keeps
// only one 16-byte vector of each per thread in flight (its dweight/dbias sums take the other
// registers), which measured 73% of copy at 32768 x 4096 bf16 against 94% for dx alone; here the
// bytes in flight are the ring's, not the registers'.
//
// Rows of x and dy up to 16 KB each (the plan's limit), so that a few stages fit beside other
// blocks. Stage s holds row q of the block (rows blockIdx.x + q * gridDim.x) for q = s mod the
// stage count; thread 0 refills the stage of row q - 1 with row q - 1 + stages right after row
// q's reduction barrier, by which every warp has released row q - 1 (the empty barrier's wait
// then returns at once; it is kept so that the copy engine's write is ordered after the reads).
#include <cstdint>

#include "kernels/bulk_copy.cuh"
#include "kernels/norm_bwd_rows_fast.cuh"  // nb_group_sum2, nb_elem, nb_round, Pack

namespace baracuda::norm::cuda {

constexpr int kNbBulkMaxStages = 8;
// Bytes of one stage for rows of `row_bytes`: x, then dy, each 128-byte aligned.
constexpr int nb_bulk_stage_bytes(int64_t row_bytes) { return 2 * static_cast<int>((row_bytes + 127) / 128 * 128); }

template <class T, class W, int VEC, int ITEMS, int GW>
__global__ void __launch_bounds__(GW * 32, nb_min_blocks(GW * 32)) norm_bwd_rows_bulk_kernel(const BwdParams p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  static_assert(VEC * sizeof(T) == 16, "16-byte vectors");
  constexpr int WT = GW * 32, E = ITEMS * VEC;
  __shared__ float red[2][2 * GW];
  __shared__ uint64_t full[kNbBulkMaxStages], empty[kNbBulkMaxStages];
  extern __shared__ __align__(128) unsigned char nb_bulk_stages[];
  const int t = static_cast<int>(threadIdx.x);
  const int n = static_cast<int>(p.cols);
  const float inv_n = 1.f / static_cast<float>(n);
  const W* w = static_cast<const W*>(p.weight);
  const float* mean_p = static_cast<const float*>(p.mean);  // null: rms
  const float* rstd_p = static_cast<const float*>(p.rstd);
  const int stages = p.bulk_stages, stage_bytes = p.bulk_stage_bytes;
  const auto row_bytes = static_cast<unsigned>(n * static_cast<int>(sizeof(T)));
  const int64_t mine = p.rows > blockIdx.x ? (p.rows - 1 - blockIdx.x) / gridDim.x + 1 : 0;
  auto row_of = [&](int64_t q) { return static_cast<int64_t>(blockIdx.x) + q * gridDim.x; };
  auto issue = [&](int64_t q) {  // thread 0: rows q of x and dy into stage q mod stages
    const int s = static_cast<int>(q % stages);
    unsigned char* dst = nb_bulk_stages + static_cast<int64_t>(s) * stage_bytes;
    const int64_t row = row_of(q);
    kernels::mbarrier_arrive_expect_bytes(&full[s], 2 * row_bytes);
    kernels::bulk_copy_to_shared(dst, static_cast<const T*>(p.x) + row * p.x_stride, row_bytes, &full[s]);
    kernels::bulk_copy_to_shared(dst + stage_bytes / 2, static_cast<const T*>(p.dy) + row * p.dy_stride, row_bytes,
                                 &full[s]);
  };
  if (t == 0) {
    for (int s = 0; s < stages; ++s) {
      kernels::mbarrier_init(&full[s], 1);
      kernels::mbarrier_init(&empty[s], GW);
    }
    kernels::mbarrier_init_fence();
  }
  __syncthreads();
  if (t == 0)
    for (int64_t q = 0; q < stages && q < mine; ++q) issue(q);

  float dw[E], db[E];
#pragma unroll
  for (int e = 0; e < E; ++e) dw[e] = db[e] = 0.f;
  for (int64_t q = 0; q < mine; ++q) {
    const int64_t row = row_of(q);
    const int s = static_cast<int>(q % stages);
    const float mean = mean_p ? mean_p[row] : 0.f, rstd = rstd_p[row];
    const unsigned char* stage = nb_bulk_stages + static_cast<int64_t>(s) * stage_bytes;
    const T* xs = reinterpret_cast<const T*>(stage);
    const T* dys = reinterpret_cast<const T*>(stage + stage_bytes / 2);
    kernels::mbarrier_wait(&full[s], static_cast<unsigned>((q / stages) & 1));
    // Pass 1: sum g and sum g*(x - mean) (two chains each, a fixed order).
    float sg[2] = {0.f, 0.f}, sgd[2] = {0.f, 0.f};
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int col = (i * WT + t) * VEC;
      if (col < n) {
        const Pack<T, VEC> xv = *reinterpret_cast<const Pack<T, VEC>*>(xs + col);
        const Pack<T, VEC> dv = *reinterpret_cast<const Pack<T, VEC>*>(dys + col);
        Pack<W, VEC> wv;
        if (w) wv = load_pack<W, VEC>(w + col);
#pragma unroll
        for (int j = 0; j < VEC; ++j) {
          const float d = nb_elem(dv, j);
          const float g = w ? d * nb_elem(wv, j) : d;
          sg[j & 1] += g;
          sgd[j & 1] = fmaf(g, nb_elem(xv, j) - mean, sgd[j & 1]);
        }
      }
    }
    float s_g = sg[0] + sg[1], s_gd = sgd[0] + sgd[1];
    nb_group_sum2<GW>(s_g, s_gd, red[q & 1], 1);
    // Every warp has passed this row's barrier, so all are done with row q - 1: refill its stage.
    if (t == 0 && q >= 1 && q - 1 + stages < mine) {
      const int64_t done = q - 1;
      kernels::mbarrier_wait(&empty[done % stages], static_cast<unsigned>((done / stages) & 1));
      issue(done + stages);
    }
    const float mg = p.rms ? 0.f : s_g * inv_n;  // layer norm only
    const float mgx = rstd * s_gd * inv_n;       // mean_j(g * xhat)
    // Pass 2: dx and the parameter sums, x and dy read from the stage again.
    T* dxr = static_cast<T*>(p.dx) + row * p.dx_stride;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int col = (i * WT + t) * VEC;
      if (col < n) {
        const Pack<T, VEC> xv = *reinterpret_cast<const Pack<T, VEC>*>(xs + col);
        const Pack<T, VEC> dv = *reinterpret_cast<const Pack<T, VEC>*>(dys + col);
        Pack<W, VEC> wv;
        if (w) wv = load_pack<W, VEC>(w + col);
        float o[VEC];
#pragma unroll
        for (int j = 0; j < VEC; ++j) {
          const float d = nb_elem(dv, j);
          const float g = w ? d * nb_elem(wv, j) : d;
          const float xhat = (nb_elem(xv, j) - mean) * rstd;
          o[j] = rstd * fmaf(-xhat, mgx, g - mg);
          dw[i * VEC + j] = fmaf(d, xhat, dw[i * VEC + j]);
          db[i * VEC + j] += d;
        }
        store_pack<T, VEC>(dxr + col, nb_round<T, VEC>(o));
      }
    }
    __syncwarp();
    if (t % 32 == 0) kernels::mbarrier_arrive(&empty[s]);
  }

  // The block's partial rows, as norm_bwd_rows_fast_kernel writes them.
  const int64_t at = static_cast<int64_t>(blockIdx.x) * p.cols;
  const auto store_partial = [&](float* dst, const float (&sum)[E]) {
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int col = (i * WT + t) * VEC;
      if (col < n) {
#pragma unroll
        for (int j = 0; j < VEC; j += 4) {
          const int e = i * VEC + j;
          *reinterpret_cast<float4*>(dst + at + col + j) = make_float4(sum[e], sum[e + 1], sum[e + 2], sum[e + 3]);
        }
      }
    }
  };
  if (p.partial_dw) store_partial(static_cast<float*>(p.partial_dw), dw);
  if (p.partial_db) store_partial(static_cast<float*>(p.partial_db), db);
#else
  (void)p;
  __trap();  // the plan chooses this kernel on sm_90+ only
#endif
}

}  // namespace baracuda::norm::cuda
