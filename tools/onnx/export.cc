#include "tools/onnx/export.h"

#include <fmt/format.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <onnx/onnx_pb.h>

#include <charconv>
#include <climits>
#include <map>
#include <set>
#include <vector>

#include "graph/activation.h"
#include "graph/atomic_file.h"
#include "graph/dense_match.h"
#include "graph/error.h"
#include "graph/op_schema.h"
#include "tools/onnx/activations.h"
#include "tools/onnx/tensor.h"

namespace rowflow {
namespace {

using ir::OpKind;

constexpr int64_t kOpset = 13;
constexpr int64_t kIrVersion = 7;  // the IR version of opset 13
constexpr char kBatchDim[] = "N";

class Exporter {
 public:
  explicit Exporter(const ir::Graph& graph)
      : g_(graph), gp_(model_.mutable_graph()) {}

  onnx::ModelProto Run();

 private:
  void Analyze();
  std::string Fresh(const std::string& base);
  onnx::NodeProto* AddNode(const std::string& op, const std::string& name,
                           const std::vector<std::string>& inputs,
                           const std::string& output);
  std::string Constant(int id, bool transposed);
  std::string Axes(const std::vector<int64_t>& axes);
  std::string ReshapeTarget(const std::vector<int64_t>& dims);
  std::string Unsqueezed(int id, int64_t first_axis, int64_t count);
  std::string Operand(int id, size_t rank);
  void Emit(int index);
  void EmitConcat(const ir::Node& node);
  void EmitActivation(const ir::Node& node);
  void EmitLayerNorm(const ir::Node& node, const std::string& x,
                     const std::string& out);
  void SaveExactParam(ir::ActivationParam param, double v,
                      const std::string& out);
  std::string Expand(const onnx_internal::Expr& e, const std::string& x,
                     const std::string& out, const std::string& name,
                     bool root);
  std::string Scalar(double v);
  void AddValueInfo(int id, onnx::ValueInfoProto* vi);
  std::string Name(int id) const { return g_.values[id].name; }
  size_t Rank(int id) const { return g_.values[id].shape.size(); }

  const ir::Graph& g_;
  onnx::ModelProto model_;
  onnx::GraphProto* gp_;
  std::vector<bool> batched_;   // per value: depends on the rows
  std::vector<int> matmul_;     // per node: for a SUM, the MULTIPLY it absorbs
  std::vector<bool> absorbed_;  // per node: a MULTIPLY emitted as a MatMul
  std::vector<int>
      plain_uses_;  // per value: reads other than as MatMul weights
  std::set<std::string> names_;
  std::map<std::string, std::string> cache_;
};

std::string Exporter::Fresh(const std::string& base) {
  std::string name = base;
  for (int i = 1; !names_.insert(name).second; ++i)
    name = fmt::format("{}_{}", base, i);
  return name;
}

onnx::NodeProto* Exporter::AddNode(const std::string& op,
                                   const std::string& name,
                                   const std::vector<std::string>& inputs,
                                   const std::string& output) {
  onnx::NodeProto* node = gp_->add_node();
  node->set_op_type(op);
  node->set_name(name);
  for (const std::string& in : inputs) node->add_input(in);
  node->add_output(output);
  return node;
}

void AddIntAttr(onnx::NodeProto* node, const char* name, int64_t v) {
  onnx::AttributeProto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

// The MatMul form of each contraction (graph/dense_match.h) of a row value.
void Exporter::Analyze() {
  const size_t nv = g_.values.size(), nn = g_.nodes.size();
  batched_.assign(nv, false);
  for (int id : g_.inputs) batched_[id] = true;
  for (const ir::Node& node : g_.nodes) {
    for (int in : node.inputs) {
      if (batched_[in]) batched_[node.output] = true;
    }
  }
  matmul_.assign(nn, -1);
  absorbed_.assign(nn, false);
  plain_uses_.assign(nv, 0);
  // MatMul needs the batch dim, so x must depend on the rows.
  for (const ir::DenseMatch& match : ir::FindContractions(g_)) {
    if (!batched_[match.input]) continue;
    const ir::DenseUnit& unit = match.parts[0];
    matmul_[unit.sum] = unit.multiply;
    absorbed_[unit.multiply] = true;
  }
  for (size_t i = 0; i < nn; ++i) {
    if (absorbed_[i]) continue;
    if (matmul_[i] >= 0) {
      for (int in : g_.nodes[matmul_[i]].inputs) {
        if (Rank(in) != 2 || g_.values[in].kind != ir::ValueKind::kConstant)
          ++plain_uses_[in];
      }
      continue;
    }
    for (int in : g_.nodes[i].inputs) ++plain_uses_[in];
  }
}

// A constant as an initializer; MatMul weights [k, n] transposed to [n, k],
// named after the constant unless it is also used as is.
std::string Exporter::Constant(int id, bool transposed) {
  const std::string key = fmt::format("c{}:{}", transposed ? 't' : 'p', id);
  auto it = cache_.find(key);
  if (it != cache_.end()) return it->second;
  const ir::Tensor& t = g_.constants[g_.values[id].index];
  std::string name = Name(id);
  ir::Shape dims = t.shape;
  std::vector<double> data = t.data;
  if (transposed) {
    if (plain_uses_[id] > 0) name = Fresh(name + "_T");
    const int64_t k = dims[0], n = dims[1];
    for (int64_t i = 0; i < k; ++i) {
      for (int64_t j = 0; j < n; ++j) data[j * k + i] = t.data[i * n + j];
    }
    dims = {n, k};
  }
  onnx_internal::WriteFloatTensor(name, dims, data, g_.dtype,
                                  gp_->add_initializer());
  return cache_[key] = name;
}

// An INT64 initializer holding a Reshape's target shape, one per shape.
std::string Exporter::ReshapeTarget(const std::vector<int64_t>& dims) {
  const std::string key =
      fmt::format("r:{}", fmt::join(dims.begin(), dims.end(), "_"));
  auto it = cache_.find(key);
  if (it != cache_.end()) return it->second;
  std::string base = "shape";
  for (int64_t d : dims) base += d < 0 ? "_N" : fmt::format("_{}", d);
  const std::string name = Fresh(base);
  onnx_internal::WriteInt64Tensor(name, dims, gp_->add_initializer());
  return cache_[key] = name;
}

std::string Exporter::Axes(const std::vector<int64_t>& axes) {
  const std::string key =
      fmt::format("a:{}", fmt::join(axes.begin(), axes.end(), "_"));
  auto it = cache_.find(key);
  if (it != cache_.end()) return it->second;
  const std::string name =
      Fresh(fmt::format("axes_{}", fmt::join(axes.begin(), axes.end(), "_")));
  onnx_internal::WriteInt64Tensor(name, axes, gp_->add_initializer());
  return cache_[key] = name;
}

// Value `id` with `count` unit dims inserted at `first_axis`.
std::string Exporter::Unsqueezed(int id, int64_t first_axis, int64_t count) {
  const std::string key = fmt::format("u:{}:{}:{}", id, first_axis, count);
  auto it = cache_.find(key);
  if (it != cache_.end()) return it->second;
  std::vector<int64_t> axes;
  for (int64_t i = 0; i < count; ++i) axes.push_back(first_axis + i);
  const std::string input = g_.values[id].kind == ir::ValueKind::kConstant
                                ? Constant(id, false)
                                : Name(id);
  const std::string name = Fresh(Name(id) + "/unsqueeze");
  AddNode("Unsqueeze", name, {input, Axes(axes)}, name);
  return cache_[key] = name;
}

// Value `id` as an operand of a broadcast whose per-row rank is `rank`: a
// row value of lower rank gets unit dims after the batch, so that ONNX's
// broadcasting (trailing dims first) lines batch up with batch.
std::string Exporter::Operand(int id, size_t rank) {
  if (g_.values[id].kind == ir::ValueKind::kConstant)
    return Constant(id, false);
  if (!batched_[id] || Rank(id) >= rank) return Name(id);
  return Unsqueezed(id, 1, static_cast<int64_t>(rank - Rank(id)));
}

void Exporter::EmitConcat(const ir::Node& node) {
  const size_t rank = Rank(node.inputs[0]);
  const bool batched = batched_[node.output];
  std::vector<std::string> inputs;
  for (int in : node.inputs) {
    if (batched_[in] != batched) {
      Fail(
          "node '{}' (CONCAT) joins '{}', which does not depend on the rows, "
          "with row values; ONNX constants have no batch dim to join along",
          node.name, Name(in));
    }
    // Scalars stack: each becomes a 1-vector first.
    inputs.push_back(rank == 0 ? Unsqueezed(in, batched ? 1 : 0, 1)
                               : Operand(in, 0));
  }
  const int64_t axis =
      rank == 0 ? 0 : ir::NormalizeAxis(node.axis, static_cast<int64_t>(rank));
  onnx::NodeProto* out =
      AddNode("Concat", node.name, inputs, Name(node.output));
  AddIntAttr(out, "axis", axis + (batched ? 1 : 0));
}

void Exporter::Emit(int index) {
  if (absorbed_[index]) return;
  const ir::Node& node = g_.nodes[index];
  const std::string out = Name(node.output);
  const int in = node.inputs[0];
  switch (node.op) {
    case OpKind::kMultiply:
    case OpKind::kAdd: {
      const size_t rank = g_.values[node.output].shape.size();
      AddNode(node.op == OpKind::kAdd ? "Add" : "Mul", node.name,
              {Operand(node.inputs[0], rank), Operand(node.inputs[1], rank)},
              out);
      return;
    }
    case OpKind::kSum: {
      if (matmul_[index] >= 0) {
        const ir::Node& mul = g_.nodes[matmul_[index]];
        int x = mul.inputs[0], w = mul.inputs[1];
        if (!batched_[x] || g_.values[x].kind == ir::ValueKind::kConstant)
          std::swap(x, w);
        AddNode("MatMul", mul.name, {Name(x), Constant(w, Rank(w) == 2)}, out);
        return;
      }
      const int64_t axis =
          ir::NormalizeAxis(node.axis, static_cast<int64_t>(Rank(in)));
      onnx::NodeProto* n =
          AddNode("ReduceSum", node.name,
                  {Operand(in, 0), Axes({axis + (batched_[in] ? 1 : 0)})}, out);
      AddIntAttr(n, "keepdims", 0);
      return;
    }
    case OpKind::kActivation:
      break;
    case OpKind::kConcat:
      EmitConcat(node);
      return;
    case OpKind::kReshape: {
      // A row value keeps its batch dim first (-1); a constant has none.
      std::vector<int64_t> dims;
      if (batched_[in]) dims.push_back(-1);
      for (int64_t d : node.shape) dims.push_back(d);
      AddNode("Reshape", node.name, {Operand(in, 0), ReshapeTarget(dims)}, out);
      return;
    }
  }
  EmitActivation(node);
}

// An activation as its ONNX op where opset kOpset has one, else as its
// expansion (tools/onnx/activations.h).
void Exporter::EmitActivation(const ir::Node& node) {
  const onnx_internal::OnnxActivation& row =
      onnx_internal::GetOnnxActivation(node.activation);
  const ir::ActivationInfo& info = ir::GetActivation(node.activation);
  const std::string x = Operand(node.inputs[0], 0);
  const std::string out = Name(node.output);
  if (node.activation == ir::Activation::kClip) {
    // Opset 13's Clip takes its bounds as inputs (in the graph's dtype, so
    // exact), not as attributes.
    AddNode("Clip", node.name, {x, Scalar(node.alpha), Scalar(node.beta)}, out);
    if (g_.dtype == ir::DType::kF32) {
      SaveExactParam(ir::ActivationParam::kAlpha, node.alpha, out);
      SaveExactParam(ir::ActivationParam::kBeta, node.beta, out);
    }
    return;
  }
  if (node.activation == ir::Activation::kLayerNorm) {
    EmitLayerNorm(node, x, out);
    return;
  }
  if (row.op.empty() || row.since_opset > kOpset) {
    RF_CHECK(row.expansion != nullptr);
    Expand(*row.expansion, x, out, node.name, /*root=*/true);
    return;
  }
  onnx::NodeProto* n = AddNode(std::string(row.op), node.name, {x}, out);
  if (info.shape == ir::ActivationShape::kLastAxis) AddIntAttr(n, "axis", -1);
  if (!row.approximate.empty()) {
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name("approximate");
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(std::string(row.approximate));
  }
  for (ir::ActivationParam param : ir::kActivationParams) {
    if (!info.Default(param)) continue;
    const double v = ir::ParamValue(node, param);
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name(std::string(ir::ParamName(param)));
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(static_cast<float>(v));
    SaveExactParam(param, v, out);
  }
}

// ONNX holds `v` as a float (an attribute, or a constant of an F32 graph):
// the double itself goes to the metadata, where the importer finds it.
void Exporter::SaveExactParam(ir::ActivationParam param, double v,
                              const std::string& out) {
  if (static_cast<double>(static_cast<float>(v)) == v) return;
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  (void)ec;  // 32 bytes hold any double
  auto* prop = model_.add_metadata_props();
  prop->set_key(onnx_internal::ExactParamKey(param, out));
  prop->set_value(std::string(buf, end));
}

// LayerNormalization is an op of opset 17: at opset 13, the pattern
// PyTorch's exporters write (tools/onnx/norm_pattern.cc), which the
// importer reads back as one LAYER_NORM. (x - mean) is squared as Mul(d,
// d), exact where Pow need not be.
void Exporter::EmitLayerNorm(const ir::Node& node, const std::string& x,
                             const std::string& out) {
  const auto mean = [&](const std::string& in, const std::string& what) {
    const std::string v = Fresh(out + "/" + what);
    onnx::NodeProto* n = AddNode("ReduceMean", v, {in}, v);
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name("axes");
    a->set_type(onnx::AttributeProto::INTS);
    a->add_ints(-1);
    AddIntAttr(n, "keepdims", 1);
    return v;
  };
  const auto op = [&](const char* type, const std::vector<std::string>& in) {
    const std::string v = Fresh(out + "/" + type);
    AddNode(type, v, in, v);
    return v;
  };
  const std::string d = op("Sub", {x, mean(x, "mean")});
  const std::string var = mean(op("Mul", {d, d}), "var");
  const std::string sd = op("Sqrt", {op("Add", {var, Scalar(node.alpha)})});
  AddNode("Div", node.name, {d, sd}, out);
  if (g_.dtype == ir::DType::kF32)
    SaveExactParam(ir::ActivationParam::kAlpha, node.alpha, out);
}

// Writes `e` of ONNX value `x` and returns the value it computes; the
// `root` expression's last node is `name`, writing `out`.
std::string Exporter::Expand(const onnx_internal::Expr& e, const std::string& x,
                             const std::string& out, const std::string& name,
                             bool root) {
  using Kind = onnx_internal::Expr::Kind;
  // Inner nodes are named after their output, "<out>/<Op>".
  auto node = [&](const std::string& op, const std::vector<std::string>& inputs,
                  bool last) {
    const std::string value = last ? out : Fresh(out + "/" + op);
    AddNode(op, last ? name : value, inputs, value);
    return value;
  };
  switch (e.kind) {
    case Kind::kX:
      return x;
    case Kind::kConst:
      return Scalar(e.value);
    case Kind::kAlt:
      return Expand(e.args[0], x, out, name, root);
    case Kind::kOp: {
      std::vector<std::string> inputs;
      for (const onnx_internal::Expr& a : e.args)
        inputs.push_back(Expand(a, x, out, name, false));
      return node(e.op, inputs, root);
    }
    case Kind::kMul:
    case Kind::kAdd: {
      const std::string op = e.kind == Kind::kMul ? "Mul" : "Add";
      std::string acc = Expand(e.args[0], x, out, name, false);
      for (size_t i = 1; i < e.args.size(); ++i) {
        const std::string next = Expand(e.args[i], x, out, name, false);
        acc = node(op, {acc, next}, root && i + 1 == e.args.size());
      }
      return acc;
    }
  }
  RF_CHECK(false);
  return "";
}

// A scalar initializer holding `v` in the graph's dtype, one per value.
std::string Exporter::Scalar(double v) {
  if (g_.dtype == ir::DType::kF32) v = static_cast<float>(v);
  const std::string key = fmt::format("s:{}", v);
  auto it = cache_.find(key);
  if (it != cache_.end()) return it->second;
  const std::string name = Fresh(fmt::format("const_{}", v));
  onnx_internal::WriteFloatTensor(name, {}, {v}, g_.dtype,
                                  gp_->add_initializer());
  return cache_[key] = name;
}

void Exporter::AddValueInfo(int id, onnx::ValueInfoProto* vi) {
  vi->set_name(Name(id));
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx_internal::ElemType(g_.dtype));
  auto* shape = tt->mutable_shape();
  shape->add_dim()->set_dim_param(kBatchDim);
  for (int64_t d : g_.values[id].shape) shape->add_dim()->set_dim_value(d);
}

onnx::ModelProto Exporter::Run() {
  for (const ir::Value& v : g_.values) names_.insert(v.name);
  for (const ir::Node& node : g_.nodes) names_.insert(node.name);
  Analyze();
  model_.set_ir_version(kIrVersion);
  model_.set_producer_name("rowflow");
  model_.set_producer_version("0.1");
  auto* opset = model_.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpset);
  gp_->set_name(g_.name);
  for (const auto& [key, value] : g_.metadata) {
    auto* prop = model_.add_metadata_props();
    prop->set_key(key);
    prop->set_value(value);
  }
  for (int id : g_.inputs) AddValueInfo(id, gp_->add_input());
  for (size_t i = 0; i < g_.nodes.size(); ++i) Emit(static_cast<int>(i));
  for (int id : g_.outputs) {
    if (!batched_[id]) {
      Fail(
          "output '{}' does not depend on the rows; ONNX outputs carry the "
          "batch dim, so a constant output cannot be exported",
          Name(id));
    }
    AddValueInfo(id, gp_->add_output());
  }
  return std::move(model_);
}

}  // namespace

std::string ExportOnnx(const ir::Graph& graph) {
  const onnx::ModelProto model = Exporter(graph).Run();
  const size_t size = model.ByteSizeLong();
  if (size > static_cast<size_t>(INT_MAX)) {
    Fail(
        "graph '{}' is {} bytes as ONNX; expected at most {} (protobuf's "
        "limit)",
        graph.name, size, INT_MAX);
  }
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    model.SerializeWithCachedSizes(&coded);
    RF_CHECK(!coded.HadError());
  }
  return out;
}

void SaveOnnx(const ir::Graph& graph, const std::string& path) {
  const std::string bytes = ExportOnnx(graph);
  AtomicFile file(path);
  file.Write(bytes.data(), bytes.size());
  file.Commit();
}

}  // namespace rowflow
