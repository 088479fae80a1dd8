// The planner's pattern matching: partitions a validated graph's live nodes
// into groups, each becoming one plan stage. Dtype-free; the typed planner
// (runtime/planner.cc) turns groups into kernels.
//
// Thread-safety: pure functions of the graph.
#ifndef ROWFLOW_RUNTIME_PLAN_MATCH_H_
#define ROWFLOW_RUNTIME_PLAN_MATCH_H_

#include <vector>

#include "graph/ir.h"
#include "runtime/plan.h"

namespace rowflow::plan_internal {

// A dense layer found in the graph: y = act(W x + b), W (units, width).
struct DenseLayer {
  int64_t units = 0;
  int64_t width = 0;
  std::vector<double> weights;  // (units, width) row-major
  std::vector<double> bias;     // units entries, or empty
  ir::Activation activation = ir::Activation::kIdentity;
  double alpha = 0.01;  // the activation's parameters (ops/activation.h)
  double beta = 0.5;
  // MULTIPLY / ADD nodes folded into weights and bias (runtime/plan_fold.h).
  int folded = 0;
};

// One elementwise step of a fused chain: an activation, or ADD / MULTIPLY
// by a constant broadcast to the value's shape.
struct ElementwiseStep {
  ir::OpKind op = ir::OpKind::kActivation;
  ir::Activation activation = ir::Activation::kIdentity;
  double alpha = 0.01;
  double beta = 0.5;
  std::vector<double> operand;  // kAdd/kMultiply: NumElements(shape) entries
  int64_t softmax_len = 0;      // last-axis activations: the axis' length
};

// A set of nodes computed by one stage.
struct Group {
  StageKind kind = StageKind::kGeneric;
  std::vector<int> nodes;  // graph node ids, topological order
  int output = -1;         // value id the group defines
  // The value a fused group reads (kDense, kTinyMlp, kElementwise).
  int input = -1;
  std::vector<DenseLayer> layers;      // kDense: one; kTinyMlp: the chain
  std::vector<ElementwiseStep> steps;  // kElementwise
};

// The largest units/width a layer may have to take the tiny-layer path.
int64_t TinyLimit();

// Partitions the live nodes of `graph` (those that reach an output) into
// groups, ordered so every group comes after the groups it reads from.
std::vector<Group> MatchGroups(const ir::Graph& graph,
                               const PlanOptions& options);

}  // namespace rowflow::plan_internal

#endif  // ROWFLOW_RUNTIME_PLAN_MATCH_H_
