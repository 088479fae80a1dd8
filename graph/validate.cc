#include "graph/validate.h"

#include <fmt/format.h>

#include <cfloat>
#include <cmath>
#include <functional>
#include <limits>
#include <queue>
#include <string>
#include <utility>
#include <vector>

#include "graph/activation.h"
#include "graph/error.h"
#include "graph/op_schema.h"
#include "graph/validate_structure.h"

namespace rowflow {
namespace {

using internal::NodeWhere;
using ir::Graph;
using ir::Node;
using ir::OpKind;
using ir::Shape;
using ir::Value;
using ir::ValueKind;

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

// Element count of `shape`, or -1 when a dim is negative or the count does
// not fit int64.
int64_t CheckedElements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || (d > 0 && n > kInt64Max / d)) return -1;
    n *= d;
  }
  return n;
}

void CheckActivation(const Node& node) {
  const ir::ActivationInfo* info = ir::FindActivation(node.activation);
  if (info == nullptr) {
    Fail("{}: unknown activation {}; expected one of {}", NodeWhere(node),
         static_cast<int>(node.activation), ir::ActivationNameList());
  }
  for (ir::ActivationParam param : ir::kActivationParams) {
    const double v = ir::ParamValue(node, param);
    if (!info->Default(param)) continue;
    const std::string_view problem = ir::ParamProblem(*info, v);
    if (!problem.empty()) {
      Fail("{}: {} {} must be {}; got {}", NodeWhere(node), info->name,
           ir::ParamName(param), problem, ir::NumberToString(v));
    }
  }
  const std::string bounds = ir::BoundsProblem(*info, node.alpha, node.beta);
  if (!bounds.empty()) Fail("{}: {} {}", NodeWhere(node), info->name, bounds);
}

void CheckAttributes(const Graph& graph) {
  for (const Node& node : graph.nodes) {
    const ir::OpSchema& schema = ir::GetOpSchema(node.op);
    const int n = static_cast<int>(node.inputs.size());
    if (n < schema.min_inputs) {
      if (schema.max_inputs == schema.min_inputs) {
        Fail("{}: wrong number of inputs; expected {}, got {}", NodeWhere(node),
             schema.min_inputs, n);
      }
      Fail("{}: too few inputs; expected at least {}, got {}", NodeWhere(node),
           schema.min_inputs, n);
    }
    if (schema.max_inputs >= 0 && n > schema.max_inputs) {
      Fail("{}: wrong number of inputs; expected {}, got {}", NodeWhere(node),
           schema.max_inputs, n);
    }
    if (node.op == OpKind::kActivation) CheckActivation(node);
  }
}

// `where()` names the value; it is called only to build a message.
template <typename Where>
void CheckShape(Where where, const Shape& shape) {
  if (shape.size() > static_cast<size_t>(kMaxRank)) {
    // Not printed: a hostile file can make it millions of dims long.
    Fail("{}: shape has rank {}; expected at most {}", where(), shape.size(),
         kMaxRank);
  }
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] <= 0) {
      Fail(
          "{}: bad shape {}; expected every dimension > 0, got {} at "
          "dimension {}",
          where(), ir::ShapeToString(shape), shape[d], d);
    }
  }
  if (CheckedElements(shape) < 0) {
    Fail("{}: shape {} has more elements than int64 holds", where(),
         ir::ShapeToString(shape));
  }
}

// F32 kernels cast constants to float; a value out of float range would be
// undefined behaviour there, and one not exactly a float would not round-trip.
bool RepresentableAsFloat(double v) {
  if (std::isnan(v) || std::isinf(v)) return true;
  if (std::fabs(v) > FLT_MAX) return false;
  return static_cast<double>(static_cast<float>(v)) == v;
}

void CheckLeaves(Graph& graph) {
  for (int id : graph.inputs) {
    const Value& value = graph.values[id];
    CheckShape([&] { return fmt::format("input '{}'", value.name); },
               value.shape);
  }
  for (ir::Tensor& tensor : graph.constants) {
    Value& value = graph.values[tensor.value];
    const std::string where = fmt::format("constant '{}'", value.name);
    CheckShape([&] { return where; }, tensor.shape);
    value.shape = tensor.shape;
    const int64_t want = CheckedElements(tensor.shape);
    if (static_cast<int64_t>(tensor.data.size()) != want) {
      Fail(
          "{}: data length does not match shape {}; expected {} values, "
          "got {}",
          where, ir::ShapeToString(tensor.shape), want, tensor.data.size());
    }
    if (graph.dtype != ir::DType::kF32) continue;
    for (size_t i = 0; i < tensor.data.size(); ++i) {
      if (!RepresentableAsFloat(tensor.data[i])) {
        Fail("{}: value {} at index {} is not exactly representable in F32",
             where, tensor.data[i], i);
      }
    }
  }
  if (graph.inputs.empty()) Fail("graph has no inputs; expected at least 1");
  if (graph.outputs.empty()) Fail("graph has no outputs; expected at least 1");
}

// The producing node of value `id`, or -1 for inputs and constants.
int Producer(const Graph& graph, int id) {
  const Value& v = graph.values[id];
  return v.kind == ValueKind::kNode ? v.index : -1;
}

[[noreturn]] void ReportCycle(const Graph& graph,
                              const std::vector<int>& pending) {
  const int n = static_cast<int>(graph.nodes.size());
  // Each unsorted node has an unsorted producer; following those backwards
  // from any of them must revisit a node, and that node is on a cycle.
  auto next = [&](int node) {
    for (int id : graph.nodes[node].inputs) {
      int p = Producer(graph, id);
      if (p >= 0 && pending[p] > 0) return p;
    }
    RF_CHECK(false);
    return -1;
  };
  int start = 0;
  while (pending[start] == 0) ++start;
  std::vector<bool> seen(n, false);
  while (!seen[start]) {
    seen[start] = true;
    start = next(start);
  }
  const Node& node = graph.nodes[start];
  if (next(start) == start) {
    Fail(
        "{}: reads its own output '{}'; expected inputs computed before the "
        "node (self-reference)",
        NodeWhere(node), graph.values[node.output].name);
  }
  std::vector<int> path{start};
  for (int cur = next(start); cur != start; cur = next(cur))
    path.push_back(cur);
  // `path` runs against the data flow; print it along the flow.
  constexpr size_t kShown = 8;
  std::string chain = node.name;
  for (size_t i = path.size() - 1, shown = 0; i >= 1; --i, ++shown) {
    if (shown == kShown) {
      chain += " -> ...";
      break;
    }
    chain += " -> " + graph.nodes[path[i]].name;
  }
  chain += " -> " + node.name;
  Fail("{}: is on a cycle: {}; expected an acyclic graph", NodeWhere(node),
       chain);
}

// Kahn's algorithm, taking the lowest-numbered ready node first, so a graph
// already in topological order keeps its order (and its saved bytes).
void SortTopologically(Graph& graph) {
  const int n = static_cast<int>(graph.nodes.size());
  std::vector<int> pending(n, 0);
  std::vector<std::vector<int>> consumers(n);
  for (int i = 0; i < n; ++i) {
    for (int id : graph.nodes[i].inputs) {
      int p = Producer(graph, id);
      if (p < 0) continue;
      ++pending[i];
      consumers[p].push_back(i);
    }
  }
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (int i = 0; i < n; ++i) {
    if (pending[i] == 0) ready.push(i);
  }
  std::vector<int> order;
  order.reserve(n);
  while (!ready.empty()) {
    int i = ready.top();
    ready.pop();
    order.push_back(i);
    for (int c : consumers[i]) {
      if (--pending[c] == 0) ready.push(c);
    }
  }
  if (static_cast<int>(order.size()) < n) ReportCycle(graph, pending);
  std::vector<Node> sorted;
  sorted.reserve(n);
  for (int i : order) sorted.push_back(std::move(graph.nodes[i]));
  graph.nodes = std::move(sorted);
  for (int i = 0; i < n; ++i) graph.values[graph.nodes[i].output].index = i;
}

void InferShapes(Graph& graph) {
  std::vector<const Shape*> shapes;
  for (const Node& node : graph.nodes) {
    shapes.clear();
    for (int id : node.inputs) shapes.push_back(&graph.values[id].shape);
    Shape out;
    try {
      out = ir::GetOpSchema(node.op).infer(node, shapes);
    } catch (const Error& e) {
      throw Error(e.kind(), NodeWhere(node) + ": " + e.what());
    }
    CheckShape([&] { return NodeWhere(node) + " output"; }, out);
    graph.values[node.output].shape = std::move(out);
  }
}

}  // namespace

int64_t GraphFootprintBytes(const ir::Graph& graph) {
  const int64_t size = ir::DTypeSize(graph.dtype);
  int64_t total = 0;
  for (const Value& v : graph.values) {
    int64_t elements = CheckedElements(v.shape);
    if (elements < 0 || elements > kInt64Max / size) return kInt64Max;
    if (total > kInt64Max - elements * size) return kInt64Max;
    total += elements * size;
  }
  return total;
}

void Validate(ir::Graph& graph, const ValidateOptions& options) {
  internal::CheckStructure(graph);
  CheckAttributes(graph);
  CheckLeaves(graph);
  SortTopologically(graph);
  InferShapes(graph);
  const int64_t bytes = GraphFootprintBytes(graph);
  if (bytes > options.memory_budget_bytes) {
    Fail(
        "graph needs {} bytes (one row of every value plus all constants), "
        "over the memory budget of {} bytes",
        bytes, options.memory_budget_bytes);
  }
}

}  // namespace rowflow
