// Validation and shape inference: the gate every graph passes before it is
// planned or run. It rejects structural errors (dangling or duplicate names,
// cycles, bad arity, bad attributes), bad shapes and over-budget sizes, each
// with one message naming the node and its op.
//
// Thread-safety: Validate mutates only the graph it is given.
#ifndef ROWFLOW_GRAPH_VALIDATE_H_
#define ROWFLOW_GRAPH_VALIDATE_H_

#include <cstdint>

#include "graph/ir.h"

namespace rowflow {

// Largest rank of any value or constant.
inline constexpr int kMaxRank = 2;

// Structural limits: the most nodes, values (inputs, constants and node
// outputs together), node inputs summed over all nodes, and graph outputs.
// The loader checks them right after parsing a model file, before it builds
// any table that grows with the graph, and Validate checks them first; a
// graph over one is refused with Error(kModel). Planning and validation take
// time and memory about linear in these counts (tests/plan/).
inline constexpr int64_t kMaxNodes = int64_t{1} << 20;       // 1,048,576
inline constexpr int64_t kMaxValues = int64_t{1} << 21;      // 2,097,152
inline constexpr int64_t kMaxNodeInputs = int64_t{1} << 22;  // 4,194,304
inline constexpr int64_t kMaxOutputs = kMaxValues;

struct ValidateOptions {
  // Upper bound on the bytes of all constants plus one row of every value;
  // a graph over it is refused before anything is allocated for it.
  int64_t memory_budget_bytes = int64_t{4} << 30;
};

// Sorts `graph.nodes` topologically (iteratively), infers every node
// output's shape and checks the whole graph. Throws Error(kModel) whose
// message starts with "node '<name>' (<OP>): " where a node is at fault.
void Validate(ir::Graph& graph, const ValidateOptions& options = {});

// Bytes of one row of every value plus all constants (the budget's measure).
int64_t GraphFootprintBytes(const ir::Graph& graph);

}  // namespace rowflow

#endif  // ROWFLOW_GRAPH_VALIDATE_H_
