#pragma once
// Shared pieces of the op catalog generator (tools/catalog): the dtypes every section probes and
// one function per family writing its section of docs/ops.md.
#include <ostream>

#include "baracuda/baracuda.hpp"

namespace baracuda::catalog {

inline constexpr DType kCatalogDTypes[] = {DType::f64, DType::f32, DType::f16, DType::bf16, DType::f8e4m3, DType::f8e5m2,
                                           DType::i64, DType::i32, DType::i16, DType::i8,  DType::u8,     DType::boolean,
                                           DType::c64, DType::c128};

void write_elementwise(std::ostream& o);
void write_reduce(std::ostream& o);
void write_scan(std::ostream& o);
void write_norm(std::ostream& o);
void write_softmax(std::ostream& o);
void write_loss(std::ostream& o);
void write_gemm(std::ostream& o);
void write_grouped_gemm(std::ostream& o);

}  // namespace baracuda::catalog
