// Shape rules of every operator (table-driven over the schemas) and
// Validate() on hand-built IR, which must be checked as carefully as a file.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "graph/activation.h"
#include "graph/builder.h"
#include "graph/error.h"
#include "graph/ir.h"
#include "graph/op_schema.h"
#include "graph/serialize.h"
#include "graph/validate.h"

namespace rowflow {
namespace {

using ir::Activation;
using ir::OpKind;
using ir::Shape;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;

// ---- Shape rules. ----

struct InferCase {
  OpKind op;
  std::vector<Shape> inputs;
  int64_t axis;
  Activation activation;
  std::optional<Shape> out;  // nullopt: refused with `error` in the message
  const char* error;
};

// `schema` refuses `node` on `inputs` with a model error containing `error`.
void ExpectInferRefused(const ir::OpSchema& schema, const ir::Node& node,
                        std::span<const Shape* const> inputs,
                        const std::string& error) {
  try {
    schema.infer(node, inputs);
    ADD_FAILURE() << "not refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kModel);
    EXPECT_THAT(e.what(), HasSubstr(error));
  }
}

TEST(OpSchemaTest, InfersEveryOpShape) {
  const Activation kRelu = Activation::kRelu;
  const Activation kSoftmax = Activation::kSoftmax;
  const InferCase kCases[] = {
      {OpKind::kMultiply, {{2}, {3, 2}}, -1, kRelu, Shape{3, 2}, ""},
      {OpKind::kMultiply, {{}, {3}}, -1, kRelu, Shape{3}, ""},
      {OpKind::kMultiply, {{3, 1}, {1, 2}}, -1, kRelu, Shape{3, 2}, ""},
      {OpKind::kMultiply,
       {{2}, {3}},
       -1,
       kRelu,
       std::nullopt,
       "shapes [2] and [3] do not broadcast"},
      {OpKind::kAdd, {{4}, {4}}, -1, kRelu, Shape{4}, ""},
      {OpKind::kAdd,
       {{2, 3}, {3, 2}},
       -1,
       kRelu,
       std::nullopt,
       "do not broadcast"},
      {OpKind::kSum, {{3, 4}}, -1, kRelu, Shape{3}, ""},
      {OpKind::kSum, {{3, 4}}, 0, kRelu, Shape{4}, ""},
      {OpKind::kSum, {{5}}, -1, kRelu, Shape{}, ""},
      {OpKind::kSum, {{}}, -1, kRelu, std::nullopt, "cannot reduce a scalar"},
      {OpKind::kSum,
       {{3, 4}},
       2,
       kRelu,
       std::nullopt,
       "axis out of range for rank 2; expected -2..1, got 2"},
      {OpKind::kSum,
       {{2, 2, 2}},
       -1,
       kRelu,
       std::nullopt,
       "expected rank at most 2"},
      {OpKind::kActivation, {{}}, -1, kRelu, Shape{}, ""},
      {OpKind::kActivation, {{2, 3}}, -1, kSoftmax, Shape{2, 3}, ""},
      {OpKind::kActivation,
       {{}},
       -1,
       kSoftmax,
       std::nullopt,
       "SOFTMAX needs an axis"},
      {OpKind::kConcat, {{}, {}, {}}, -1, kRelu, Shape{3}, ""},
      {OpKind::kConcat, {{}, {}}, 0, kRelu, Shape{2}, ""},
      {OpKind::kConcat, {{}, {}}, 1, kRelu, std::nullopt, "axis out of range"},
      {OpKind::kConcat, {{2, 3}, {2, 4}}, -1, kRelu, Shape{2, 7}, ""},
      {OpKind::kConcat, {{2, 3}, {5, 3}}, 0, kRelu, Shape{7, 3}, ""},
      {OpKind::kConcat, {{4}}, -1, kRelu, Shape{4}, ""},
      {OpKind::kConcat,
       {{2}, {}},
       -1,
       kRelu,
       std::nullopt,
       "expected rank 1 with equal dims off the axis"},
      {OpKind::kConcat,
       {{}, {2}},
       -1,
       kRelu,
       std::nullopt,
       "cannot mix scalars and tensors"},
      {OpKind::kConcat,
       {{2, 3}, {3, 3}},
       -1,
       kRelu,
       std::nullopt,
       "got shapes [2, 3] and [3, 3]"},
  };
  for (const InferCase& c : kCases) {
    const ir::OpSchema& schema = ir::GetOpSchema(c.op);
    SCOPED_TRACE(std::string(schema.name) + " of " +
                 std::to_string(c.inputs.size()) + " inputs, first " +
                 ir::ShapeToString(c.inputs[0]));
    ir::Node node;
    node.op = c.op;
    node.axis = c.axis;
    node.activation = c.activation;
    std::vector<const Shape*> inputs;
    for (const Shape& s : c.inputs) inputs.push_back(&s);
    if (c.out) {
      EXPECT_EQ(schema.infer(node, inputs), *c.out);
      continue;
    }
    ExpectInferRefused(schema, node, inputs, c.error);
  }
}

TEST(OpSchemaTest, TableMatchesOpNamesAndArity) {
  const auto schemas = ir::AllOpSchemas();
  for (size_t i = 0; i < schemas.size(); ++i) {
    const OpKind op = static_cast<OpKind>(i);
    const ir::OpSchema& schema = ir::GetOpSchema(op);
    EXPECT_EQ(schema.kind, op);
    EXPECT_EQ(schema.name, ir::OpName(op));
    EXPECT_EQ(ir::FindOpSchema(schema.name), &schema);
    EXPECT_TRUE(ir::IsKnownOp(op));
  }
  EXPECT_FALSE(ir::IsKnownOp(static_cast<OpKind>(schemas.size())));
  EXPECT_EQ(ir::OpName(static_cast<OpKind>(schemas.size())), "?");
  EXPECT_EQ(ir::FindOpSchema("multiply"), nullptr);
  EXPECT_EQ(ir::OpNameList(),
            "MULTIPLY, ADD, SUM, ACTIVATION, CONCAT, RESHAPE");
  EXPECT_EQ(ir::GetOpSchema(OpKind::kAdd).max_inputs, 2);
  EXPECT_EQ(ir::GetOpSchema(OpKind::kSum).max_inputs, 1);
  EXPECT_EQ(ir::GetOpSchema(OpKind::kConcat).min_inputs, 1);
  EXPECT_EQ(ir::GetOpSchema(OpKind::kConcat).max_inputs, -1);
  EXPECT_EQ(ir::GetOpSchema(OpKind::kSum).attributes, ir::kAxisAttribute);
  EXPECT_EQ(ir::GetOpSchema(OpKind::kActivation).attributes,
            ir::kActivationAttribute);
  EXPECT_EQ(ir::GetOpSchema(OpKind::kMultiply).attributes, 0u);
  EXPECT_EQ(ir::GetOpSchema(OpKind::kReshape).attributes, ir::kShapeAttribute);
}

// Every operator of the table, with the attributes it reads set away from
// their defaults, survives the model file in both encodings: the file's op
// enum and the table meet by name, and each attribute the schema names is
// written. A new operator fails here until this graph uses it.
TEST(OpSchemaTest, EveryOpRoundTripsThroughTheModelFile) {
  GraphBuilder b("every_op");
  const auto x = b.Input("x", {2, 3});
  const auto w = b.Constant("w", {3}, {1, -2, 0.5});
  const auto s = b.Sum(b.Add(b.Multiply(x, w, "mul"), w, "add"), 0, "sum");
  const auto a = b.Activation(s, Activation::kLeakyRelu, 0.25, "act");
  b.Output(b.Reshape(b.Concat({a, s}, 0, "cat"), {2, 3}, "reshape"));
  const ir::Graph g = b.Build();
  std::vector<bool> used(ir::AllOpSchemas().size());
  for (const ir::Node& n : g.nodes) used[static_cast<size_t>(n.op)] = true;
  EXPECT_THAT(used, ::testing::Each(true))
      << "an operator is missing from this graph";
  for (Encoding encoding : {Encoding::kBinary, Encoding::kText}) {
    const ir::Graph again = ParseGraph(SerializeGraph(g, encoding), "every_op");
    ASSERT_EQ(again.nodes.size(), g.nodes.size());
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      EXPECT_EQ(again.nodes[i].op, g.nodes[i].op) << g.nodes[i].name;
      EXPECT_EQ(again.nodes[i].axis, g.nodes[i].axis) << g.nodes[i].name;
      EXPECT_EQ(again.nodes[i].activation, g.nodes[i].activation)
          << g.nodes[i].name;
      EXPECT_EQ(again.nodes[i].alpha, g.nodes[i].alpha) << g.nodes[i].name;
      EXPECT_EQ(again.nodes[i].shape, g.nodes[i].shape) << g.nodes[i].name;
    }
    EXPECT_EQ(again.values[again.outputs[0]].shape, (Shape{2, 3}));
  }
}

// RESHAPE's rule reads its own attribute: any layout of the same count.
TEST(OpSchemaTest, ReshapeKeepsTheElementCount) {
  struct Case {
    Shape in, to;
    const char* error;  // "" when accepted
  };
  const Case kCases[] = {
      {{2, 4}, {8}, ""},
      {{8}, {2, 4}, ""},
      {{2, 3}, {3, 2}, ""},
      {{}, {1, 1}, ""},
      {{1}, {1}, ""},
      {{2, 4},
       {7},
       "attribute 'shape' [7] does not hold the input's "
       "elements; expected 8 elements (input shape [2, 4]), got 7"},
      {{2}, {}, "attribute 'shape' is empty; expected rank 1 to 2"},
      {{8}, {2, 2, 2}, "attribute 'shape' has rank 3; expected at most 2"},
      {{8},
       {-8},
       "attribute 'shape' [-8] has dim -8 at 0; expected every "
       "dim >= 1"},
      {{2, 2, 2}, {8}, "expected rank at most 2"},
  };
  const ir::OpSchema& schema = ir::GetOpSchema(OpKind::kReshape);
  for (const Case& c : kCases) {
    SCOPED_TRACE(ir::ShapeToString(c.in) + " to " + ir::ShapeToString(c.to));
    ir::Node node;
    node.op = OpKind::kReshape;
    node.shape = c.to;
    const std::vector<const Shape*> inputs = {&c.in};
    if (*c.error == '\0') {
      EXPECT_EQ(schema.infer(node, inputs), c.to);
      continue;
    }
    ExpectInferRefused(schema, node, inputs, c.error);
  }
}

TEST(OpSchemaTest, BroadcastAndNormalizeAxis) {
  EXPECT_EQ(ir::BroadcastShapes({2}, {3, 2}), (Shape{3, 2}));
  EXPECT_EQ(ir::BroadcastShapes({2, 1}, {2}), (Shape{2, 2}));
  EXPECT_EQ(ir::BroadcastShapes({}, {}), Shape{});
  EXPECT_THROW(ir::BroadcastShapes({3}, {4, 2}), Error);
  EXPECT_EQ(ir::NormalizeAxis(-1, 2), 1);
  EXPECT_EQ(ir::NormalizeAxis(-2, 2), 0);
  EXPECT_EQ(ir::NormalizeAxis(1, 2), 1);
  EXPECT_THROW(ir::NormalizeAxis(2, 2), Error);
  EXPECT_THROW(ir::NormalizeAxis(-3, 2), Error);
  EXPECT_THROW(ir::NormalizeAxis(0, 0), Error);
  EXPECT_THROW(ir::NormalizeAxis(std::numeric_limits<int64_t>::min(), 2),
               Error);
}

// ---- Validate on hand-built IR. ----

int AddInput(ir::Graph& g, const std::string& name, Shape shape) {
  int id = static_cast<int>(g.values.size());
  g.values.push_back({name, ir::ValueKind::kInput,
                      static_cast<int>(g.inputs.size()), std::move(shape)});
  g.inputs.push_back(id);
  return id;
}

int AddConstant(ir::Graph& g, const std::string& name, Shape shape,
                std::vector<double> data) {
  int id = static_cast<int>(g.values.size());
  g.values.push_back({name, ir::ValueKind::kConstant,
                      static_cast<int>(g.constants.size()), shape});
  g.constants.push_back({id, std::move(shape), std::move(data)});
  return id;
}

// Adds node `name` defining value `name` + "_out"; returns that value's id.
int AddNode(ir::Graph& g, const std::string& name, OpKind op,
            std::vector<int> inputs, int64_t axis = -1,
            Activation act = Activation::kIdentity) {
  int id = static_cast<int>(g.values.size());
  g.values.push_back({name + "_out",
                      ir::ValueKind::kNode,
                      static_cast<int>(g.nodes.size()),
                      {}});
  ir::Node node;
  node.name = name;
  node.op = op;
  node.inputs = std::move(inputs);
  node.output = id;
  node.axis = axis;
  node.activation = act;
  g.nodes.push_back(std::move(node));
  return id;
}

// The seed's per-node form: two units over x: [2], then CONCAT and RELU.
ir::Graph SeedLayer() {
  ir::Graph g;
  int x = AddInput(g, "x", {2});
  int w0 = AddConstant(g, "w0", {2}, {2, 4});
  int w1 = AddConstant(g, "w1", {2}, {4, -5});
  int s0 = AddNode(g, "s0", OpKind::kSum,
                   {AddNode(g, "m0", OpKind::kMultiply, {x, w0})});
  int s1 = AddNode(g, "s1", OpKind::kSum,
                   {AddNode(g, "m1", OpKind::kMultiply, {x, w1})});
  int cat = AddNode(g, "cat", OpKind::kConcat, {s0, s1});
  g.outputs.push_back(
      AddNode(g, "act", OpKind::kActivation, {cat}, -1, Activation::kRelu));
  return g;
}

std::string Refusal(ir::Graph g, const ValidateOptions& options = {}) {
  try {
    Validate(g, options);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kModel);
    return e.what();
  }
  ADD_FAILURE() << "graph was accepted";
  return "";
}

// ---- The activation table. ----

// The names of `list` ("A, B and C").
std::vector<std::string> ListedNames(std::string list) {
  std::vector<std::string> names;
  for (size_t at; (at = list.find(" and ")) != std::string::npos;)
    list.replace(at, 5, ", ");
  for (size_t start = 0;;) {
    const size_t end = list.find(", ", start);
    names.push_back(list.substr(start, end - start));
    if (end == std::string::npos) return names;
    start = end + 2;
  }
}

// The rows and what is derived from them; then the contract the issue
// fixes for the rows it added: names, parameters and their defaults.
TEST(ActivationTableTest, RowsAreTheEnumWithTheDocumentedDefaults) {
  const auto rows = ir::AllActivations();
  std::vector<std::string> names;
  for (size_t i = 0; i < rows.size(); ++i) {
    const ir::ActivationInfo& row = rows[i];
    EXPECT_EQ(static_cast<size_t>(row.act), i) << row.name;
    EXPECT_EQ(row.proto_value, static_cast<int>(i)) << row.name;
    EXPECT_EQ(ir::ActivationName(row.act), row.name);
    EXPECT_EQ(ir::FindActivation(row.act), &row);
    EXPECT_EQ(ir::FindActivation(row.name), &row);
    EXPECT_FALSE(row.meaning.empty()) << row.name;
    names.emplace_back(row.name);
  }
  EXPECT_EQ(ListedNames(ir::ActivationNameList()), names);
  for (ir::ActivationParam param : ir::kActivationParams) {
    std::vector<std::string> taking;
    for (const ir::ActivationInfo& row : rows) {
      if (row.Default(param)) taking.emplace_back(row.name);
    }
    EXPECT_EQ(ListedNames(ir::ActivationsTaking(param)), taking);
  }
  for (const char* name :
       {"IDENTITY", "RELU", "TANH", "SIGMOID", "LEAKY_RELU", "SOFTPLUS",
        "SOFTMAX", "ELU", "GELU", "GELU_TANH", "SILU", "HARD_SIGMOID",
        "LOG_SOFTMAX", "CLIP", "ERF", "LAYER_NORM"}) {
    EXPECT_NE(ir::FindActivation(name), nullptr) << name;
  }
  for (Activation act :
       {Activation::kLeakyRelu, Activation::kElu, Activation::kHardSigmoid}) {
    EXPECT_TRUE(ir::GetActivation(act).alpha.has_value());
  }
  for (Activation act : {Activation::kGelu, Activation::kGeluTanh,
                         Activation::kSilu, Activation::kLogSoftmax}) {
    EXPECT_FALSE(ir::GetActivation(act).alpha.has_value());
    EXPECT_FALSE(ir::GetActivation(act).beta.has_value());
  }
  EXPECT_EQ(ir::GetActivation(Activation::kLeakyRelu).alpha, 0.01);
  EXPECT_EQ(ir::GetActivation(Activation::kElu).alpha, 1.0);
  EXPECT_EQ(ir::GetActivation(Activation::kHardSigmoid).alpha, 0.2);
  EXPECT_EQ(ir::GetActivation(Activation::kHardSigmoid).beta, 0.5);
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(ir::GetActivation(Activation::kClip).alpha, -inf);
  EXPECT_EQ(ir::GetActivation(Activation::kClip).beta, inf);
  EXPECT_EQ(ir::GetActivation(Activation::kLayerNorm).alpha, 1e-5);
  EXPECT_FALSE(ir::GetActivation(Activation::kLayerNorm).beta.has_value());
  EXPECT_FALSE(ir::GetActivation(Activation::kErf).alpha.has_value());
  for (Activation act : {Activation::kSoftmax, Activation::kLogSoftmax,
                         Activation::kLayerNorm}) {
    EXPECT_EQ(ir::GetActivation(act).shape, ir::ActivationShape::kLastAxis);
  }
  const auto past = static_cast<Activation>(rows.size());
  EXPECT_EQ(ir::FindActivation(past), nullptr);
  EXPECT_EQ(ir::FindActivation("RELUU"), nullptr);
  EXPECT_EQ(ir::ActivationName(past), "?");
}

// A graph x: [2, 3] -> ACTIVATION(act, alpha, beta) -> y.
ir::Graph OneActivation(Activation act, double alpha, double beta,
                        Shape shape = {2, 3}) {
  ir::Graph g;
  g.values.push_back({"x", ir::ValueKind::kInput, 0, std::move(shape)});
  g.inputs.push_back(0);
  g.values.push_back({"y", ir::ValueKind::kNode, 0, {}});
  ir::Node node;
  node.name = "act";
  node.op = OpKind::kActivation;
  node.inputs = {0};
  node.output = 1;
  node.activation = act;
  node.alpha = alpha;
  node.beta = beta;
  g.nodes.push_back(node);
  g.outputs.push_back(1);
  return g;
}

TEST(ActivationTableTest, ShapeRuleOfEveryActivation) {
  for (const ir::ActivationInfo& row : ir::AllActivations()) {
    ir::Graph g = OneActivation(row.act, 0.25, 0.75);
    Validate(g);
    EXPECT_EQ(g.values[1].shape, (Shape{2, 3})) << row.name;
    ir::Graph scalar = OneActivation(row.act, 0.25, 0.75, Shape{});
    if (row.shape == ir::ActivationShape::kElementwise) {
      EXPECT_NO_THROW(Validate(scalar)) << row.name;
    } else {
      EXPECT_EQ(Refusal(scalar),
                fmt::format("node 'act' (ACTIVATION): {} needs an axis to "
                            "normalize over; expected an input of rank >= 1, "
                            "got shape []",
                            row.name));
    }
  }
}

TEST(ActivationTableTest, ValidateRefusesNonFiniteParametersItReads) {
  const double kBad[] = {std::nan(""), -std::nan(""),
                         std::numeric_limits<double>::infinity(),
                         -std::numeric_limits<double>::infinity()};
  for (const ir::ActivationInfo& row : ir::AllActivations()) {
    for (ir::ActivationParam param : ir::kActivationParams) {
      for (double bad : kBad) {
        ir::Graph g = OneActivation(row.act, 0.25, 0.75);
        ir::ParamValue(g.nodes[0], param) = bad;
        if (!row.Default(param)) {
          // Not read by this activation, not saved: nothing to refuse.
          EXPECT_NO_THROW(Validate(g)) << row.name;
          continue;
        }
        if (row.rule == ir::ParamRule::kOrderedBounds && !std::isnan(bad)) {
          // CLIP's bounds may be infinite (Clip with only a max): the
          // order check alone applies.
          const bool ordered = g.nodes[0].alpha <= g.nodes[0].beta;
          if (ordered) {
            EXPECT_NO_THROW(Validate(g)) << row.name;
          } else {
            EXPECT_THAT(Refusal(g), HasSubstr("is above beta"));
          }
          continue;
        }
        const char* must = row.rule == ir::ParamRule::kFinite ? "finite"
                           : row.rule == ir::ParamRule::kNonNegative
                               ? "finite and >= 0"
                               : "a number or +-inf";
        EXPECT_EQ(Refusal(g),
                  fmt::format("node 'act' (ACTIVATION): {} {} must be {}; "
                              "got {}",
                              row.name, ir::ParamName(param), must,
                              ir::NumberToString(bad)));
      }
    }
  }
  const auto next = static_cast<int>(ir::AllActivations().size());
  EXPECT_EQ(Refusal(OneActivation(static_cast<Activation>(next), 0.25, 0.75)),
            fmt::format("node 'act' (ACTIVATION): unknown activation {}; "
                        "expected one of {}",
                        next, ir::ActivationNameList()));
}

TEST(ActivationTableTest, ClipBoundsAndLayerNormEpsilonAreChecked) {
  const double inf = std::numeric_limits<double>::infinity();
  const auto Validate = [](ir::Graph g) { rowflow::Validate(g); };
  EXPECT_NO_THROW(Validate(OneActivation(Activation::kClip, 0, 6)));
  EXPECT_NO_THROW(Validate(OneActivation(Activation::kClip, -inf, 6)));
  EXPECT_NO_THROW(Validate(OneActivation(Activation::kClip, 2, 2)));
  EXPECT_EQ(Refusal(OneActivation(Activation::kClip, 6, 0)),
            "node 'act' (ACTIVATION): CLIP alpha 6 is above beta 0; expected "
            "alpha <= beta");
  EXPECT_NO_THROW(Validate(OneActivation(Activation::kClip, inf, inf)));
  EXPECT_NO_THROW(Validate(OneActivation(Activation::kLayerNorm, 0, 0)));
  EXPECT_EQ(Refusal(OneActivation(Activation::kLayerNorm, -1e-5, 0)),
            "node 'act' (ACTIVATION): LAYER_NORM alpha must be finite and >= "
            "0; got -1e-05");
}

TEST(ActivationTableTest,
     SetActivationFillsDefaultsAndSameActivationReadsThem) {
  for (const ir::ActivationInfo& row : ir::AllActivations()) {
    ir::Node node;
    ir::SetActivation(node, row.act, std::nullopt, std::nullopt);
    EXPECT_EQ(node.activation, row.act);
    ir::Node given;
    ir::SetActivation(given, row.act, 0.25, 0.75);
    for (ir::ActivationParam param : ir::kActivationParams) {
      const double fallback = ir::ParamValue(ir::Node{}, param);
      EXPECT_EQ(ir::ParamValue(node, param),
                row.Default(param).value_or(fallback))
          << row.name << " " << ir::ParamName(param);
      const double want = param == ir::ActivationParam::kAlpha ? 0.25 : 0.75;
      EXPECT_EQ(ir::ParamValue(given, param),
                row.Default(param) ? want : fallback)
          << row.name << " " << ir::ParamName(param);
    }
    EXPECT_TRUE(ir::SameActivation(node, node));
    EXPECT_EQ(ir::SameActivation(node, given),
              !row.alpha.has_value() && !row.beta.has_value())
        << row.name;
  }
  ir::Node a, b;
  ir::SetActivation(a, Activation::kHardSigmoid, 0.2, 0.5);
  ir::SetActivation(b, Activation::kHardSigmoid, 0.2, 0.25);
  EXPECT_FALSE(ir::SameActivation(a, b));
  ir::SetActivation(b, Activation::kElu, 0.2, 0.5);
  EXPECT_FALSE(ir::SameActivation(a, b));
  EXPECT_EQ(ir::ActivationLabel(a), "HARD_SIGMOID alpha=0.2 beta=0.5");
  EXPECT_EQ(ir::ActivationLabel(b), "ELU alpha=0.2");
  ir::SetActivation(b, Activation::kGelu, 0.2, 0.5);
  EXPECT_EQ(ir::ActivationLabel(b), "GELU");
}

TEST(ValidateTest, InfersShapesOfHandBuiltGraph) {
  ir::Graph g = SeedLayer();
  Validate(g);
  EXPECT_EQ(g.values[g.FindValue("m0_out")].shape, Shape{2});
  EXPECT_EQ(g.values[g.FindValue("s0_out")].shape, Shape{});
  EXPECT_EQ(g.values[g.FindValue("cat_out")].shape, Shape{2});
  EXPECT_EQ(g.values[g.outputs[0]].shape, Shape{2});
  EXPECT_EQ(GraphFootprintBytes(g), 4 * (2 + 2 + 2 + 2 + 1 + 2 + 1 + 2 + 2));
}

TEST(ValidateTest, SortsTopologicallyAndKeepsSortedOrder) {
  ir::Graph sorted = SeedLayer();
  Validate(sorted);
  std::vector<std::string> names;
  for (const ir::Node& n : sorted.nodes) names.push_back(n.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"m0", "s0", "m1", "s1", "cat", "act"}));
  ir::Graph reversed = SeedLayer();
  std::reverse(reversed.nodes.begin(), reversed.nodes.end());
  for (size_t i = 0; i < reversed.nodes.size(); ++i) {
    reversed.values[reversed.nodes[i].output].index = static_cast<int>(i);
  }
  Validate(reversed);
  for (size_t i = 0; i < reversed.nodes.size(); ++i) {
    const ir::Node& n = reversed.nodes[i];
    EXPECT_EQ(reversed.values[n.output].index, static_cast<int>(i));
    for (int id : n.inputs) {
      const ir::Value& v = reversed.values[id];
      if (v.kind == ir::ValueKind::kNode) {
        EXPECT_LT(v.index, static_cast<int>(i));
      }
    }
  }
  EXPECT_EQ(reversed.nodes.back().name, "act");
}

TEST(ValidateTest, RejectsIdsOutOfRangeAndInconsistentValues) {
  ir::Graph g = SeedLayer();
  g.nodes[1].inputs[0] = 99;
  EXPECT_THAT(Refusal(g), HasSubstr("node 's0' (SUM) input #0 refers to "
                                    "value id 99; expected 0..8"));
  g = SeedLayer();
  g.outputs.push_back(-1);
  EXPECT_THAT(Refusal(g), HasSubstr("output #1 refers to value id -1"));
  g = SeedLayer();
  g.nodes[2].output = g.nodes[0].output;  // m1 claims m0's value
  EXPECT_THAT(Refusal(g), HasSubstr("node 'm1' (MULTIPLY) output defines "
                                    "value 'm0_out', which says it is node "
                                    "#0; expected node #2"));
  g = SeedLayer();
  g.values[g.FindValue("w1")].index = 5;
  EXPECT_THAT(Refusal(g), HasSubstr("constant #1 defines value 'w1'"));
  g = SeedLayer();
  g.outputs.push_back(g.outputs[0]);
  EXPECT_THAT(
      Refusal(g),
      HasSubstr("output 'act_out' is listed twice; expected each output once"));
}

TEST(ValidateTest, RejectsBadNamesAndAttributes) {
  ir::Graph g = SeedLayer();
  g.nodes[3].name = "m0";
  EXPECT_THAT(Refusal(g), HasSubstr("duplicate node name 'm0'"));
  g = SeedLayer();
  g.values[g.FindValue("w1")].name = "";
  EXPECT_THAT(Refusal(g), HasSubstr("constant '' has no name"));
  g = SeedLayer();
  g.values[g.FindValue("w1")].name = "w\x80";
  EXPECT_THAT(Refusal(g), HasSubstr("value #2 (constant #1): name is not "
                                    "valid UTF-8"));
  g = SeedLayer();
  g.nodes.back().activation = Activation::kLeakyRelu;
  g.nodes.back().alpha = std::nan("");
  EXPECT_THAT(Refusal(g), HasSubstr("node 'act' (ACTIVATION): LEAKY_RELU "
                                    "alpha must be finite; got nan"));
  g.nodes.back().alpha = -std::nan("");  // prints "nan" too, never "-nan"
  EXPECT_THAT(Refusal(g), EndsWith("alpha must be finite; got nan"));
  g = SeedLayer();
  // The first number past the table.
  const auto next = static_cast<int>(ir::AllActivations().size());
  g.nodes.back().activation = static_cast<Activation>(next);
  EXPECT_THAT(Refusal(g),
              HasSubstr(fmt::format(
                  "node 'act' (ACTIVATION): unknown activation {}", next)));
  g = SeedLayer();
  g.nodes[0].op = static_cast<OpKind>(7);
  EXPECT_THAT(Refusal(g), HasSubstr("node 'm0': unknown op 7"));
}

TEST(ValidateTest, RejectsCycleNamingANodeOnIt) {
  ir::Graph g;
  int x = AddInput(g, "x", {2});
  // "tail" sorts first but only reads the cycle; the report must name p or q.
  int q_out = 3;  // the id AddNode gives "q" below
  g.outputs.push_back(AddNode(g, "tail", OpKind::kAdd, {x, q_out}));
  int p_out = AddNode(g, "p", OpKind::kAdd, {x, q_out});
  ASSERT_EQ(AddNode(g, "q", OpKind::kAdd, {p_out, x}), q_out);
  std::string msg = Refusal(g);
  EXPECT_THAT(msg, HasSubstr("(ADD): is on a cycle"));
  EXPECT_THAT(msg, Not(HasSubstr("tail")));

  // A long cycle is reported without recursion and with a bounded message.
  ir::Graph ring;
  int in = AddInput(ring, "x", {2});
  const int kLength = 100000;
  for (int i = 0; i < kLength; ++i) {
    int prev = i == 0 ? in + kLength : static_cast<int>(ring.values.size()) - 1;
    AddNode(ring, "n" + std::to_string(i), OpKind::kAdd, {prev, in});
  }
  ring.outputs.push_back(in + kLength);
  msg = Refusal(ring);
  EXPECT_THAT(msg, HasSubstr("is on a cycle"));
  EXPECT_THAT(msg, HasSubstr(" -> ..."));
  EXPECT_LT(msg.size(), 300u);
}

TEST(ValidateTest, AcceptsDeepChainsWithoutRecursion) {
  ir::Graph g;
  int v = AddInput(g, "x", {3});
  for (int i = 0; i < 200000; ++i) {
    v = AddNode(g, "n" + std::to_string(i), OpKind::kActivation, {v}, -1,
                Activation::kTanh);
  }
  g.outputs.push_back(v);
  Validate(g);
  EXPECT_EQ(g.values[v].shape, Shape{3});
}

TEST(ValidateTest, ChecksConstantsAgainstDtype) {
  ir::Graph g;
  int x = AddInput(g, "x", {2});
  int w = AddConstant(g, "w", {2}, {0.1, 1.0});
  g.outputs.push_back(AddNode(g, "m", OpKind::kMultiply, {x, w}));
  EXPECT_THAT(Refusal(g), HasSubstr("constant 'w': value 0.1 at index 0 is "
                                    "not exactly representable in F32"));
  g.constants[0].data[0] = 1e300;
  EXPECT_THAT(Refusal(g), HasSubstr("not exactly representable"));
  g.constants[0].data[0] = -INFINITY;
  EXPECT_NO_THROW(Validate(g));
  g.dtype = ir::DType::kF64;
  g.constants[0].data[0] = 0.1;
  EXPECT_NO_THROW(Validate(g));
}

TEST(ValidateTest, RejectsMissingEndsAndOverBudget) {
  ir::Graph g = SeedLayer();
  g.outputs.clear();
  EXPECT_THAT(Refusal(g), HasSubstr("graph has no outputs"));
  ir::Graph no_inputs;
  int c = AddConstant(no_inputs, "c", {}, {1});
  no_inputs.outputs.push_back(AddNode(no_inputs, "s", OpKind::kAdd, {c, c}));
  EXPECT_THAT(Refusal(no_inputs), HasSubstr("graph has no inputs"));
  ValidateOptions tiny;
  tiny.memory_budget_bytes = 10;
  EXPECT_THAT(Refusal(SeedLayer(), tiny),
              HasSubstr("graph needs 64 bytes (one row of every value plus "
                        "all constants), over the memory budget of 10 bytes"));
}

TEST(ValidateTest, FootprintSaturatesInsteadOfOverflowing) {
  ir::Graph g;
  AddInput(g, "a", {int64_t{1} << 61});
  AddInput(g, "b", {int64_t{1} << 61});
  EXPECT_EQ(GraphFootprintBytes(g), std::numeric_limits<int64_t>::max());
  g.values[1].shape = {-1};
  EXPECT_EQ(GraphFootprintBytes(g), std::numeric_limits<int64_t>::max());
}

}  // namespace
}  // namespace rowflow
