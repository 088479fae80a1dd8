// How `rowflow trace` groups a graph's values into lines, the way the seed
// notebook prints them: a unit's "(x * w).sum()" plus its bias and
// activation is one line "node_0_0: input 26, output 26", a layer-form
// layer "node_0: input [26, -13], output [26, 0]", other nodes "name:
// value". Contractions are those of graph/dense_match.h.
//
// Thread-safety: a pure function of the graph.
#ifndef ROWFLOW_GRAPH_TRACE_LINES_H_
#define ROWFLOW_GRAPH_TRACE_LINES_H_

#include <string>
#include <vector>

#include "graph/ir.h"

namespace rowflow::ir {

// One line: "name: input <input>, output <output>" when `input` >= 0, else
// "name: <output>". Ids are value ids.
struct TraceLine {
  std::string name;
  int input = -1;
  int output = -1;
};

// The lines of validated `graph` in node order; the graph's outputs, which
// trace prints last by their value names, have no line of their own unless
// they end a unit or an activation.
std::vector<TraceLine> TraceLines(const Graph& graph);

}  // namespace rowflow::ir

#endif  // ROWFLOW_GRAPH_TRACE_LINES_H_
