// Dense-layer recognition on a validated graph: the one matcher the planner
// (which fuses a layer into a GEMM or the tiny-layer loop), ONNX export
// (which writes a MatMul) and trace (which prints a unit on one line) use.
//
// A contraction is SUM(MULTIPLY(x, W)) over the product's last axis, with x
// a per-row vector [width] that is not a constant, W a constant [units,
// width] or [width] (one unit), and the product read by the SUM alone. It
// absorbs an ADD of a constant bias broadcast to the SUM's shape, then an
// ACTIVATION, each only when the previous value is read by it alone and is
// not a graph output. The per-node form is a CONCAT of scalar one-unit
// contractions over the same x, each read by the CONCAT alone, alike in
// activation (kind and parameters) and in having a bias or not; an
// ACTIVATION read alone after the CONCAT joins when the units have none.
//
// Thread-safety: pure functions of the graph.
#ifndef ROWFLOW_GRAPH_DENSE_MATCH_H_
#define ROWFLOW_GRAPH_DENSE_MATCH_H_

#include <cstdint>
#include <vector>

#include "graph/ir.h"

namespace rowflow::ir {

// One contraction's nodes and constants; -1 where absent.
struct DenseUnit {
  int multiply = -1;  // node ids
  int sum = -1;
  int bias_add = -1;
  int activation = -1;
  int weights = -1;  // constant value ids
  int bias = -1;
};

// A dense layer y = act(W x + b), W (units, width).
struct DenseMatch {
  int input = -1;   // value id of x
  int output = -1;  // value id the layer defines
  int64_t units = 0;
  int64_t width = 0;
  std::vector<DenseUnit> parts;  // layer form: one; per-node: one per unit
  int concat = -1;               // per-node form: the CONCAT node
  // The ACTIVATION node the layer ends in (the parts', or one after the
  // CONCAT), or -1 for none.
  int activation = -1;
  // Every node of the layer, ascending.
  std::vector<int> Nodes() const;
};

// Every contraction of `graph`, one per matching SUM, in node order. Their
// node sets are disjoint.
std::vector<DenseMatch> FindContractions(const Graph& graph);

// The dense layers of `graph`: FindContractions with the per-node form's
// units merged at their CONCATs, ordered by the node defining `output`.
std::vector<DenseMatch> FindDenseLayers(const Graph& graph);

// W of `match` as (units, width) row-major.
std::vector<double> DenseWeights(const Graph& graph, const DenseMatch& match);

// b of `match` broadcast to `units` entries; empty when it has no bias.
std::vector<double> DenseBias(const Graph& graph, const DenseMatch& match);

}  // namespace rowflow::ir

#endif  // ROWFLOW_GRAPH_DENSE_MATCH_H_
