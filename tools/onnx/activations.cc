#include "tools/onnx/activations.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>
#include <utility>

#include "graph/error.h"
#include "tools/onnx/nodes.h"

namespace rowflow::onnx_internal {
namespace {

using Kind = Expr::Kind;
using ir::Activation;

Expr X() { return Expr{}; }
Expr C(double value) { return Expr{Kind::kConst, "", value, {}}; }
Expr Op(std::string op, std::vector<Expr> args) {
  return Expr{Kind::kOp, std::move(op), 0, std::move(args)};
}
Expr Mul(std::vector<Expr> args) {
  return Expr{Kind::kMul, "", 0, std::move(args)};
}
Expr Add(std::vector<Expr> args) {
  return Expr{Kind::kAdd, "", 0, std::move(args)};
}
Expr Alt(std::vector<Expr> args) {
  return Expr{Kind::kAlt, "", 0, std::move(args)};
}

constexpr double kSqrt2 = 1.4142135623730951;
constexpr double kSqrtHalf = 0.7071067811865476;     // 1 / sqrt(2)
constexpr double kSqrt2OverPi = 0.7978845608028654;  // sqrt(2 / pi)
constexpr double kGeluCubic = 0.044715;

// x / 2 * (1 + erf(x / sqrt(2))): torch.onnx's nn.GELU() below opset 20
// (x / sqrt(2) as Div, or as Mul by 1 / sqrt(2) elsewhere).
const Expr& GeluErf() {
  static const Expr e = Mul({X(),
                             Add({Op("Erf", {Alt({Op("Div", {X(), C(kSqrt2)}),
                                                  Mul({X(), C(kSqrtHalf)})})}),
                                  C(1)}),
                             C(0.5)});
  return e;
}

// x / 2 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3))): nn.GELU(
// approximate='tanh'), the cube as x * x * x or Pow(x, 3).
const Expr& GeluTanh() {
  static const Expr e = Mul(
      {X(),
       Add({Op("Tanh", {Mul({Add({X(), Alt({Mul({X(), X(), X(), C(kGeluCubic)}),
                                            Mul({Op("Pow", {X(), C(3)}),
                                                 C(kGeluCubic)})})}),
                             C(kSqrt2OverPi)})}),
            C(1)}),
       C(0.5)});
  return e;
}

// x * sigmoid(x): nn.SiLU().
const Expr& Silu() {
  static const Expr e = Mul({X(), Op("Sigmoid", {X()})});
  return e;
}

std::span<const OnnxActivation> Rows() {
  static const OnnxActivation kRows[] = {
      {Activation::kIdentity, "Identity", 1, "", nullptr},
      {Activation::kRelu, "Relu", 1, "", nullptr},
      {Activation::kTanh, "Tanh", 1, "", nullptr},
      {Activation::kSigmoid, "Sigmoid", 1, "", nullptr},
      {Activation::kLeakyRelu, "LeakyRelu", 1, "", nullptr},
      {Activation::kSoftplus, "Softplus", 1, "", nullptr},
      {Activation::kSoftmax, "Softmax", 1, "", nullptr},
      {Activation::kElu, "Elu", 1, "", nullptr},
      {Activation::kGelu, "Gelu", 20, "none", &GeluErf()},
      {Activation::kGeluTanh, "Gelu", 20, "tanh", &GeluTanh()},
      {Activation::kSilu, "", 0, "", &Silu()},
      {Activation::kHardSigmoid, "HardSigmoid", 1, "", nullptr},
      {Activation::kLogSoftmax, "LogSoftmax", 1, "", nullptr},
      // Clip's bounds are inputs from opset 11 and attributes min and max
      // before; LayerNormalization has scale and bias inputs, and below
      // opset 17 is the pattern of tools/onnx/norm_pattern.cc: both have
      // lowerings of their own (tools/onnx/lower_norm.cc) and exports.
      {Activation::kClip, "Clip", 1, "", nullptr},
      {Activation::kErf, "Erf", 9, "", nullptr},
      {Activation::kLayerNorm, "LayerNormalization", 17, "", nullptr},
  };
  static const bool in_order = [] {
    RF_CHECK(std::size(kRows) == ir::AllActivations().size());
    for (size_t i = 0; i < std::size(kRows); ++i) {
      RF_CHECK(static_cast<size_t>(kRows[i].act) == i);
    }
    return true;
  }();
  (void)in_order;
  return kRows;
}

constexpr std::string_view kExactPrefix = "rowflow.";
constexpr std::string_view kLegacyAlphaPrefix = "rowflow.leaky_relu_alpha/";

// Matches expressions at ONNX values of one graph.
class Matcher {
 public:
  Matcher(const onnx::GraphProto& g,
          const std::map<std::string, double>& scalars)
      : g_(g), scalars_(scalars), index_(g) {}

  struct State {
    std::string x;
    std::vector<int> nodes;
  };

  // Whether `e` computes value `v`, the output of a node of the expansion
  // (`root`: its last one, whose output may be read anywhere).
  bool Match(const Expr& e, const std::string& v, bool root, State& s) const {
    switch (e.kind) {
      case Kind::kX:
        if (s.x.empty()) s.x = v;
        return s.x == v;
      case Kind::kConst: {
        auto it = scalars_.find(v);
        // Exporters round (float32) or compute (1 / sqrt(2) in double)
        // the constants their own way: within float precision is the same.
        return it != scalars_.end() &&
               std::fabs(it->second - e.value) <= 0x1p-23 * std::fabs(e.value);
      }
      case Kind::kOp: {
        const int n = NodeOf(v, e.op, e.args.size(), root);
        if (n < 0) return false;
        for (size_t i = 0; i < e.args.size(); ++i) {
          if (!Match(e.args[i], g_.node(n).input(static_cast<int>(i)), false,
                     s)) {
            return false;
          }
        }
        s.nodes.push_back(n);
        return true;
      }
      case Kind::kAlt:
        for (const Expr& alt : e.args) {
          State t = s;
          if (Match(alt, v, root, t)) {
            s = std::move(t);
            return true;
          }
        }
        return false;
      case Kind::kMul:
      case Kind::kAdd:
        return MatchTerms(e, v, root, s);
    }
    return false;
  }

 private:
  // The node computing `v` as `op` over `arity` inputs, read once unless
  // it is the root; or -1.
  int NodeOf(const std::string& v, std::string_view op, size_t arity,
             bool root) const {
    auto it = index_.producer.find(v);
    if (it == index_.producer.end()) return -1;
    const onnx::NodeProto& n = g_.node(it->second);
    if (!IsDefaultDomain(n.domain()) || n.op_type() != op ||
        n.input_size() != static_cast<int>(arity) || n.output_size() != 1 ||
        n.attribute_size() != 0) {
      return -1;
    }
    for (const std::string& in : n.input()) {
      if (in.empty()) return -1;
    }
    if (!root) {
      auto use = index_.uses.find(v);
      if (use == index_.uses.end() || use->second != 1) return -1;
    }
    return it->second;
  }

  // The operands of the tree of `op` nodes computing `v`, at most `limit`.
  bool Flatten(const std::string& v, std::string_view op, bool root,
               size_t limit, std::vector<std::string>& terms,
               std::vector<int>& nodes) const {
    const int n = NodeOf(v, op, 2, root);
    if (n < 0) {
      terms.push_back(v);
      return terms.size() <= limit;
    }
    // A tree of k operands has k - 1 nodes: this bounds the walk.
    nodes.push_back(n);
    if (nodes.size() >= limit) return false;
    return Flatten(g_.node(n).input(0), op, false, limit, terms, nodes) &&
           Flatten(g_.node(n).input(1), op, false, limit, terms, nodes);
  }

  bool MatchTerms(const Expr& e, const std::string& v, bool root,
                  State& s) const {
    const std::string_view op = e.kind == Kind::kMul ? "Mul" : "Add";
    std::vector<std::string> terms;
    std::vector<int> nodes;
    if (!Flatten(v, op, root, e.args.size(), terms, nodes) || nodes.empty() ||
        terms.size() != e.args.size()) {
      return false;
    }
    std::vector<size_t> perm(terms.size());
    std::iota(perm.begin(), perm.end(), 0);
    do {
      State t = s;
      bool all = true;
      for (size_t i = 0; all && i < terms.size(); ++i) {
        all = Match(e.args[perm[i]], terms[i], false, t);
      }
      if (all) {
        t.nodes.insert(t.nodes.end(), nodes.begin(), nodes.end());
        s = std::move(t);
        return true;
      }
    } while (std::next_permutation(perm.begin(), perm.end()));
    return false;
  }

  const onnx::GraphProto& g_;
  const std::map<std::string, double>& scalars_;
  const ValueUses index_;
};

void AddScalar(const std::string& name, const HostTensor& t,
               std::map<std::string, double>& scalars) {
  if (t.dims.size() > 1 || CheckedCount(t.dims) != 1) return;
  scalars[name] = t.is_int ? static_cast<double>(t.ints.at(0)) : t.values.at(0);
}

}  // namespace

std::span<const OnnxActivation> OnnxActivations() { return Rows(); }

const OnnxActivation& GetOnnxActivation(ir::Activation act) {
  ir::GetActivation(act);  // checks `act`
  return Rows()[static_cast<size_t>(act)];
}

bool IsActivationOp(std::string_view op) {
  for (const OnnxActivation& row : Rows()) {
    if (!row.op.empty() && row.op == op) return true;
  }
  return false;
}

std::string ActivationOpList() {
  std::vector<std::string> ops;
  for (const OnnxActivation& row : Rows()) {
    if (row.op.empty()) continue;
    std::string op(row.op);
    if (ir::GetActivation(row.act).shape == ir::ActivationShape::kLastAxis)
      op += " (last axis)";
    if (row.since_opset > 1) op += fmt::format(" (opset {}+)", row.since_opset);
    if (std::find(ops.begin(), ops.end(), op) == ops.end()) ops.push_back(op);
  }
  std::vector<std::string_view> expanded;
  for (const OnnxActivation& row : Rows()) {
    if (row.expansion) expanded.push_back(ir::GetActivation(row.act).name);
  }
  std::string list = fmt::format("{}", fmt::join(ops, ", "));
  for (size_t i = 0; i < expanded.size(); ++i) {
    list += i == 0 ? ", and " : i + 1 == expanded.size() ? " and " : ", ";
    list += expanded[i];
  }
  return list + " in the expanded forms PyTorch exports";
}

std::string ExactParamKey(ir::ActivationParam param, std::string_view output) {
  return fmt::format("{}{}/{}", kExactPrefix, ir::ParamName(param), output);
}

bool ReadExactParam(const std::string& key, const std::string& value,
                    std::map<std::string, double>* exact) {
  std::string_view rest;
  std::string_view param;
  if (key.starts_with(kLegacyAlphaPrefix)) {
    param = "alpha";
    rest = std::string_view(key).substr(kLegacyAlphaPrefix.size());
  } else {
    for (ir::ActivationParam p : ir::kActivationParams) {
      const std::string prefix = ExactParamKey(p, "");
      if (key.starts_with(prefix)) {
        param = ir::ParamName(p);
        rest = std::string_view(key).substr(prefix.size());
      }
    }
    if (param.empty()) return false;
  }
  double v = 0;
  const auto [end, ec] =
      std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec == std::errc() && end == value.data() + value.size()) {
    (*exact)[fmt::format("{}/{}", param, rest)] = v;
  }
  return true;
}

std::map<std::string, double> ScalarConstants(
    const onnx::GraphProto& graph, std::span<const HostTensor> initializers) {
  std::map<std::string, double> scalars;
  for (const HostTensor& t : initializers) AddScalar(t.name, t, scalars);
  for (const onnx::NodeProto& node : graph.node()) {
    if (!IsDefaultDomain(node.domain()) || node.op_type() != "Constant" ||
        node.output_size() != 1 || node.attribute_size() != 1) {
      continue;
    }
    const onnx::AttributeProto& a = node.attribute(0);
    const std::string& out = node.output(0);
    using A = onnx::AttributeProto;
    if (a.name() == "value_float" && a.type() == A::FLOAT) {
      scalars[out] = a.f();
    } else if (a.name() == "value_int" && a.type() == A::INT) {
      scalars[out] = static_cast<double>(a.i());
    } else if (a.name() == "value_floats" && a.type() == A::FLOATS &&
               a.floats_size() == 1) {
      scalars[out] = a.floats(0);
    } else if (a.name() == "value_ints" && a.type() == A::INTS &&
               a.ints_size() == 1) {
      scalars[out] = static_cast<double>(a.ints(0));
    } else if (a.name() == "value" && a.type() == A::TENSOR &&
               a.t().dims_size() <= 1) {
      // The lowering reads (and refuses) the tensor properly later.
      int64_t budget = 64;
      try {
        AddScalar(out, ReadTensor(a.t(), "value", &budget), scalars);
      } catch (const Error&) {
      }
    }
  }
  return scalars;
}

FoundExpansions FindExpansions(const onnx::GraphProto& graph,
                               const std::vector<int>& order,
                               const std::map<std::string, double>& scalars) {
  const Matcher matcher(graph, scalars);
  FoundExpansions found;
  std::set<int> claimed;
  // Consumers first, so that the outermost expansion claims its nodes.
  for (auto i = order.rbegin(); i != order.rend(); ++i) {
    const onnx::NodeProto& node = graph.node(*i);
    if (claimed.count(*i) > 0 || node.output_size() != 1 ||
        node.output(0).empty()) {
      continue;
    }
    for (const OnnxActivation& row : Rows()) {
      if (row.expansion == nullptr) continue;
      Matcher::State s;
      if (!matcher.Match(*row.expansion, node.output(0), true, s)) continue;
      const bool fresh = std::none_of(s.nodes.begin(), s.nodes.end(),
                                      [&](int n) { return claimed.count(n); });
      if (!fresh) continue;
      claimed.insert(s.nodes.begin(), s.nodes.end());
      for (int n : s.nodes) {
        if (n != *i) found.absorbed.insert(n);
      }
      found.roots[*i] = {row.act, s.x, std::nullopt, -1};
      break;
    }
  }
  FindLayerNorms(graph, scalars, &found);
  return found;
}

}  // namespace rowflow::onnx_internal
