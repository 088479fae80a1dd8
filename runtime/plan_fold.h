// Affine folding: a per-feature map x·s + t (a chain of MULTIPLY / ADD by a
// constant, as BatchNormalization and input standardisation import to)
// right after a dense layer or right before one is folded into the layer's
// weights and bias at plan time, so it costs nothing per row:
//   after:  s·(W x + b) + t  = (diag(s) W) x + (s·b + t)
//   before: W (x·s + t) + b  = (W diag(s)) x + (b + W t)
// A map folds only where it is exact algebra: its constant broadcasts along
// the layer's features (one entry per feature, or a scalar) and leaves the
// value's shape as it is, no activation lies between it and the layer (an
// IDENTITY one aside), and the values inside the folded chain are read by
// the chain alone and are not graph outputs. The folded constants are
// computed in long double from the graph's and rounded once to its dtype,
// so the plan differs from the unfolded graph by rounding only.
//
// Thread-safety: pure functions of the graph.
#ifndef ROWFLOW_RUNTIME_PLAN_FOLD_H_
#define ROWFLOW_RUNTIME_PLAN_FOLD_H_

#include <vector>

#include "graph/ir.h"
#include "graph/uses.h"
#include "runtime/plan_match.h"

namespace rowflow::plan_internal {

// Folds the affine chains before and after the one-layer kDense `group`
// into its layer, extending its nodes, input and output, and then an
// ACTIVATION read alone after the folded chain when the layer has none.
// Nodes with group_of_node[n] >= 0 belong to other groups and are left.
// A fold whose constants would overflow the graph's dtype where the
// graph's own are finite is not made.
void FoldAffine(const ir::Graph& g, const ir::Uses& uses,
                const std::vector<int>& group_of_node, Group* group);

}  // namespace rowflow::plan_internal

#endif  // ROWFLOW_RUNTIME_PLAN_FOLD_H_
