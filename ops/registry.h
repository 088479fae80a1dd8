// The operator registry: one entry per on-disk operator, holding its schema
// (name, arity, shape rule; graph/op_schema.h) and its tile kernels for f32
// and f64. A tile kernel computes one node over a whole tile of rows with
// numpy broadcasting on the per-row shapes.
//
// Thread-safety: the registry is immutable; kernels are reentrant.
#ifndef ROWFLOW_OPS_REGISTRY_H_
#define ROWFLOW_OPS_REGISTRY_H_

#include <cstdint>
#include <span>

#include "graph/ir.h"
#include "graph/op_schema.h"

namespace rowflow::ops {

// One input of a tile kernel.
template <typename T>
struct Operand {
  const T* data;
  const ir::Shape* shape;  // per-row shape
  bool per_row;  // true: data is (rows, shape...); false: a constant for all
                 // rows
};

// Computes `node` over `rows` rows into `out`, which is (rows, out_shape...).
template <typename T>
using TileKernel = void (*)(const ir::Node& node,
                            std::span<const Operand<T>> inputs,
                            const ir::Shape& out_shape, int64_t rows, T* out);

struct OpEntry {
  const ir::OpSchema* schema;
  TileKernel<float> f32;
  TileKernel<double> f64;

  template <typename T>
  TileKernel<T> kernel() const {
    if constexpr (sizeof(T) == 4) {
      return f32;
    } else {
      return f64;
    }
  }
};

// The registry entry of `op`.
const OpEntry& GetOp(ir::OpKind op);
// Every entry, in OpKind order (one per ir::AllOpSchemas()).
std::span<const OpEntry> AllOps();

}  // namespace rowflow::ops

#endif  // ROWFLOW_OPS_REGISTRY_H_
