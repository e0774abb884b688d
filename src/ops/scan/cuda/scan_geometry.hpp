#pragma once
// Internal: the scan kernel's problem description, shared by the host plan (which fills it) and the
// device code (which reads it). Plain data, no CUDA headers.
#include <cstdint>

namespace baracuda::sc::cuda {

constexpr int kThreads = 256;
constexpr int kItems = 16;
constexpr int kMaxDims = 8;
// Rows up to this length (with nothing after the axis) go to the warp-per-row kernel.
constexpr int64_t kRowKernelMaxLength = 4096;
// A single line at least this long may take the chunked reduce-then-scan kernels (shorter ones have
// short look-back chains).
constexpr int64_t kChunkedMinLength = int64_t{1} << 20;

// Where one tensor's elements are: the stride along the axis, and the strides of the dims before
// (outer) and after (inner) the axis, in elements.
struct TensorStrides {
  int64_t axis = 0;
  int64_t outer[kMaxDims] = {};
  int64_t inner[kMaxDims] = {};
};

struct Geometry {
  int64_t n = 0;            // scan length
  int64_t inner = 1;        // columns: product of the dims after the axis
  int64_t col_blocks = 1;   // ceil(inner / width)
  int64_t chunks = 1;       // tiles along the axis per line group
  int64_t tiles = 0;        // outer * col_blocks * chunks (look-back kernel)
  int64_t outer = 0;        // product of the dims before the axis (rows of the row kernel)
  bool rows = false;        // the warp-per-row kernel takes it (no workspace)
  int width = 1;            // W
  int n_outer = 0, n_inner = 0;
  int64_t outer_sizes[kMaxDims] = {};
  int64_t inner_sizes[kMaxDims] = {};
  bool reverse = false;
  bool exclusive = false;
  bool line_kernel = true;  // the line kernel may take contiguous forward W = 1 launches (A/B switch)
  bool chunked = false;     // a single long line may take the chunked reduce-then-scan kernels
  bool chunk_lookback = false;  // ... as one kernel, chunks in shared memory, a look-back (the default; A/B switch)
  int64_t chunk_tiles = 6;      // its chunk length in tiles (>= 1; the launcher caps it at what fits)
  bool flat_pipelined = true;   // ... through the pipelined flat kernel instead (the default; A/B switch: =legacy off)
  int64_t flat_tiles = 0;       // its chunk length in tiles (0: the launcher's default; clamped to [2, what fits])
  int flat_l2_lead = 0;         // its L2 lead in rounds (0: none; scan_flat_engine.cuh)
  int flat_stages = 2;          // its chunk stages: 2, or 3 (the chunk after next loading during the scan)
  int flat_pdl = 0;             // its launch: 0 cudaMemsetAsync + plain launch; 1 a clearing kernel and the scan
                                // as programmatic dependent launches (the default on sm_90); 2 also its first
                                // chunks into L2 before the wait
  bool row_carry = false;   // many contiguous lines may take scan_row_carry_kernel (a block per line)
  bool row_carry_reverse = true;  // ... reverse ones too, walked from the end (A/B switch: =legacy off)
  bool row_carry_indices = true;  // ... cummax/cummin ones too, with their indices (A/B switch: =legacy off)
  TensorStrides in, out, idx;
};

// Tile-status flags.
constexpr int kFlagNone = 0, kFlagAggregate = 1, kFlagPrefix = 2;

}  // namespace baracuda::sc::cuda
