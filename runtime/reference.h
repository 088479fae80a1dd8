// The reference evaluator: runs a validated graph over rows node by node
// with the registry's kernels, no fusion, no threads. It is the oracle the
// Session is tested against, and what `rowflow trace` prints from.
//
// Thread-safety: free functions; concurrent calls are independent.
#ifndef ROWFLOW_RUNTIME_REFERENCE_H_
#define ROWFLOW_RUNTIME_REFERENCE_H_

#include <vector>

#include "graph/ir.h"
#include "runtime/rows.h"

namespace rowflow {

// Every value's rows, indexed by value id: (rows, NumElements(shape))
// row-major for inputs and node outputs; constants hold their data once.
template <typename T>
std::vector<std::vector<T>> EvaluateAllValues(const ir::Graph& graph,
                                              const RowMatrix<T>& input);

// The graph's outputs for `input`: (rows, InputWidth) -> (rows, OutputWidth).
// T must match the graph's dtype; throws Error(kUsage) otherwise.
template <typename T>
RowMatrix<T> EvaluateReference(const ir::Graph& graph,
                               const RowMatrix<T>& input);

}  // namespace rowflow

#endif  // ROWFLOW_RUNTIME_REFERENCE_H_
