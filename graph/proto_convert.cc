#include "graph/proto_convert.h"

#include <fmt/format.h>

#include <cfloat>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "graph/activation.h"
#include "graph/error.h"
#include "graph/op_schema.h"
#include "graph/text.h"
#include "graph/validate.h"
#include "graph/validate_structure.h"
#include "graph/weights_file.h"

namespace rowflow::internal {
namespace {

using ir::OpKind;
using ir::ValueKind;

// graph/activation.h's table is the file's Activation enum, row i holding
// value i; ActivationFromProto checks the names.
constexpr bool ActivationTableMatchesProto() {
  const auto rows = ir::AllActivations();
  if (rowflow::Activation_MIN != 0 ||
      rows.size() != static_cast<size_t>(rowflow::Activation_ARRAYSIZE)) {
    return false;
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].proto_value != static_cast<int>(i)) return false;
  }
  return true;
}
static_assert(ActivationTableMatchesProto(),
              "graph/activation.h's kActivations must have one row per value "
              "of proto/rowflow.proto's Activation, in order");

// "SUM and CONCAT": the operators that read `attribute`, for messages.
std::string OpsWith(unsigned attribute) {
  std::vector<std::string_view> names;
  for (const ir::OpSchema& schema : ir::AllOpSchemas()) {
    if (schema.attributes & attribute) names.push_back(schema.name);
  }
  std::string list;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) list += i + 1 == names.size() ? " and " : ", ";
    list += names[i];
  }
  return list;
}

// The file's op enum and ir::OpKind meet by name (the op's schema):
// a valid file op without a schema is refused as unknown.
const ir::OpSchema* SchemaOf(rowflow::Node::Op op) {
  if (op == rowflow::Node::OP_UNSPECIFIED || !rowflow::Node::Op_IsValid(op))
    return nullptr;
  return ir::FindOpSchema(rowflow::Node::Op_Name(op));
}

rowflow::Node::Op ToProto(OpKind op) {
  rowflow::Node::Op out = rowflow::Node::OP_UNSPECIFIED;
  RF_CHECK(
      rowflow::Node::Op_Parse(std::string(ir::GetOpSchema(op).name), &out));
  return out;
}

ir::Shape ToShape(const google::protobuf::RepeatedField<int64_t>& dims) {
  return ir::Shape(dims.begin(), dims.end());
}

// Builds the value table, refusing empty and duplicate names.
class ValueTable {
 public:
  ValueTable(ir::Graph* graph, int64_t values) : graph_(graph) {
    ids_.reserve(values);
  }

  int Define(const std::string& name, ValueKind kind, int index,
             ir::Shape shape, const std::string& who) {
    if (name.empty()) Fail("{}: name is unset; expected a value name", who);
    auto [it, inserted] =
        ids_.emplace(name, static_cast<int>(graph_->values.size()));
    if (!inserted) {
      Fail("duplicate value name '{}': {} and {}; expected each name once",
           name, Describe(it->second), who);
    }
    graph_->values.push_back({name, kind, index, std::move(shape)});
    return it->second;
  }

  int Find(const std::string& name) const {
    auto it = ids_.find(name);
    return it == ids_.end() ? -1 : it->second;
  }

 private:
  // How Define's callers name an earlier value: a node output's node is
  // already in the graph when a later duplicate shows up.
  std::string Describe(int id) const {
    const ir::Value& v = graph_->values[id];
    switch (v.kind) {
      case ValueKind::kInput:
        return fmt::format("input '{}'", v.name);
      case ValueKind::kConstant:
        return fmt::format("constant '{}'", v.name);
      case ValueKind::kNode:
        break;
    }
    const ir::Node& node = graph_->nodes[v.index];
    return fmt::format("output of node '{}' ({})", node.name,
                       ir::OpName(node.op));
  }

  ir::Graph* graph_;
  std::unordered_map<std::string, int> ids_;
};

void ConvertConstant(const rowflow::Tensor& t, int index, ValueTable& table,
                     ir::Graph& g) {
  const std::string who = fmt::format("constant '{}'", t.name());
  const bool has_float = t.float_data_size() > 0;
  const bool has_double = t.double_data_size() > 0;
  if (has_float && has_double) {
    Fail("{}: has both float_data and double_data; expected one", who);
  }
  if (g.dtype == ir::DType::kF32 && has_double) {
    Fail("{}: holds double_data in an F32 graph; expected float_data", who);
  }
  if (g.dtype == ir::DType::kF64 && has_float) {
    Fail("{}: holds float_data in an F64 graph; expected double_data", who);
  }
  ir::Tensor tensor;
  tensor.shape = ToShape(t.shape());
  tensor.value =
      table.Define(t.name(), ValueKind::kConstant, index, tensor.shape, who);
  // Sized by the data present in the file, never by the declared shape.
  if (has_float) {
    tensor.data.assign(t.float_data().begin(), t.float_data().end());
  } else {
    tensor.data.assign(t.double_data().begin(), t.double_data().end());
  }
  g.constants.push_back(std::move(tensor));
}

ir::Node ConvertNode(const rowflow::Node& n, int index,
                     std::unordered_set<std::string>& node_names) {
  if (n.name().empty()) Fail("node #{}: name is unset; expected a name", index);
  if (!node_names.insert(n.name()).second) {
    Fail("duplicate node name '{}'; expected each name once", n.name());
  }
  if (n.op() == rowflow::Node::OP_UNSPECIFIED) {
    Fail("node '{}': op is unset; expected one of {}", n.name(),
         ir::OpNameList());
  }
  const ir::OpSchema* schema = SchemaOf(n.op());
  if (schema == nullptr) {
    Fail("node '{}': unknown op {}; expected one of {}", n.name(),
         static_cast<int>(n.op()), ir::OpNameList());
  }
  ir::Node node;
  node.name = n.name();
  node.op = schema->kind;
  const std::string where =
      fmt::format("node '{}' ({})", n.name(), ir::OpName(node.op));
  if (n.output().empty()) {
    Fail("{}: output is unset; expected the name of the value it defines",
         where);
  }
  const bool takes_axis = (schema->attributes & ir::kAxisAttribute) != 0;
  if (n.has_axis() && !takes_axis) {
    Fail("{}: attribute 'axis' does not apply to {}; expected it only on {}",
         where, ir::OpName(node.op), OpsWith(ir::kAxisAttribute));
  }
  if (n.has_axis()) node.axis = n.axis();
  const bool takes_activation =
      (schema->attributes & ir::kActivationAttribute) != 0;
  const ir::ActivationInfo* act = nullptr;
  if (!takes_activation) {
    if (n.has_activation()) {
      Fail(
          "{}: attribute 'activation' does not apply to {}; expected it only "
          "on {}",
          where, ir::OpName(node.op), OpsWith(ir::kActivationAttribute));
    }
  } else if (!n.has_activation()) {
    Fail("{}: missing attribute 'activation'; expected one of {}", where,
         ir::ActivationNameList());
  } else if (act = ActivationFromProto(n.activation()); act == nullptr) {
    Fail("{}: unknown activation {}; expected one of {}", where,
         static_cast<int>(n.activation()), ir::ActivationNameList());
  }
  const std::optional<double> alpha =
      n.has_alpha() ? std::optional(n.alpha()) : std::nullopt;
  const std::optional<double> beta =
      n.has_beta() ? std::optional(n.beta()) : std::nullopt;
  for (ir::ActivationParam param : ir::kActivationParams) {
    if (!(param == ir::ActivationParam::kAlpha ? alpha : beta)) continue;
    if (act == nullptr) {
      Fail(
          "{}: attribute '{}' does not apply to {}; expected it only on "
          "ACTIVATION with {}",
          where, ir::ParamName(param), ir::OpName(node.op),
          ir::ActivationsTaking(param));
    }
    if (!act->Default(param)) {
      Fail("{}: attribute '{}' does not apply to {}; expected it only with {}",
           where, ir::ParamName(param), act->name,
           ir::ActivationsTaking(param));
    }
  }
  if (act != nullptr) ir::SetActivation(node, act->act, alpha, beta);
  // An empty repeated field reads as unset, so RESHAPE's target has rank >= 1
  // (validation checks its dims against the input).
  const bool takes_shape = (schema->attributes & ir::kShapeAttribute) != 0;
  if (!takes_shape && n.shape_size() > 0) {
    Fail("{}: attribute 'shape' does not apply to {}; expected it only on {}",
         where, ir::OpName(node.op), OpsWith(ir::kShapeAttribute));
  }
  if (takes_shape && n.shape_size() == 0) {
    Fail(
        "{}: missing attribute 'shape'; expected the output's per-row shape, "
        "rank 1 to {}",
        where, kMaxRank);
  }
  if (takes_shape) node.shape = ToShape(n.shape());
  return node;
}

// Names appear in messages below before Validate() checks them; one with a
// control byte (a line break) would split a one-line error, so it is refused
// first, shown escaped.
void CheckNamesPrintable(const rowflow::Graph& proto) {
  auto check = [](const std::string& name, const char* what) {
    for (const char c : name) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f) {
        Fail("{} name '{}' has control characters; expected printable text",
             what, EscapeForMessage(name));
      }
    }
  };
  for (const rowflow::ValueInfo& v : proto.inputs()) check(v.name(), "input");
  for (const rowflow::ValueInfo& v : proto.outputs()) check(v.name(), "output");
  for (const rowflow::Tensor& t : proto.constants())
    check(t.name(), "constant");
  for (const rowflow::Node& n : proto.nodes()) {
    check(n.name(), "node");
    check(n.output(), "node output");
    for (const std::string& in : n.inputs()) check(in, "node input");
  }
}

}  // namespace

const ir::ActivationInfo* ActivationFromProto(rowflow::Activation act) {
  if (!rowflow::Activation_IsValid(act)) return nullptr;
  const ir::ActivationInfo& info = ir::kActivations[static_cast<size_t>(act)];
  // Numbers are tied by the static_assert above; a name that differs is a
  // row in the wrong place.
  RF_CHECK(rowflow::Activation_Name(act) == info.name);
  return &info;
}

rowflow::Activation ActivationToProto(ir::Activation act) {
  return static_cast<rowflow::Activation>(ir::GetActivation(act).proto_value);
}

ir::Graph GraphFromProto(const rowflow::Graph& proto) {
  if (proto.format_version() == 0) {
    Fail("missing format_version (unset or 0); expected {}",
         ir::kFormatVersion);
  }
  if (proto.format_version() > ir::kFormatVersion) {
    Fail(
        "format_version {} is newer than this rowflow reads; expected at "
        "most {}",
        proto.format_version(), ir::kFormatVersion);
  }
  if (!rowflow::DType_IsValid(proto.dtype())) {
    Fail("unknown dtype {}; expected F32 or F64",
         static_cast<int>(proto.dtype()));
  }
  // Counted before any table that grows with the graph is built.
  const int64_t values = int64_t{proto.inputs_size()} + proto.constants_size() +
                         proto.nodes_size();
  int64_t node_inputs = 0;
  for (const rowflow::Node& n : proto.nodes()) node_inputs += n.inputs_size();
  CheckGraphSize(proto.nodes_size(), values, node_inputs, proto.outputs_size());
  CheckNamesPrintable(proto);
  ir::Graph g;
  g.name = proto.name();
  g.dtype = proto.dtype() == rowflow::F64 ? ir::DType::kF64 : ir::DType::kF32;
  for (const auto& [key, text] : proto.metadata()) g.metadata[key] = text;
  g.values.reserve(values);
  g.nodes.reserve(proto.nodes_size());
  ValueTable table(&g, values);
  for (int i = 0; i < proto.inputs_size(); ++i) {
    const rowflow::ValueInfo& in = proto.inputs(i);
    g.inputs.push_back(table.Define(in.name(), ValueKind::kInput, i,
                                    ToShape(in.shape()),
                                    fmt::format("input '{}'", in.name())));
  }
  for (int i = 0; i < proto.constants_size(); ++i) {
    ConvertConstant(proto.constants(i), i, table, g);
  }
  std::unordered_set<std::string> node_names;
  node_names.reserve(proto.nodes_size());
  for (int i = 0; i < proto.nodes_size(); ++i) {
    ir::Node node = ConvertNode(proto.nodes(i), i, node_names);
    node.output = table.Define(proto.nodes(i).output(), ValueKind::kNode, i, {},
                               fmt::format("output of node '{}' ({})",
                                           node.name, ir::OpName(node.op)));
    g.nodes.push_back(std::move(node));
  }
  // Node inputs resolve after every value is known: the file need not list
  // nodes in topological order.
  for (int i = 0; i < proto.nodes_size(); ++i) {
    ir::Node& node = g.nodes[i];
    for (const std::string& name : proto.nodes(i).inputs()) {
      int id = table.Find(name);
      if (id < 0) {
        Fail(
            "node '{}' ({}): input '{}' is not defined; expected a graph "
            "input, constant or node output",
            node.name, ir::OpName(node.op), name);
      }
      node.inputs.push_back(id);
    }
  }
  for (int i = 0; i < proto.outputs_size(); ++i) {
    const std::string& name = proto.outputs(i).name();
    if (name.empty()) Fail("output #{}: name is unset; expected a name", i);
    int id = table.Find(name);
    if (id < 0) {
      Fail(
          "output '{}' is not defined; expected a graph input, constant or "
          "node output",
          name);
    }
    g.outputs.push_back(id);
  }
  return g;
}

void CheckDeclaredShapes(const rowflow::Graph& proto, const ir::Graph& graph) {
  RF_CHECK(static_cast<size_t>(proto.outputs_size()) == graph.outputs.size());
  for (int i = 0; i < proto.outputs_size(); ++i) {
    const ir::Value& v = graph.values[graph.outputs[i]];
    ir::Shape declared = ToShape(proto.outputs(i).shape());
    if (declared.size() > static_cast<size_t>(kMaxRank)) {
      // Too long to print: a hostile file can make it millions of dims long.
      Fail(
          "output '{}': declared shape disagrees with the inferred one; "
          "expected {}, got rank {}",
          v.name, ir::ShapeToString(v.shape), declared.size());
    }
    if (declared != v.shape) {
      Fail(
          "output '{}': declared shape disagrees with the inferred one; "
          "expected {}, got {}",
          v.name, ir::ShapeToString(v.shape), ir::ShapeToString(declared));
    }
  }
}

rowflow::Graph GraphToProto(const ir::Graph& graph) {
  rowflow::Graph proto;
  proto.set_format_version(ir::kFormatVersion);
  proto.set_name(graph.name);
  proto.set_dtype(graph.dtype == ir::DType::kF64 ? rowflow::F64 : rowflow::F32);
  auto value = [&](int id) -> const ir::Value& {
    RF_CHECK(id >= 0 && static_cast<size_t>(id) < graph.values.size());
    return graph.values[id];
  };
  for (int id : graph.inputs) {
    rowflow::ValueInfo* info = proto.add_inputs();
    info->set_name(value(id).name);
    info->mutable_shape()->Add(value(id).shape.begin(), value(id).shape.end());
  }
  for (int id : graph.outputs) {
    rowflow::ValueInfo* info = proto.add_outputs();
    info->set_name(value(id).name);
    info->mutable_shape()->Add(value(id).shape.begin(), value(id).shape.end());
  }
  for (const ir::Node& node : graph.nodes) {
    rowflow::Node* n = proto.add_nodes();
    n->set_name(node.name);
    n->set_op(ToProto(node.op));
    for (int id : node.inputs) n->add_inputs(value(id).name);
    n->set_output(value(node.output).name);
    const unsigned attributes = ir::GetOpSchema(node.op).attributes;
    if (attributes & ir::kAxisAttribute) n->set_axis(node.axis);
    if (attributes & ir::kActivationAttribute) {
      const ir::ActivationInfo& act = ir::GetActivation(node.activation);
      n->set_activation(ActivationToProto(node.activation));
      if (act.alpha) n->set_alpha(node.alpha);
      if (act.beta) n->set_beta(node.beta);
    }
    if (attributes & ir::kShapeAttribute) {
      n->mutable_shape()->Add(node.shape.begin(), node.shape.end());
    }
  }
  for (const ir::Tensor& tensor : graph.constants) {
    rowflow::Tensor* t = proto.add_constants();
    t->set_name(value(tensor.value).name);
    t->mutable_shape()->Add(tensor.shape.begin(), tensor.shape.end());
    if (graph.dtype == ir::DType::kF64) {
      t->mutable_double_data()->Add(tensor.data.begin(), tensor.data.end());
      continue;
    }
    t->mutable_float_data()->Reserve(static_cast<int>(tensor.data.size()));
    for (double d : tensor.data) {
      // Out of float range the cast would be undefined; Validate refuses
      // such graphs, so this guards only unvalidated ones.
      if (std::isfinite(d) && std::fabs(d) > FLT_MAX) {
        Fail("constant '{}': value {} is out of F32 range",
             value(tensor.value).name, d);
      }
      t->add_float_data(static_cast<float>(d));
    }
  }
  for (const auto& [key, text] : graph.metadata) {
    (*proto.mutable_metadata())[key] = text;
  }
  return proto;
}

}  // namespace rowflow::internal
