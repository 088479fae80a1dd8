#include "graph/dense_match.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "graph/op_schema.h"
#include "graph/uses.h"

namespace rowflow::ir {
namespace {

// SUM(MULTIPLY(x, W)) at node `sum_index`, with the bias ADD and the
// ACTIVATION that only it feeds.
std::optional<DenseMatch> MatchContraction(const Graph& g, const Uses& uses,
                                           int sum_index) {
  const Node& sum = g.nodes[sum_index];
  const int mul_index = uses.Producer(sum.inputs[0]);
  if (mul_index < 0 || g.nodes[mul_index].op != OpKind::kMultiply ||
      uses.SoleConsumer(sum.inputs[0]) != sum_index) {
    return std::nullopt;
  }
  const Node& mul = g.nodes[mul_index];
  int x = mul.inputs[0], w = mul.inputs[1];
  if (uses.IsConstant(x)) std::swap(x, w);
  if (uses.IsConstant(x) || !uses.IsConstant(w)) return std::nullopt;
  const Shape& xs = g.values[x].shape;
  const Shape& ws = g.values[w].shape;
  if (xs.size() != 1 || ws.empty() || ws.back() != xs[0]) return std::nullopt;
  const int64_t rank = static_cast<int64_t>(ws.size());
  if (NormalizeAxis(sum.axis, rank) != rank - 1) return std::nullopt;

  DenseMatch match;
  match.input = x;
  match.width = xs[0];
  match.units = rank == 2 ? ws[0] : 1;
  DenseUnit unit;
  unit.multiply = mul_index;
  unit.sum = sum_index;
  unit.weights = w;
  int out = sum.output;
  const Shape& out_shape = g.values[out].shape;
  int next = uses.SoleConsumer(out);
  if (next >= 0 && g.nodes[next].op == OpKind::kAdd) {
    const Node& add = g.nodes[next];
    const int b = add.inputs[0] == out ? add.inputs[1] : add.inputs[0];
    if (uses.IsConstant(b) && add.inputs[0] != add.inputs[1] &&
        g.values[add.output].shape == out_shape) {
      unit.bias_add = next;
      unit.bias = b;
      out = add.output;
      next = uses.SoleConsumer(out);
    }
  }
  if (next >= 0 && g.nodes[next].op == OpKind::kActivation) {
    unit.activation = next;
    match.activation = next;
    out = g.nodes[next].output;
  }
  match.output = out;
  match.parts.push_back(unit);
  return match;
}

bool IsIdentity(const Graph& g, int activation) {
  return activation < 0 ||
         g.nodes[activation].activation == Activation::kIdentity;
}

// Whether two units' activations compute the same function. Parameters are
// compared for every kind but IDENTITY, so that a parameter a kind reads is
// never missed.
bool SameActivation(const Graph& g, int a, int b) {
  if (IsIdentity(g, a) || IsIdentity(g, b))
    return IsIdentity(g, a) && IsIdentity(g, b);
  const Node& na = g.nodes[a];
  const Node& nb = g.nodes[b];
  return na.activation == nb.activation && na.alpha == nb.alpha &&
         na.beta == nb.beta;
}

// The per-node form at CONCAT node `concat_index`, whose inputs are the
// outputs of `contractions` (by value id: index, or -1).
std::optional<DenseMatch> MergeUnits(const Graph& g, const Uses& uses,
                                     int concat_index,
                                     const std::vector<DenseMatch>& units,
                                     const std::vector<int>& unit_of_value) {
  const Node& concat = g.nodes[concat_index];
  std::vector<int> picked;
  for (int v : concat.inputs) {
    const int u = unit_of_value[v];
    // A value read twice by the CONCAT has two consumers, so no unit is
    // picked twice.
    if (!g.values[v].shape.empty() || u < 0 || units[u].units != 1 ||
        uses.SoleConsumer(v) != concat_index) {
      return std::nullopt;
    }
    if (!picked.empty()) {
      const DenseMatch& first = units[picked[0]];
      const DenseUnit& a = first.parts[0];
      const DenseUnit& b = units[u].parts[0];
      if (units[u].input != first.input || units[u].width != first.width ||
          !SameActivation(g, a.activation, b.activation) ||
          (a.bias < 0) != (b.bias < 0)) {
        return std::nullopt;
      }
    }
    picked.push_back(u);
  }
  DenseMatch merged;
  merged.input = units[picked[0]].input;
  merged.width = units[picked[0]].width;
  merged.units = static_cast<int64_t>(picked.size());
  merged.activation = units[picked[0]].activation;
  for (int u : picked) merged.parts.push_back(units[u].parts[0]);
  merged.concat = concat_index;
  merged.output = concat.output;
  // A softmax over the concatenated units folds into the layer too.
  const int next = uses.SoleConsumer(merged.output);
  if (IsIdentity(g, merged.activation) && next >= 0 &&
      g.nodes[next].op == OpKind::kActivation) {
    merged.activation = next;
    merged.output = g.nodes[next].output;
  }
  return merged;
}

}  // namespace

std::vector<int> DenseMatch::Nodes() const {
  std::vector<int> nodes;
  for (const DenseUnit& u : parts) {
    for (int n : {u.multiply, u.sum, u.bias_add, u.activation}) {
      if (n >= 0) nodes.push_back(n);
    }
  }
  if (concat >= 0) nodes.push_back(concat);
  if (activation >= 0) nodes.push_back(activation);
  std::sort(nodes.begin(), nodes.end());
  nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
  return nodes;
}

std::vector<DenseMatch> FindContractions(const Graph& graph) {
  const Uses uses(graph);
  std::vector<DenseMatch> found;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    if (graph.nodes[i].op != OpKind::kSum) continue;
    if (auto match = MatchContraction(graph, uses, static_cast<int>(i)))
      found.push_back(std::move(*match));
  }
  return found;
}

std::vector<DenseMatch> FindDenseLayers(const Graph& graph) {
  const Uses uses(graph);
  std::vector<DenseMatch> units = FindContractions(graph);
  std::vector<int> unit_of_value(graph.values.size(), -1);
  for (size_t u = 0; u < units.size(); ++u)
    unit_of_value[units[u].output] = static_cast<int>(u);
  std::vector<bool> merged(units.size(), false);
  std::vector<DenseMatch> layers;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    if (graph.nodes[i].op != OpKind::kConcat) continue;
    auto layer =
        MergeUnits(graph, uses, static_cast<int>(i), units, unit_of_value);
    if (!layer) continue;
    for (int v : graph.nodes[i].inputs) merged[unit_of_value[v]] = true;
    layers.push_back(std::move(*layer));
  }
  for (size_t u = 0; u < units.size(); ++u) {
    if (!merged[u]) layers.push_back(std::move(units[u]));
  }
  auto key = [&](const DenseMatch& m) { return graph.values[m.output].index; };
  std::sort(layers.begin(), layers.end(),
            [&](const DenseMatch& a, const DenseMatch& b) {
              return key(a) < key(b);
            });
  return layers;
}

std::vector<double> DenseWeights(const Graph& graph, const DenseMatch& match) {
  std::vector<double> weights;
  weights.reserve(static_cast<size_t>(match.units * match.width));
  for (const DenseUnit& u : match.parts) {
    const std::vector<double>& data =
        graph.constants[graph.values[u.weights].index].data;
    weights.insert(weights.end(), data.begin(), data.end());
  }
  return weights;
}

std::vector<double> DenseBias(const Graph& graph, const DenseMatch& match) {
  std::vector<double> bias;
  if (match.parts[0].bias < 0) return bias;
  const int64_t per_part =
      match.units / static_cast<int64_t>(match.parts.size());
  for (const DenseUnit& u : match.parts) {
    const std::vector<double>& data =
        graph.constants[graph.values[u.bias].index].data;
    for (int64_t i = 0; i < per_part; ++i)
      bias.push_back(data.size() == 1 ? data[0] : data[i]);
  }
  return bias;
}

}  // namespace rowflow::ir
