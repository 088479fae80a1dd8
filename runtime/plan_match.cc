#include "runtime/plan_match.h"

#include <algorithm>
#include <optional>

#include "graph/error.h"
#include "graph/op_schema.h"
#include "ops/activation.h"
#include "ops/tiny_mlp.h"

namespace rowflow::plan_internal {
namespace {

using ir::Activation;
using ir::Graph;
using ir::Node;
using ir::OpKind;
using ir::ValueKind;

// Who reads each value, and which values leave the graph.
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
  // The node defining `value`, or nullptr for inputs and constants.
  const Node* Producer(int value) const {
    const ir::Value& v = g_.values[value];
    return v.kind == ValueKind::kNode ? &g_.nodes[v.index] : nullptr;
  }
  // The one node that reads `value`, when it is read once and not an output.
  int SoleConsumer(int value) const {
    const auto& c = consumers_[value];
    return c.size() == 1 && !output_[value] ? c[0] : -1;
  }
  const std::vector<int>& Consumers(int value) const {
    return consumers_[value];
  }
  bool IsOutput(int value) const { return output_[value]; }
  bool IsConstant(int value) const {
    return g_.values[value].kind == ValueKind::kConstant;
  }
  const ir::Tensor& Constant(int value) const {
    return g_.constants[g_.values[value].index];
  }

 private:
  const Graph& g_;
  std::vector<std::vector<int>> consumers_;
  std::vector<bool> output_;
};

int NodeIndex(const Graph& g, const Node* n) {
  return static_cast<int>(n - g.nodes.data());
}

// SUM(MULTIPLY(x[n], W[k,n] or w[n])) -> a dense layer; then absorbs a bias
// ADD and an ACTIVATION that only it feeds.
std::optional<Group> MatchContraction(const Graph& g, const Uses& uses,
                                      int sum_index) {
  const Node& sum = g.nodes[sum_index];
  const Node* mul = uses.Producer(sum.inputs[0]);
  if (mul == nullptr || mul->op != OpKind::kMultiply ||
      uses.SoleConsumer(sum.inputs[0]) != sum_index) {
    return std::nullopt;
  }
  int x = mul->inputs[0], w = mul->inputs[1];
  if (uses.IsConstant(x)) std::swap(x, w);
  if (uses.IsConstant(x) || !uses.IsConstant(w)) return std::nullopt;
  const ir::Shape& xs = g.values[x].shape;
  const ir::Shape& ws = g.values[w].shape;
  if (xs.size() != 1 || ws.empty() || ws.back() != xs[0]) return std::nullopt;
  const int64_t rank = static_cast<int64_t>(ws.size());
  if (ir::NormalizeAxis(sum.axis, rank) != rank - 1) return std::nullopt;

  Group group;
  group.kind = StageKind::kDense;
  group.input = x;
  group.nodes = {NodeIndex(g, mul), sum_index};
  DenseLayer layer;
  layer.width = xs[0];
  layer.units = rank == 2 ? ws[0] : 1;
  layer.weights = uses.Constant(w).data;
  int out = sum.output;
  const ir::Shape& out_shape = g.values[out].shape;
  int next = uses.SoleConsumer(out);
  if (next >= 0 && g.nodes[next].op == OpKind::kAdd) {
    const Node& add = g.nodes[next];
    const int b = add.inputs[0] == out ? add.inputs[1] : add.inputs[0];
    if (uses.IsConstant(b) && add.inputs[0] != add.inputs[1] &&
        g.values[add.output].shape == out_shape) {
      const ir::Tensor& bias = uses.Constant(b);
      layer.bias.assign(layer.units, 0);
      for (int64_t i = 0; i < layer.units; ++i) {
        layer.bias[i] = bias.data.size() == 1 ? bias.data[0] : bias.data[i];
      }
      group.nodes.push_back(next);
      out = add.output;
      next = uses.SoleConsumer(out);
    }
  }
  if (next >= 0 && g.nodes[next].op == OpKind::kActivation) {
    layer.activation = g.nodes[next].activation;
    layer.alpha = g.nodes[next].alpha;
    layer.beta = g.nodes[next].beta;
    group.nodes.push_back(next);
    out = g.nodes[next].output;
  }
  group.output = out;
  group.layers.push_back(std::move(layer));
  return group;
}

bool SameLayerKind(const DenseLayer& a, const DenseLayer& b) {
  return a.width == b.width && a.activation == b.activation &&
         a.alpha == b.alpha && a.beta == b.beta &&
         a.bias.empty() == b.bias.empty();
}

// The per-node form: CONCAT of scalar units that are one-unit dense layers
// over the same input -> one dense layer with the units' weights stacked.
bool MergeUnits(const Graph& g, const Uses& uses, int concat_index,
                std::vector<int>& group_of_value, std::vector<Group>& groups) {
  const Node& concat = g.nodes[concat_index];
  if (g.values[concat.inputs[0]].shape.size() != 0) return false;
  std::vector<int> unit_groups;
  for (int v : concat.inputs) {
    const int gi = group_of_value[v];
    // A value listed twice has two consumers, so each unit appears once.
    if (gi < 0 || groups[gi].kind != StageKind::kDense ||
        groups[gi].layers[0].units != 1 ||
        uses.SoleConsumer(v) != concat_index) {
      return false;
    }
    if (!unit_groups.empty()) {
      const Group& first = groups[unit_groups[0]];
      if (groups[gi].input != first.input ||
          !SameLayerKind(groups[gi].layers[0], first.layers[0])) {
        return false;
      }
    }
    unit_groups.push_back(gi);
  }
  Group merged;
  merged.kind = StageKind::kDense;
  merged.input = groups[unit_groups[0]].input;
  DenseLayer layer = groups[unit_groups[0]].layers[0];
  layer.units = static_cast<int64_t>(unit_groups.size());
  layer.weights.clear();
  layer.bias.clear();
  for (int gi : unit_groups) {
    Group& unit = groups[gi];
    const DenseLayer& u = unit.layers[0];
    layer.weights.insert(layer.weights.end(), u.weights.begin(),
                         u.weights.end());
    if (!u.bias.empty()) layer.bias.push_back(u.bias[0]);
    merged.nodes.insert(merged.nodes.end(), unit.nodes.begin(),
                        unit.nodes.end());
    group_of_value[unit.output] = -1;
    unit.nodes.clear();  // emptied groups are dropped at the end
  }
  merged.nodes.push_back(concat_index);
  merged.output = concat.output;
  // A softmax over the concatenated units folds into the epilogue too.
  const int next = uses.SoleConsumer(merged.output);
  if (layer.activation == Activation::kIdentity && next >= 0 &&
      g.nodes[next].op == OpKind::kActivation) {
    layer.activation = g.nodes[next].activation;
    layer.alpha = g.nodes[next].alpha;
    layer.beta = g.nodes[next].beta;
    merged.nodes.push_back(next);
    merged.output = g.nodes[next].output;
  }
  merged.layers.push_back(std::move(layer));
  groups.push_back(std::move(merged));
  group_of_value[groups.back().output] = static_cast<int>(groups.size()) - 1;
  return true;
}

// An elementwise step for `node` applied to its per-row operand `in`, if
// the node is one.
std::optional<ElementwiseStep> AsStep(const Graph& g, const Uses& uses,
                                      const Node& node, int* in) {
  const ir::Shape& out_shape = g.values[node.output].shape;
  ElementwiseStep step;
  step.op = node.op;
  if (node.op == OpKind::kActivation) {
    *in = node.inputs[0];
    step.activation = node.activation;
    step.alpha = node.alpha;
    step.beta = node.beta;
    if (ops::IsLastAxis(node.activation)) step.softmax_len = out_shape.back();
    return step;
  }
  if (node.op != OpKind::kAdd && node.op != OpKind::kMultiply)
    return std::nullopt;
  const int a = node.inputs[0], b = node.inputs[1];
  const int v = uses.IsConstant(a) ? b : a;
  const int c = v == a ? b : a;
  if (uses.IsConstant(v) || !uses.IsConstant(c) ||
      g.values[v].shape != out_shape) {
    return std::nullopt;
  }
  // Expand the constant to the value's shape with numpy broadcasting.
  const ir::Tensor& t = uses.Constant(c);
  const int64_t n = ir::NumElements(out_shape);
  const int64_t cols = out_shape.empty() ? 1 : out_shape.back();
  const int64_t t_cols = t.shape.empty() ? 1 : t.shape.back();
  const int64_t t_rows = t.shape.size() == 2 ? t.shape[0] : 1;
  step.operand.resize(n);
  for (int64_t e = 0; e < n; ++e) {
    const int64_t i = e / cols, j = e % cols;
    step.operand[e] =
        t.data[(t_rows == 1 ? 0 : i) * t_cols + (t_cols == 1 ? 0 : j)];
  }
  *in = v;
  return step;
}

}  // namespace

int64_t TinyLimit() { return ops::TinyMlp<float>::kMaxUnits; }

std::vector<Group> MatchGroups(const Graph& g, const PlanOptions& options) {
  const Uses uses(g);
  // Live nodes: those some output depends on (reverse topological sweep).
  std::vector<bool> live_value(g.values.size());
  for (int v : g.outputs) live_value[v] = true;
  std::vector<bool> live(g.nodes.size());
  for (int i = static_cast<int>(g.nodes.size()) - 1; i >= 0; --i) {
    if (!live_value[g.nodes[i].output]) continue;
    live[i] = true;
    for (int v : g.nodes[i].inputs) live_value[v] = true;
  }

  std::vector<Group> groups;
  std::vector<int> group_of_node(g.nodes.size(), -1);
  std::vector<int> group_of_value(g.values.size(), -1);
  auto add_group = [&](Group group) {
    const int gi = static_cast<int>(groups.size());
    for (int n : group.nodes) group_of_node[n] = gi;
    group_of_value[group.output] = gi;
    groups.push_back(std::move(group));
  };

  if (options.fuse_dense) {
    // Contractions first, so their MULTIPLYs are not taken as generic or
    // elementwise nodes; then per-node units merge at their CONCATs.
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      if (!live[i] || group_of_node[i] >= 0 || g.nodes[i].op != OpKind::kSum)
        continue;
      if (auto group = MatchContraction(g, uses, static_cast<int>(i))) {
        add_group(std::move(*group));
      }
    }
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      if (!live[i] || group_of_node[i] >= 0 || g.nodes[i].op != OpKind::kConcat)
        continue;
      if (MergeUnits(g, uses, static_cast<int>(i), group_of_value, groups)) {
        for (int n : groups.back().nodes) {
          group_of_node[n] = static_cast<int>(groups.size()) - 1;
        }
      }
    }
  }
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!live[i] || group_of_node[i] >= 0) continue;
    const Node& node = g.nodes[i];
    int in = -1;
    std::optional<ElementwiseStep> step;
    if (options.fuse_elementwise && (step = AsStep(g, uses, node, &in))) {
      // Extend the chain that produced `in` when nothing else reads it.
      const int gi = group_of_value[in];
      if (gi >= 0 && groups[gi].kind == StageKind::kElementwise &&
          uses.SoleConsumer(in) == static_cast<int>(i)) {
        Group& chain = groups[gi];
        chain.steps.push_back(std::move(*step));
        chain.nodes.push_back(static_cast<int>(i));
        group_of_value[in] = -1;
        chain.output = node.output;
        group_of_value[node.output] = gi;
        group_of_node[i] = gi;
        continue;
      }
      Group chain;
      chain.kind = StageKind::kElementwise;
      chain.nodes = {static_cast<int>(i)};
      chain.input = in;
      chain.output = node.output;
      chain.steps.push_back(std::move(*step));
      add_group(std::move(chain));
      continue;
    }
    Group generic;
    generic.kind = StageKind::kGeneric;
    generic.nodes = {static_cast<int>(i)};
    generic.output = node.output;
    add_group(std::move(generic));
  }
  std::erase_if(groups, [](const Group& group) { return group.nodes.empty(); });

  if (options.fuse_tiny) {
    // Chains of tiny dense layers, each read only by the next, -> one loop.
    auto tiny = [&](const Group& group) {
      return group.kind == StageKind::kDense &&
             group.layers[0].units <= TinyLimit() &&
             group.layers[0].width <= TinyLimit();
    };
    // The tiny groups reading each value, in group order.
    std::vector<std::vector<int>> tiny_readers(g.values.size());
    for (size_t i = 0; i < groups.size(); ++i) {
      if (!tiny(groups[i])) continue;
      groups[i].kind = StageKind::kTinyMlp;
      tiny_readers[groups[i].input].push_back(static_cast<int>(i));
    }
    for (size_t i = 0; i < groups.size(); ++i) {
      Group& head = groups[i];
      if (head.kind != StageKind::kTinyMlp || head.nodes.empty()) continue;
      for (;;) {
        // Softmax couples a layer's units, so the fused loop ends there.
        if (uses.IsOutput(head.output) ||
            ops::IsLastAxis(head.layers.back().activation)) {
          break;
        }
        const std::vector<int>& readers = uses.Consumers(head.output);
        const std::vector<int>& candidates = tiny_readers[head.output];
        auto found =
            std::find_if(candidates.begin(), candidates.end(), [&](int gi) {
              return !groups[gi].nodes.empty() && &groups[gi] != &head;
            });
        if (found == candidates.end()) break;
        Group* next = &groups[*found];
        // Every reader of the link must belong to the next layer.
        bool all_inside = !readers.empty();
        for (int r : readers) {
          all_inside &= std::find(next->nodes.begin(), next->nodes.end(), r) !=
                        next->nodes.end();
        }
        if (!all_inside) break;
        head.layers.push_back(std::move(next->layers[0]));
        head.nodes.insert(head.nodes.end(), next->nodes.begin(),
                          next->nodes.end());
        head.output = next->output;
        next->nodes.clear();
      }
    }
    std::erase_if(groups,
                  [](const Group& group) { return group.nodes.empty(); });
  }
  // Order by the defining node of each group's output: every group's inputs
  // are defined by earlier nodes, so this order is topological.
  auto key = [&](const Group& group) { return g.values[group.output].index; };
  std::sort(groups.begin(), groups.end(),
            [&](const Group& a, const Group& b) { return key(a) < key(b); });
  for (Group& group : groups) std::sort(group.nodes.begin(), group.nodes.end());
  return groups;
}

}  // namespace rowflow::plan_internal
