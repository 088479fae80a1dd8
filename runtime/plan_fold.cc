#include "runtime/plan_fold.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace rowflow::plan_internal {
namespace {

using ir::Graph;
using ir::Node;
using ir::OpKind;
using ir::Uses;

// y = x·scale + shift per feature, composed from a chain of nodes in long
// double, so a chain (standardisation, then BatchNorm) is rounded once.
struct Affine {
  explicit Affine(int64_t features) : scale(features, 1), shift(features, 0) {}
  std::vector<long double> scale, shift;
  bool has_shift = false;  // shift is exactly zero without an ADD

  void Apply(const Node& node, const ir::Tensor& c) {
    const bool scalar = c.data.size() == 1;
    for (size_t j = 0; j < scale.size(); ++j) {
      const long double v = c.data[scalar ? 0 : j];
      if (node.op == OpKind::kAdd) {
        shift[j] += v;
      } else {
        scale[j] *= v;
        // Zero stays zero, even when v is infinite.
        if (has_shift) shift[j] *= v;
      }
    }
    has_shift |= node.op == OpKind::kAdd;
  }
};

// The constant of `node` when it is a MULTIPLY or ADD of a per-row value by
// a constant with one entry or one per feature, keeping the value's shape;
// `*in` is the per-row operand. -1 when it is not.
int AffineConstant(const Graph& g, const Uses& uses, const Node& node,
                   int64_t features, int* in) {
  if (node.op != OpKind::kAdd && node.op != OpKind::kMultiply) return -1;
  const int a = node.inputs[0], b = node.inputs[1];
  if (uses.IsConstant(a) == uses.IsConstant(b)) return -1;
  const int c = uses.IsConstant(a) ? a : b;
  *in = c == a ? b : a;
  // Equal shapes: the constant broadcasts along the features, never along
  // a new or another axis.
  if (g.values[node.output].shape != g.values[*in].shape) return -1;
  const int64_t n = ir::NumElements(uses.Constant(c).shape);
  return n == 1 || n == features ? c : -1;
}

bool AllFinite(const std::vector<double>& v) {
  return std::all_of(v.begin(), v.end(),
                     [](double x) { return std::isfinite(x); });
}

}  // namespace

void FoldAffine(const Graph& g, const Uses& uses,
                const std::vector<int>& group_of_node, Group* group) {
  DenseLayer& layer = group->layers[0];
  auto free_node = [&](int n) { return n >= 0 && group_of_node[n] < 0; };
  bool sources_finite = AllFinite(layer.weights) && AllFinite(layer.bias);

  // Before: back from the layer's input while the value is read by the
  // layer (then by the chain's next node) alone.
  std::vector<int> nodes;                     // the folded ones
  std::vector<int> before, before_constants;  // last node first
  int x = group->input;
  bool inside = !uses.IsOutput(x);
  for (int reader : uses.Consumers(x)) {
    inside &=
        std::binary_search(group->nodes.begin(), group->nodes.end(), reader);
  }
  while (inside) {
    const int p = uses.Producer(x);
    if (!free_node(p)) break;
    int in = -1;
    const int c = AffineConstant(g, uses, g.nodes[p], layer.width, &in);
    if (c < 0) break;
    before.push_back(p);
    before_constants.push_back(c);
    x = in;
    inside = uses.SoleConsumer(x) == p;
  }
  Affine in_map(layer.width);
  for (size_t k = before.size(); k-- > 0;) {
    in_map.Apply(g.nodes[before[k]], uses.Constant(before_constants[k]));
    sources_finite &= AllFinite(uses.Constant(before_constants[k]).data);
  }

  // After: only past a linear layer, never through a nonlinearity.
  Affine out_map(layer.units);
  int y = group->output;
  while (layer.activation == ir::Activation::kIdentity) {
    const int n = uses.SoleConsumer(y);
    if (!free_node(n)) break;
    int in = -1;
    const int c = AffineConstant(g, uses, g.nodes[n], layer.units, &in);
    if (c < 0) break;
    out_map.Apply(g.nodes[n], uses.Constant(c));
    sources_finite &= AllFinite(uses.Constant(c).data);
    nodes.push_back(n);
    y = g.nodes[n].output;
  }
  nodes.insert(nodes.end(), before.begin(), before.end());
  if (nodes.empty()) return;

  // W' = diag(s_out) W diag(s_in), b' = s_out·(b + W t_in) + t_out, each
  // entry rounded once to the graph's dtype.
  const bool f32 = g.dtype == ir::DType::kF32;
  auto round = [f32](long double v) {
    return f32 ? static_cast<double>(static_cast<float>(v))
               : static_cast<double>(v);
  };
  const int64_t units = layer.units, width = layer.width;
  const bool inner_bias = !layer.bias.empty() || in_map.has_shift;
  const bool has_bias = inner_bias || out_map.has_shift;
  std::vector<double> weights(layer.weights.size());
  std::vector<double> bias;
  for (int64_t j = 0; j < units; ++j) {
    long double sum = layer.bias.empty() ? 0 : layer.bias[j];
    for (int64_t i = 0; i < width; ++i) {
      const long double w = layer.weights[j * width + i];
      if (in_map.has_shift) sum += w * in_map.shift[i];
      weights[j * width + i] = round(out_map.scale[j] * w * in_map.scale[i]);
    }
    long double b = inner_bias ? out_map.scale[j] * sum : 0;
    if (out_map.has_shift) b += out_map.shift[j];
    if (has_bias) bias.push_back(round(b));
  }
  // Folded constants that overflow would turn finite rows into inf or NaN
  // that the graph as written does not produce.
  if (sources_finite && !(AllFinite(weights) && AllFinite(bias))) return;

  layer.weights = std::move(weights);
  layer.bias = std::move(bias);
  layer.folded = static_cast<int>(nodes.size());
  group->input = x;
  // A layer that now ends in the chain takes an activation read alone after
  // it into the epilogue, as it would have right after the layer.
  const bool folded_after = y != group->output;
  group->output = y;
  const int next = uses.SoleConsumer(y);
  if (folded_after && layer.activation == ir::Activation::kIdentity &&
      free_node(next) && g.nodes[next].op == OpKind::kActivation) {
    const Node& act = g.nodes[next];
    layer.activation = act.activation;
    layer.alpha = act.alpha;
    layer.beta = act.beta;
    group->output = act.output;
    nodes.push_back(next);
  }
  group->nodes.insert(group->nodes.end(), nodes.begin(), nodes.end());
  std::sort(group->nodes.begin(), group->nodes.end());
}

}  // namespace rowflow::plan_internal
