#include "runtime/plan_match.h"

#include <algorithm>
#include <optional>

#include "graph/dense_match.h"
#include "graph/error.h"
#include "graph/op_schema.h"
#include "graph/uses.h"
#include "ops/activation.h"
#include "ops/tiny_mlp.h"
#include "runtime/plan_fold.h"

namespace rowflow::plan_internal {
namespace {

using ir::Activation;
using ir::Graph;
using ir::Node;
using ir::OpKind;
using ir::Uses;
using ir::ValueKind;

// The planner's form of a dense layer the graph matcher found.
Group DenseGroup(const Graph& g, const ir::DenseMatch& match) {
  Group group;
  group.kind = StageKind::kDense;
  group.input = match.input;
  group.output = match.output;
  group.nodes = match.Nodes();
  DenseLayer layer;
  layer.units = match.units;
  layer.width = match.width;
  layer.weights = ir::DenseWeights(g, match);
  layer.bias = ir::DenseBias(g, match);
  if (match.activation >= 0) {
    const Node& act = g.nodes[match.activation];
    layer.activation = act.activation;
    layer.alpha = act.alpha;
    layer.beta = act.beta;
  }
  group.layers.push_back(std::move(layer));
  return group;
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
    // Dense layers first, so their MULTIPLYs are not taken as generic or
    // elementwise nodes. A layer's nodes are all live or all dead.
    for (const ir::DenseMatch& match : ir::FindDenseLayers(g)) {
      if (live[g.values[match.output].index]) add_group(DenseGroup(g, match));
    }
    // Once every layer is known, so that no chain takes a layer's MULTIPLY.
    const int layers =
        options.fold_affine ? static_cast<int>(groups.size()) : 0;
    for (int gi = 0; gi < layers; ++gi) {
      group_of_value[groups[gi].output] = -1;
      FoldAffine(g, uses, group_of_node, &groups[gi]);
      for (int n : groups[gi].nodes) group_of_node[n] = gi;
      group_of_value[groups[gi].output] = gi;
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
