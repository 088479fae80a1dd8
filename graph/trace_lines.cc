#include "graph/trace_lines.h"

#include <string_view>

#include "graph/dense_match.h"

namespace rowflow::ir {

std::vector<TraceLine> TraceLines(const Graph& g) {
  std::vector<int> producer(g.values.size(), -1);  // by value: node id
  std::vector<int> readers(g.values.size(), 0);    // an output counts once
  std::vector<bool> is_output(g.values.size(), false);
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    producer[g.nodes[n].output] = static_cast<int>(n);
    for (int v : g.nodes[n].inputs) ++readers[v];
  }
  for (int v : g.outputs) {
    ++readers[v];
    is_output[v] = true;
  }
  // An activation whose input is read only by it: one "input X, output Y"
  // line at the activation, named after the unit ("<unit>_input") if any.
  std::vector<bool> absorbed(g.nodes.size(), false);
  std::vector<int> pre(g.nodes.size(), -1);  // activation -> its input node
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const Node& node = g.nodes[n];
    const int p =
        node.op == OpKind::kActivation ? producer[node.inputs[0]] : -1;
    if (p < 0 || readers[g.nodes[p].output] != 1) continue;
    pre[n] = p;
    absorbed[p] = true;
  }
  // A contraction's MULTIPLY, and its SUM when a bias ADD follows, print
  // as part of the line of its last node.
  for (const DenseMatch& match : FindContractions(g)) {
    const DenseUnit& unit = match.parts[0];
    absorbed[unit.multiply] = true;
    if (unit.bias_add >= 0) absorbed[unit.sum] = true;
  }
  constexpr std::string_view kUnit = "_input";
  std::vector<TraceLine> lines;
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const Node& node = g.nodes[n];
    if (absorbed[n]) continue;
    const std::string& head = pre[n] >= 0 ? g.nodes[pre[n]].name : node.name;
    const bool unit = head.size() > kUnit.size() && head.ends_with(kUnit);
    const std::string name =
        unit ? head.substr(0, head.size() - kUnit.size()) : node.name;
    if (pre[n] >= 0) {
      lines.push_back({name, g.nodes[pre[n]].output, node.output});
    } else if (unit) {  // a unit without activation: output = input
      lines.push_back({name, node.output, node.output});
    } else if (!is_output[node.output]) {
      lines.push_back({node.name, -1, node.output});
    }
  }
  return lines;
}

}  // namespace rowflow::ir
