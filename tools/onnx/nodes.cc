#include "tools/onnx/nodes.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <map>
#include <queue>

#include "graph/error.h"
#include "graph/text.h"
#include "tools/onnx/tensor.h"

namespace rowflow::onnx_internal {

bool IsDefaultDomain(const std::string& domain) {
  return domain.empty() || domain == "ai.onnx";
}

// "node 'fc1' (Gemm, opset 13)"; unnamed nodes go by their first output.
std::string NodeWhere(const onnx::ModelProto& model,
                      const onnx::NodeProto& node) {
  std::string name = node.name();
  if (name.empty()) name = node.output_size() > 0 ? node.output(0) : "?";
  std::string opset = "?";
  const bool default_domain = IsDefaultDomain(node.domain());
  for (const auto& o : model.opset_import()) {
    if (default_domain ? IsDefaultDomain(o.domain())
                       : o.domain() == node.domain()) {
      opset = std::to_string(o.version());
    }
  }
  const std::string op = IsDefaultDomain(node.domain())
                             ? node.op_type()
                             : node.domain() + "." + node.op_type();
  return fmt::format("node '{}' ({}, opset {})", EscapeForMessage(name),
                     EscapeForMessage(op), opset);
}

// Kahn's algorithm, lowest index first, so that a sorted graph keeps its
// order.
std::vector<int> SortNodes(const onnx::ModelProto& model,
                           const std::set<std::string>& leaves) {
  const onnx::GraphProto& g = model.graph();
  const int n = g.node_size();
  auto where = [&](int i) { return NodeWhere(model, g.node(i)); };
  std::map<std::string, int> producer;
  for (int i = 0; i < n; ++i) {
    for (const std::string& out : g.node(i).output()) {
      if (out.empty()) continue;
      if (leaves.count(out) > 0) {
        Fail("{}: output '{}' is also a graph input or initializer", where(i),
             EscapeForMessage(out));
      }
      auto [it, inserted] = producer.emplace(out, i);
      if (!inserted) {
        Fail("{}: output '{}' is also the output of {}", where(i),
             EscapeForMessage(out), where(it->second));
      }
    }
  }
  std::vector<int> pending(n, 0);
  std::vector<std::vector<int>> consumers(n);
  std::vector<std::vector<int>> producers(n);
  for (int i = 0; i < n; ++i) {
    for (const std::string& in : g.node(i).input()) {
      if (in.empty() || leaves.count(in) > 0) continue;
      auto it = producer.find(in);
      if (it == producer.end()) {
        Fail(
            "{}: input '{}' is not defined; expected a graph input, an "
            "initializer or a node output",
            where(i), EscapeForMessage(in));
      }
      ++pending[i];
      consumers[it->second].push_back(i);
      producers[i].push_back(it->second);
    }
  }
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (int i = 0; i < n; ++i) {
    if (pending[i] == 0) ready.push(i);
  }
  std::vector<int> order;
  while (!ready.empty()) {
    const int i = ready.top();
    ready.pop();
    order.push_back(i);
    for (int c : consumers[i]) {
      if (--pending[c] == 0) ready.push(c);
    }
  }
  if (static_cast<int>(order.size()) == n) return order;
  // Each unsorted node has an unsorted producer: walking back from one
  // must revisit a node, which is on a cycle.
  auto back = [&](int i) {
    for (int p : producers[i]) {
      if (pending[p] > 0) return p;
    }
    RF_CHECK(false);
    return -1;
  };
  int start = static_cast<int>(std::find_if(pending.begin(), pending.end(),
                                            [](int p) { return p > 0; }) -
                               pending.begin());
  std::vector<bool> seen(n, false);
  while (!seen[start]) {
    seen[start] = true;
    start = back(start);
  }
  std::vector<int> cycle{start};
  for (int i = back(start); i != start && cycle.size() < 8; i = back(i))
    cycle.push_back(i);
  std::string chain;
  for (auto it = cycle.rbegin(); it != cycle.rend(); ++it) {
    const auto& node = g.node(*it);
    chain +=
        EscapeForMessage(node.name().empty() ? node.output(0) : node.name()) +
        " -> ";
  }
  Fail("{}: is on a cycle ({}...); expected a graph without cycles",
       where(start), chain);
}

ValueUses::ValueUses(const onnx::GraphProto& g) {
  for (int i = 0; i < g.node_size(); ++i) {
    for (const std::string& in : g.node(i).input()) ++uses[in];
    for (const std::string& out : g.node(i).output()) producer[out] = i;
  }
  for (const auto& out : g.output()) ++uses[out.name()];
}

}  // namespace rowflow::onnx_internal
