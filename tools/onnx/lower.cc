// The framework of the ONNX lowering: dispatch, inputs, attributes, names,
// constants; and the ops that only name values (Identity, Constant). Ops
// that compute are in onnx_lower_math.cc, reshapes in onnx_lower_shape.cc.
#include "tools/onnx/lower.h"

#include <fmt/format.h>

#include <algorithm>
#include <memory>
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

// The ops over row values: one handler each. Identity only renames (it is
// no ACTIVATION node); the other activation ops are
// tools/onnx/activations.h's.
const std::map<std::string_view, Lowering::Handler>& Lowering::Ops() {
  using L = Lowering;
  static const std::map<std::string_view, Handler> kOps = {
      {"Add", [](L& l) { l.Elementwise(BinaryOp::kAdd); }},
      {"Sub", [](L& l) { l.Elementwise(BinaryOp::kSub); }},
      {"Mul", [](L& l) { l.Elementwise(BinaryOp::kMul); }},
      {"Div", [](L& l) { l.Elementwise(BinaryOp::kDiv); }},
      {"MatMul", [](L& l) { l.MatMul(); }},
      {"Gemm", [](L& l) { l.Gemm(); }},
      {"ReduceSum", [](L& l) { l.ReduceSum(); }},
      {"Identity", [](L& l) { l.Identity(); }},
      {"Flatten", [](L& l) { l.Flatten(); }},
      {"Concat", [](L& l) { l.Concat(); }},
      {"Unsqueeze", [](L& l) { l.Unsqueeze(); }},
      {"Squeeze", [](L& l) { l.Squeeze(); }},
      {"Reshape", [](L& l) { l.Reshape(); }},
      {"Transpose", [](L& l) { l.Transpose(); }},
      {"Cast", [](L& l) { l.Cast(); }},
      {"Dropout", [](L& l) { l.Dropout(); }},
      {"Constant", [](L& l) { l.Constant(); }},
      {"BatchNormalization", [](L& l) { l.BatchNormalization(); }},
      {"PRelu", [](L& l) { l.PRelu(); }},
      {"Selu", [](L& l) { l.Selu(); }},
      {"HardSwish", [](L& l) { l.HardSwish(); }},
      {"Clip", [](L& l) { l.Clip(); }},
      {"LayerNormalization", [](L& l) { l.LayerNormalization(); }},
  };
  return kOps;
}

bool Lowering::LowersRows(std::string_view op) {
  return Ops().count(op) > 0 || IsActivationOp(op);
}

void Lowering::Lower(const onnx::NodeProto& node, int64_t opset) {
  node_ = &node;
  opset_ = opset;
  const std::string& op = node.op_type();
  // Optional outputs left out at the end do not count.
  int outputs = node.output_size();
  while (outputs > 1 && node.output(outputs - 1).empty()) --outputs;
  if (op == "BatchNormalization" && outputs > 1) {
    Fail(
        "has {} outputs, the batch statistics of training mode; rowflow "
        "imports the inference form (output Y only)",
        outputs);
  }
  if (outputs < 1 || outputs > (op == "Dropout" ? 2 : 1) ||
      node.output(0).empty()) {
    Fail("has {} outputs; expected 1", node.output_size());
  }
  out_ = node.output(0);
  bool all_const = node.input_size() > 0;
  for (int i = 0; i < node.input_size(); ++i) {
    if (HasInput(i) && !IsConst(i)) all_const = false;
  }
  if (all_const && FoldsOnHost(op)) {
    Fold();
    return;
  }
  auto it = Ops().find(op);
  if (it != Ops().end()) {
    it->second(*this);
  } else if (IsActivationOp(op)) {
    Activation();
  } else if (FoldsOnHost(op)) {
    Fail(
        "reads a value computed from the rows; rowflow evaluates {} only on "
        "constants (on the host)",
        op);
  } else {
    RF_CHECK(false);  // the importer refused the op before lowering
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
        "rows (rowflow folds only {} of constants)",
        ir::ActivationName(found.act), found.x, FoldedOps());
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
  if (auto u = uncomputed_.find(name); u != uncomputed_.end()) {
    Fail("graph output '{}' is {}, which rowflow does not compute", name,
         u->second);
  }
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
  auto u = uncomputed_.find(node_->input(i));
  if (u != uncomputed_.end()) {
    Fail("input {} ('{}') is {}, which rowflow does not compute", i,
         node_->input(i), u->second);
  }
  auto it = values_.find(node_->input(i));
  RF_CHECK(it != values_.end());  // the importer checked every input first
  return it->second;
}

const RowValue& Lowering::Row(int i) const {
  const Entry& e = In(i);
  if (e.tensor) {
    Fail(
        "input {} ('{}') is a constant; expected a value computed from the "
        "rows (rowflow folds only {} of constants)",
        i, node_->input(i), FoldedOps());
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
    if (opset_ < 6 && a.name() == "consumed_inputs") continue;
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

ValueRef Lowering::Derived(const std::string& base, const ir::Shape& shape,
                           std::vector<double> data) {
  return builder_.Constant(Fresh(base), shape, std::move(data));
}

ValueRef Lowering::Negate(const RowValue& x, const std::string& name) {
  if (!minus_one_) {
    auto t = std::make_shared<HostTensor>();
    t->name = Fresh("minus_one");
    t->dtype = dtype_;
    t->values = {-1.0};
    minus_one_ = std::move(t);
  }
  return builder_.Multiply(x.ref, Materialize(*minus_one_, "", {}, {-1.0}),
                           name);
}

ir::Shape Lowering::LegacyBroadcast(const ir::Shape& dims, size_t rank) const {
  if (opset_ >= 7) return dims;
  if (IntAttr("broadcast", 0) == 0) {
    // Only a constant with a unit batch dim can match; the caller checks
    // that dim.
    if (dims.size() != rank) {
      Fail(
          "broadcast=0 (the default before opset 7) needs inputs of one "
          "shape, batch included; constant input 1 has shape {}",
          ir::ShapeToString(dims));
    }
    return dims;
  }
  // broadcast=1: input 1's dims line up with input 0's from `axis` on
  // (the trailing dims when there is no axis).
  const auto r = static_cast<int64_t>(rank);
  const auto m = static_cast<int64_t>(dims.size());
  const int64_t axis = NormalizeAxis(IntAttr("axis", r - m), r, "axis");
  if (axis + m > r) {
    Fail("axis {} with input 1 of shape {} runs past input 0's {} dims",
         IntAttr("axis", r - m), ir::ShapeToString(dims), r);
  }
  ir::Shape out = dims;
  out.resize(static_cast<size_t>(r - axis), 1);
  return out;
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
