// The framework of the ONNX lowering: dispatch, inputs, attributes, names,
// constants; and the ops that only name values (Identity, Constant). Ops
// that compute are in onnx_lower_math.cc, reshapes in onnx_lower_shape.cc.
#include "tools/onnx/lower.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "graph/error.h"
#include "graph/validate.h"
#include "tools/onnx/activations.h"

namespace rowflow::onnx_internal {

using onnx::AttributeProto;

bool IsOnesThen(const ir::Shape& logical, const ir::Shape& shape) {
  if (shape.size() > logical.size()) return false;
  const size_t lead = logical.size() - shape.size();
  for (size_t i = 0; i < logical.size(); ++i) {
    if (i < lead ? logical[i] != 1 : logical[i] != shape[i - lead])
      return false;
  }
  return true;
}

Lowering::Lowering(GraphBuilder& builder, ir::DType dtype,
                   std::set<std::string> reserved,
                   std::map<std::string, double> exact_params,
                   int64_t budget_bytes)
    : builder_(builder),
      dtype_(dtype),
      reserved_(std::move(reserved)),
      exact_params_(std::move(exact_params)),
      budget_bytes_(budget_bytes) {}

void Lowering::AddInput(const std::string& name, ir::Shape shape) {
  RowValue row{builder_.Input(name, shape), name, shape, shape, true};
  values_[name] = Entry{nullptr, std::move(row)};
}

void Lowering::AddConstant(HostTensor tensor) {
  std::string name = tensor.name;
  values_[name] =
      Entry{std::make_shared<const HostTensor>(std::move(tensor)), {}};
}

std::string SupportedOps() {
  return "MatMul, Gemm, Add, Mul, ReduceSum, Flatten (of a flat input), "
         "Concat, Unsqueeze, Constant, " +
         ActivationOpList();
}

void Lowering::Lower(const onnx::NodeProto& node, int64_t opset) {
  using Handler = void (*)(Lowering&);
  // Identity only renames (it is no ACTIVATION node); the other activation
  // ops are tools/onnx/activations.h's.
  static const std::map<std::string_view, Handler> kOps = {
      {"Add", [](Lowering& l) { l.Elementwise(ir::OpKind::kAdd); }},
      {"Mul", [](Lowering& l) { l.Elementwise(ir::OpKind::kMultiply); }},
      {"MatMul", [](Lowering& l) { l.MatMul(); }},
      {"Gemm", [](Lowering& l) { l.Gemm(); }},
      {"ReduceSum", [](Lowering& l) { l.ReduceSum(); }},
      {"Identity", [](Lowering& l) { l.Identity(); }},
      {"Flatten", [](Lowering& l) { l.Flatten(); }},
      {"Concat", [](Lowering& l) { l.Concat(); }},
      {"Unsqueeze", [](Lowering& l) { l.Unsqueeze(); }},
      {"Constant", [](Lowering& l) { l.Constant(); }},
      {"Clip", [](Lowering& l) { l.Clip(); }},
      {"LayerNormalization", [](Lowering& l) { l.LayerNormalization(); }},
  };
  node_ = &node;
  opset_ = opset;
  auto it = kOps.find(node.op_type());
  const bool activation = it == kOps.end() && IsActivationOp(node.op_type());
  if (it == kOps.end() && !activation)
    Fail("not supported; rowflow imports {}", SupportedOps());
  if (node.output_size() != 1 || node.output(0).empty()) {
    Fail("has {} outputs; expected 1", node.output_size());
  }
  out_ = node.output(0);
  if (activation) {
    Activation();
  } else {
    it->second(*this);
  }
}

void Lowering::LowerExpansion(const onnx::NodeProto& node, int64_t opset,
                              const FoundExpansions::Found& found) {
  node_ = &node;
  opset_ = opset;
  out_ = node.output(0);
  auto it = values_.find(found.x);
  RF_CHECK(it != values_.end());  // the importer checked every input first
  if (it->second.tensor) {
    Fail(
        "computes {} of '{}', a constant; expected a value computed from the "
        "rows (rowflow does not fold constant subgraphs)",
        ir::ActivationName(found.act), found.x);
  }
  if (found.act == ir::Activation::kLayerNorm) {
    CheckLastAxis(it->second.row, found.axis);
  }
  std::optional<double> alpha = found.alpha;
  if (alpha) alpha = ExactParam(ir::ActivationParam::kAlpha, *alpha);
  Activate(it->second.row, found.act, alpha, std::nullopt);
}

void Lowering::Output(const std::string& name) {
  auto it = values_.find(name);
  if (it == values_.end()) {
    Fail(
        "graph output '{}' is not defined; expected a graph input, an "
        "initializer or a node output",
        name);
  }
  if (it->second.tensor) {
    Fail(
        "graph output '{}' is a constant; rowflow outputs values computed from "
        "the rows",
        name);
  }
  if (!output_names_.insert(name).second) {
    Fail("graph output '{}' is listed twice", name);
  }
  const RowValue& row = it->second.row;
  // An alias (Identity, Flatten, ...) keeps the output's ONNX name.
  builder_.Output(row.name == name
                      ? row.ref
                      : builder_.Activation(row.ref, ir::Activation::kIdentity,
                                            std::nullopt, name));
}

// --- inputs and attributes of the current node ------------------------------

bool Lowering::HasInput(int i) const {
  return i < node_->input_size() && !node_->input(i).empty();
}

const Lowering::Entry& Lowering::In(int i) const {
  if (!HasInput(i)) Fail("input {} is missing", i);
  auto it = values_.find(node_->input(i));
  RF_CHECK(it != values_.end());  // the importer checked every input first
  return it->second;
}

const RowValue& Lowering::Row(int i) const {
  const Entry& e = In(i);
  if (e.tensor) {
    Fail(
        "input {} ('{}') is a constant; expected a value computed from the "
        "rows (rowflow does not fold constant subgraphs)",
        i, node_->input(i));
  }
  return e.row;
}

const HostTensor& Lowering::Const(int i) const {
  const Entry& e = In(i);
  if (!e.tensor) {
    Fail(
        "input {} ('{}') is computed from the rows; rowflow needs a constant "
        "(an initializer or a Constant node) here",
        i, node_->input(i));
  }
  return *e.tensor;
}

const HostTensor& Lowering::FloatConst(int i) const {
  const HostTensor& t = Const(i);
  if (t.is_int) {
    Fail("input {} ('{}') holds integers; expected FLOAT or DOUBLE", i,
         node_->input(i));
  }
  return t;
}

std::vector<int64_t> Lowering::IntsInput(int i) const {
  const HostTensor& t = Const(i);
  if (!t.is_int || t.dims.size() > 1) {
    Fail("input {} ('{}') must be a 1-D INT64 tensor of axes; got shape {}{}",
         i, node_->input(i), ir::ShapeToString(t.dims),
         t.is_int ? "" : " of floats");
  }
  return t.ints;
}

void Lowering::Arity(int min, int max) const {
  int n = node_->input_size();
  while (n > 0 && node_->input(n - 1).empty()) --n;  // omitted optional inputs
  if (n < min || (max >= 0 && n > max)) {
    if (min == max) Fail("has {} inputs; expected {}", n, min);
    if (max < 0) Fail("has {} inputs; expected at least {}", n, min);
    Fail("has {} inputs; expected {} to {}", n, min, max);
  }
}

void Lowering::KnownAttrs(const std::vector<std::string_view>& names) const {
  for (const AttributeProto& a : node_->attribute()) {
    if (std::find(names.begin(), names.end(), a.name()) == names.end()) {
      Fail("attribute '{}' is not supported; rowflow reads {}", a.name(),
           names.size() == 0 ? "none for this op"
                             : fmt::format("{}", fmt::join(names.begin(),
                                                           names.end(), ", ")));
    }
  }
}

const AttributeProto* Lowering::Attr(std::string_view name, int type) const {
  for (const AttributeProto& a : node_->attribute()) {
    if (a.name() != name) continue;
    if (a.type() != type) {
      Fail("attribute '{}' has type {}; expected {}", a.name(),
           AttributeProto::AttributeType_Name(a.type()),
           AttributeProto::AttributeType_Name(
               static_cast<AttributeProto::AttributeType>(type)));
    }
    return &a;
  }
  return nullptr;
}

int64_t Lowering::IntAttr(std::string_view name, int64_t fallback) const {
  const AttributeProto* a = Attr(name, AttributeProto::INT);
  return a ? a->i() : fallback;
}

std::string Lowering::StringAttr(std::string_view name,
                                 const std::string& fallback) const {
  const AttributeProto* a = Attr(name, AttributeProto::STRING);
  return a ? a->s() : fallback;
}

double Lowering::FloatAttr(std::string_view name, double fallback) const {
  const AttributeProto* a = Attr(name, AttributeProto::FLOAT);
  return a ? static_cast<double>(a->f()) : fallback;
}

int64_t Lowering::NormalizeAxis(int64_t axis, int64_t rank,
                                const char* what) const {
  if (axis < -rank || axis >= rank) {
    Fail("{} {} is out of range for {} dims (batch included); expected {}..{}",
         what, axis, rank, -rank, rank - 1);
  }
  return axis < 0 ? axis + rank : axis;
}

// --- names and values --------------------------------------------------------

std::string Lowering::Fresh(const std::string& base) {
  std::string name = base;
  for (int i = 1; !reserved_.insert(name).second; ++i)
    name = fmt::format("{}_{}", base, i);
  return name;
}

// The node's own name suits the first rowflow node it adds besides its
// output (MatMul's MULTIPLY), as long as no value has that name.
std::string Lowering::InnerName(const std::string& suffix) {
  if (!node_->name().empty() && reserved_.insert(node_->name()).second) {
    return node_->name();
  }
  return Fresh(out_ + suffix);
}

void Lowering::Define(const std::string& name, RowValue row) {
  if (row.logical.size() > static_cast<size_t>(kMaxRank)) {
    Fail(
        "the result has shape {} per row; rowflow values have at most {} dims "
        "besides the batch",
        ir::ShapeToString(row.logical), kMaxRank);
  }
  RF_CHECK(IsOnesThen(row.logical, row.shape));
  values_[name] = Entry{nullptr, std::move(row)};
}

ValueRef Lowering::Materialize(const HostTensor& t, const std::string& variant,
                               const ir::Shape& shape,
                               std::vector<double> data) {
  if (t.dtype != dtype_) {
    Fail(
        "constant '{}' is {} but the model's inputs are {}; expected one "
        "element type throughout",
        t.name, ElemTypeName(ElemType(t.dtype)),
        ElemTypeName(ElemType(dtype_)));
  }
  const std::string key =
      fmt::format("{}\n{}\n{}", static_cast<const void*>(&t), variant,
                  ir::ShapeToString(shape));
  auto it = constants_.find(key);
  if (it != constants_.end()) return it->second;
  // The first rowflow constant made from a tensor keeps its name.
  const std::string name =
      named_.insert(&t).second
          ? t.name
          : Fresh(variant.empty() ? t.name : t.name + "/" + variant);
  ValueRef ref = builder_.Constant(name, shape, std::move(data));
  constants_.emplace(key, ref);
  return ref;
}

void Lowering::Identity() {
  KnownAttrs({});
  Arity(1, 1);
  values_[out_] = In(0);
}

void Lowering::Constant() {
  KnownAttrs(
      {"value", "value_float", "value_floats", "value_int", "value_ints"});
  Arity(0, 0);
  if (node_->attribute_size() != 1) {
    Fail("has {} attributes; expected exactly one value",
         node_->attribute_size());
  }
  const AttributeProto& a = node_->attribute(0);
  HostTensor t;
  if (a.name() == "value") {
    t = ReadTensor(Attr("value", AttributeProto::TENSOR)->t(), "value",
                   &budget_bytes_);
  } else if (a.name() == "value_float") {
    t.values = {FloatAttr("value_float", 0)};
  } else if (a.name() == "value_floats") {
    const auto& f = Attr("value_floats", AttributeProto::FLOATS)->floats();
    t.values.assign(f.begin(), f.end());
    t.dims = {static_cast<int64_t>(t.values.size())};
  } else if (a.name() == "value_int") {
    t.is_int = true;
    t.ints = {IntAttr("value_int", 0)};
  } else {
    const auto& i = Attr("value_ints", AttributeProto::INTS)->ints();
    t.is_int = true;
    t.ints.assign(i.begin(), i.end());
    t.dims = {static_cast<int64_t>(t.ints.size())};
  }
  t.name = out_;
  AddConstant(std::move(t));
}

}  // namespace rowflow::onnx_internal
