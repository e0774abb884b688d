#pragma once
// What ran and what it promises. Both describe the implementation actually selected.
#include <string>

#include "baracuda/core/dtype.hpp"

namespace baracuda {

struct KernelSku {
  std::string family;    // "elementwise"
  std::string op;        // "gelu_tanh.backward"
  std::string dtypes;    // "bf16,bf16->bf16"
  std::string layout;    // "contiguous-vec16", "strided", ...
  std::string epilogue;  // "" or e.g. "amax" for casts that also reduce
  std::string arch;      // "sm_90", "cpu"
  std::string backend;   // "baracuda-cuda", "cpu-reference", "cublaslt", ...
  std::string impl;      // registry name of the implementation
  std::string tactic;    // backend-specific choice (vector width, algo id)
  std::string to_string() const;
};

struct PrecisionGuarantee {
  std::string math;                 // e.g. "f32 opmath, one rounding to the output dtype"
  DType accumulator = DType::f32;   // the dtype intermediate math is done in
  bool deterministic = true;        // same inputs -> same outputs, run after run
  bool bit_stable = true;           // bitwise identical on the same hardware and build
  std::string to_string() const;
};

}  // namespace baracuda
