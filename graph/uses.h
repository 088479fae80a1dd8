// Who reads each value of a validated graph, and which values leave it:
// the index the pattern matchers (graph/dense_match.h, the planner) share.
//
// Thread-safety: immutable after construction; refers to the graph, which
// must outlive it.
#ifndef ROWFLOW_GRAPH_USES_H_
#define ROWFLOW_GRAPH_USES_H_

#include <vector>

#include "graph/ir.h"

namespace rowflow::ir {

class Uses {
 public:
  explicit Uses(const Graph& g)
      : g_(g), consumers_(g.values.size()), output_(g.values.size()) {
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      for (int v : g.nodes[i].inputs)
        consumers_[v].push_back(static_cast<int>(i));
    }
    for (int v : g.outputs) output_[v] = true;
  }

  // The node defining `value`, or -1 for inputs and constants.
  int Producer(int value) const {
    const Value& v = g_.values[value];
    return v.kind == ValueKind::kNode ? v.index : -1;
  }
  // The one node that reads `value`, when it is read once and not an output;
  // else -1.
  int SoleConsumer(int value) const {
    const auto& c = consumers_[value];
    return c.size() == 1 && !output_[value] ? c[0] : -1;
  }
  // The nodes reading `value`, once per input slot, in node order.
  const std::vector<int>& Consumers(int value) const {
    return consumers_[value];
  }
  bool IsOutput(int value) const { return output_[value]; }
  bool IsConstant(int value) const {
    return g_.values[value].kind == ValueKind::kConstant;
  }
  // The tensor of constant `value`.
  const Tensor& Constant(int value) const {
    return g_.constants[g_.values[value].index];
  }

 private:
  const Graph& g_;
  std::vector<std::vector<int>> consumers_;  // by value id
  std::vector<bool> output_;                 // by value id
};

}  // namespace rowflow::ir

#endif  // ROWFLOW_GRAPH_USES_H_
