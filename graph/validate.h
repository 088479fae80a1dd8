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
