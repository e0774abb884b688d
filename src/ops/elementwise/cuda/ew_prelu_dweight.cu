// prelu's weight gradient: dw[c] = sum over every element of channel c of (x > 0 ? 0 : x * dy).
// Deterministic: stage 1 gives each (channel, split) a fixed slice summed in a fixed order into
// the workspace; stage 2 adds the splits of each channel in order.
#include "kernels/ew_engine.cuh"
#include "ops/elementwise/cuda/ew_launchers.hpp"

namespace baracuda::ew::cuda {
namespace {

constexpr int kSplits = 128;

struct DweightParams {
  int rank;
  int channel_dim;  // -1: one channel
  int64_t sizes[kMaxRank];
  const char* dy;
  DType dy_dtype;
  int64_t dy_stride[kMaxRank];  // elements
  const char* x;
  DType x_dtype;
  int64_t x_stride[kMaxRank];
  int64_t per_channel;  // elements per channel
};

template <class C>
__global__ void __launch_bounds__(kBlock) prelu_dweight_partial(DweightParams p, C* partial) {
  const int64_t c = blockIdx.x;
  const int split = blockIdx.y;
  const int64_t chunk = (p.per_channel + kSplits - 1) / kSplits;
  const int64_t begin = split * chunk;
  const int64_t end = begin + chunk < p.per_channel ? begin + chunk : p.per_channel;
  C acc = 0;
  for (int64_t j = begin + threadIdx.x; j < end; j += kBlock) {
    // j enumerates the iteration space with the channel dim removed.
    int64_t rem = j, off_dy = 0, off_x = 0;
    for (int d = p.rank - 1; d >= 0; --d) {
      int64_t idx;
      if (d == p.channel_dim) {
        idx = c;
      } else {
        idx = rem % p.sizes[d];
        rem /= p.sizes[d];
      }
      off_dy += idx * p.dy_stride[d];
      off_x += idx * p.x_stride[d];
    }
    C x = load_dyn<C>(p.x + off_x * static_cast<int64_t>(dtype_size(p.x_dtype)), p.x_dtype);
    C dy = load_dyn<C>(p.dy + off_dy * static_cast<int64_t>(dtype_size(p.dy_dtype)), p.dy_dtype);
    acc += x > C(0) ? C(0) : x * dy;
  }
  __shared__ C red[kBlock];
  red[threadIdx.x] = acc;
  __syncthreads();
  for (int s = kBlock / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) red[threadIdx.x] += red[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[c * kSplits + split] = red[0];
}

template <class C>
__global__ void prelu_dweight_final(const C* partial, int64_t channels, char* dw, DType dw_dtype) {
  int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= channels) return;
  C sum = 0;
  for (int s = 0; s < kSplits; ++s) sum += partial[c * kSplits + s];
  store_dyn<C>(dw + c * static_cast<int64_t>(dtype_size(dw_dtype)), dw_dtype, sum);
}

template <class C>
Status launch_typed(const Bound& b, void* workspace, const LaunchContext& ctx) {
  DweightParams p{};
  p.rank = b.rank;
  p.channel_dim = b.prelu_channel_dim;
  for (int d = 0; d < kMaxRank; ++d) {
    p.sizes[d] = b.sizes[d];
    p.dy_stride[d] = b.in[0].strides[d];
    p.x_stride[d] = b.in[1].strides[d];
  }
  p.dy = b.in[0].data;
  p.dy_dtype = b.in[0].dtype;
  p.x = b.in[1].data;
  p.x_dtype = b.in[1].dtype;
  p.per_channel = b.prelu_channel_dim >= 0 ? b.numel / b.sizes[b.prelu_channel_dim] : b.numel;
  C* partial = static_cast<C*>(workspace);
  dim3 grid(static_cast<unsigned>(b.prelu_channels), kSplits);
  prelu_dweight_partial<C><<<grid, kBlock, 0, ctx.stream>>>(p, partial);
  BARACUDA_TRY(check_launch("prelu_dweight_partial"));
  unsigned blocks = static_cast<unsigned>((b.prelu_channels + kBlock - 1) / kBlock);
  prelu_dweight_final<C><<<blocks, kBlock, 0, ctx.stream>>>(partial, b.prelu_channels, b.prelu_dweight,
                                                               b.prelu_dweight_dtype);
  return check_launch("prelu_dweight_final");
}

}  // namespace

size_t prelu_dweight_workspace(const Problem& p) {
  if (p.info.category != ElementwiseCategory::prelu || p.desc.direction != Direction::backward) return 0;
  int64_t channels = 1;
  for (int64_t s : p.desc.inputs[1].shape) channels *= s;
  size_t el = p.sig.compute == DType::f64 ? sizeof(double) : sizeof(float);
  return static_cast<size_t>(channels) * kSplits * el;
}

Status launch_prelu_dweight(const Problem& p, const Bound& b, void* workspace, const LaunchContext& ctx) {
  if (p.sig.compute == DType::f64) return launch_typed<double>(b, workspace, ctx);
  return launch_typed<float>(b, workspace, ctx);
}

}  // namespace baracuda::ew::cuda
