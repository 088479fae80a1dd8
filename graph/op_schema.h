// What each on-disk operator means to the graph: its name, arity and shape
// rule. Kernels live in ops/registry.h, whose entries point back here.
//
// Thread-safety: the schema table is immutable; read it from any thread.
#ifndef ROWFLOW_GRAPH_OP_SCHEMA_H_
#define ROWFLOW_GRAPH_OP_SCHEMA_H_

#include <span>
#include <string_view>

#include "graph/ir.h"

namespace rowflow::ir {

// The static description of one operator.
struct OpSchema {
  OpKind kind;
  std::string_view name;
  int min_inputs;
  int max_inputs;  // -1: unbounded
  // The output's per-row shape from the inputs' per-row shapes (constants
  // count as values with their own shape). Throws Error(kModel) whose
  // message says what is wrong ("shapes [2] and [3] do not broadcast");
  // the caller prefixes the node.
  Shape (*infer)(const Node& node, std::span<const Shape* const> inputs);
};

// The schema of `op`.
const OpSchema& GetOpSchema(OpKind op);

// numpy's broadcast of two shapes; throws Error(kModel) when they do not.
Shape BroadcastShapes(const Shape& a, const Shape& b);

// `axis` resolved against `rank` (negative counts from the end); throws
// Error(kModel) when out of range.
int64_t NormalizeAxis(int64_t axis, int64_t rank);

}  // namespace rowflow::ir

#endif  // ROWFLOW_GRAPH_OP_SCHEMA_H_
