#include "graph/builder.h"

#include <cmath>
#include <limits>
#include <utility>

#include "graph/activation.h"
#include "graph/error.h"
#include "graph/text.h"
#include "graph/validate.h"

namespace rowflow {

using ir::Node;
using ir::OpKind;
using ir::ValueKind;

GraphBuilder::GraphBuilder(std::string name, ir::DType dtype) {
  graph_.name = std::move(name);
  graph_.dtype = dtype;
}

double GraphBuilder::Round(double v) const {
  if (graph_.dtype != ir::DType::kF32) return v;
  // Casting a finite double beyond float's range is undefined: round as IEEE
  // does. Below FLT_MAX + half an ulp (2^128 - 2^103) a value rounds to
  // FLT_MAX; from there on (the tie included: FLT_MAX's last bit is odd, so
  // ties go to even, the infinity) to the infinity.
  constexpr double kOverflow = 0x1.ffffffp+127;
  if (std::isfinite(v) && std::abs(v) > std::numeric_limits<float>::max()) {
    return std::abs(v) >= kOverflow
               ? std::copysign(std::numeric_limits<double>::infinity(), v)
               : std::copysign(double{std::numeric_limits<float>::max()}, v);
  }
  return static_cast<double>(static_cast<float>(v));
}

std::string GraphBuilder::FreshName(const std::string& prefix) {
  std::string name;
  do {
    name = prefix + "_" + std::to_string(next_id_++);
  } while (ids_.count(name) != 0);
  return name;
}

ValueRef GraphBuilder::AddValue(const std::string& name, ValueKind kind,
                                int index, ir::Shape shape) {
  const int id = static_cast<int>(graph_.values.size());
  // A repeated name is refused by the call that repeats it, so that the
  // caller (a layer of a spec, a line of code) is the one named; an empty
  // name is left to Validate ("has no name").
  if (!name.empty()) {
    const auto [it, fresh] = ids_.emplace(name, id);
    if (!fresh) {
      static constexpr const char* kKinds[] = {"an input", "a constant",
                                               "a node"};
      throw MakeError(
          ErrorKind::kModel,
          "name '{}' is already taken by {} of the graph; expected a new name",
          EscapeForMessage(name),
          kKinds[static_cast<int>(graph_.values[it->second].kind)]);
    }
  }
  graph_.values.push_back(ir::Value{name, kind, index, std::move(shape)});
  return ValueRef{id};
}

ValueRef GraphBuilder::Input(const std::string& name, ir::Shape shape) {
  ValueRef v =
      AddValue(name, ValueKind::kInput, static_cast<int>(graph_.inputs.size()),
               std::move(shape));
  graph_.inputs.push_back(v.id);
  return v;
}

ValueRef GraphBuilder::Constant(const std::string& name, ir::Shape shape,
                                std::vector<double> data) {
  for (double& d : data) d = Round(d);
  ValueRef v = AddValue(name, ValueKind::kConstant,
                        static_cast<int>(graph_.constants.size()), shape);
  graph_.constants.push_back(
      ir::Tensor{v.id, std::move(shape), std::move(data)});
  return v;
}

ValueRef GraphBuilder::AddNode(Node node, const std::string& prefix) {
  if (node.name.empty()) node.name = FreshName(prefix);
  // Shapes are inferred by Validate in Build().
  ValueRef out = AddValue(node.name, ValueKind::kNode,
                          static_cast<int>(graph_.nodes.size()), {});
  node.output = out.id;
  graph_.nodes.push_back(std::move(node));
  return out;
}

ValueRef GraphBuilder::Multiply(ValueRef a, ValueRef b,
                                const std::string& name) {
  return AddNode(Node{name, OpKind::kMultiply, {a.id, b.id}}, "mul");
}

ValueRef GraphBuilder::Add(ValueRef a, ValueRef b, const std::string& name) {
  return AddNode(Node{name, OpKind::kAdd, {a.id, b.id}}, "add");
}

ValueRef GraphBuilder::Sum(ValueRef a, int64_t axis, const std::string& name) {
  Node node{name, OpKind::kSum, {a.id}};
  node.axis = axis;
  return AddNode(std::move(node), "sum");
}

ValueRef GraphBuilder::Activation(ValueRef a, ir::Activation act,
                                  std::optional<double> alpha,
                                  const std::string& name) {
  return Activation(a, act, alpha, std::nullopt, name);
}

ValueRef GraphBuilder::Activation(ValueRef a, ir::Activation act,
                                  std::optional<double> alpha,
                                  std::optional<double> beta,
                                  const std::string& name) {
  Node node{name, OpKind::kActivation, {a.id}};
  ir::SetActivation(node, act, alpha, beta);
  return AddNode(std::move(node), "act");
}

ValueRef GraphBuilder::Concat(const std::vector<ValueRef>& parts, int64_t axis,
                              const std::string& name) {
  Node node{name, OpKind::kConcat, {}};
  for (ValueRef p : parts) node.inputs.push_back(p.id);
  node.axis = axis;
  return AddNode(std::move(node), "concat");
}

ValueRef GraphBuilder::Reshape(ValueRef a, ir::Shape shape,
                               const std::string& name) {
  Node node{name, OpKind::kReshape, {a.id}};
  node.shape = std::move(shape);
  return AddNode(std::move(node), "reshape");
}

ValueRef GraphBuilder::Dense(ValueRef x, const std::string& name, int64_t units,
                             std::vector<double> weights,
                             std::vector<double> bias,
                             const DenseOptions& options) {
  if (units <= 0 || weights.size() % static_cast<size_t>(units) != 0) {
    throw MakeError(ErrorKind::kModel,
                    "layer '{}': {} weights do not split into {} units", name,
                    weights.size(), units);
  }
  if (!bias.empty() && bias.size() != static_cast<size_t>(units)) {
    throw MakeError(ErrorKind::kModel,
                    "layer '{}': bias has {} entries; expected {} (units)",
                    name, bias.size(), units);
  }
  const int64_t width = static_cast<int64_t>(weights.size()) / units;
  const ir::Activation act = options.activation;
  if (options.form == DenseForm::kLayer) {
    ValueRef w = Constant(name + "/w", {units, width}, std::move(weights));
    ValueRef v =
        Sum(Multiply(x, w, name + "/mul"), -1,
            bias.empty() && act == ir::Activation::kIdentity ? name
                                                             : name + "/sum");
    if (!bias.empty()) {
      ValueRef b = Constant(name + "/b", {units}, std::move(bias));
      v = Add(v, b, act == ir::Activation::kIdentity ? name : name + "/bias");
    }
    if (act != ir::Activation::kIdentity)
      v = Activation(v, act, options.alpha, options.beta, name);
    return v;
  }
  // Per-node form, the seed's: each unit is (x * w_i).sum(), then its
  // activation; the units meet in a CONCAT. One over the last axis
  // (SOFTMAX) couples the units, so it is applied once after the CONCAT.
  const ir::ActivationInfo* info = ir::FindActivation(act);
  const bool last_axis =
      info != nullptr && info->shape == ir::ActivationShape::kLastAxis;
  const bool per_unit_act = act != ir::Activation::kIdentity && !last_axis;
  std::vector<ValueRef> unit_values;
  for (int64_t i = 0; i < units; ++i) {
    const std::string unit = name + "_" + std::to_string(i);
    std::vector<double> wi(weights.begin() + i * width,
                           weights.begin() + (i + 1) * width);
    ValueRef w = Constant(unit + "/w", {width}, std::move(wi));
    ValueRef v = Sum(Multiply(x, w, unit + "_mul"), -1,
                     bias.empty() ? unit + "_input" : unit + "_dot");
    if (!bias.empty()) {
      ValueRef b = Constant(unit + "/b", {}, {bias[i]});
      v = Add(v, b, unit + "_input");
    }
    if (per_unit_act) {
      v = Activation(v, act, options.alpha, options.beta, unit);
    }
    unit_values.push_back(v);
  }
  if (last_axis) {
    return Activation(Concat(unit_values, -1, name + "/concat"), act,
                      options.alpha, options.beta, name);
  }
  return Concat(unit_values, -1, name);
}

void GraphBuilder::Output(ValueRef v) { graph_.outputs.push_back(v.id); }

void GraphBuilder::SetMetadata(const std::string& key,
                               const std::string& value) {
  graph_.metadata[key] = value;
}

ir::Graph GraphBuilder::Build(const ValidateOptions& options) {
  ir::Graph graph = graph_;
  Validate(graph, options);
  return graph;
}

}  // namespace rowflow
