// The ONNX importer and exporter as a library: export then import gives back
// the same graph, Gemm's alpha and beta are folded into the constants,
// refusals name the node, every activation goes both ways (the expansions
// PyTorch writes for GELU and SiLU among them), and no corruption of a model's
// bytes gets anything but a rowflow::Error out of ImportOnnx. (The CLI, the
// numpy references and onnx.checker are exercised by tests/onnx/onnx_test.sh.)
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "graph/activation.h"
#include "graph/builder.h"
#include "graph/error.h"
#include "graph/serialize.h"
#include "tools/onnx/export.h"
#include "tools/onnx/import.h"

namespace rowflow {
namespace {

using ::testing::HasSubstr;

ir::Graph TwoLayers(ir::DType dtype, DenseForm form) {
  GraphBuilder b("two_layers", dtype);
  ValueRef x = b.Input("x", {3});
  DenseOptions options;
  options.form = form;
  options.activation = ir::Activation::kLeakyRelu;
  options.alpha = 0.01;  // not a float: must survive ONNX's float attribute
  ValueRef h =
      b.Dense(x, "hidden", 4, {1, -2, 3, 0.5, -1, 2, 0.25, 1, -3, 2, 1, -0.5},
              {0.1, -0.2, 0.3, 0}, options);
  options.activation = ir::Activation::kSoftmax;
  b.Output(b.Dense(h, "out", 2, {1, 2, -1, 0.5, 3, -2, 1, 1}, {}, options));
  b.SetMetadata("origin", "onnx_interop_test");
  return b.Build();
}

TEST(OnnxRoundTripTest, ExportThenImportGivesTheSameGraph) {
  for (ir::DType dtype : {ir::DType::kF32, ir::DType::kF64}) {
    for (DenseForm form : {DenseForm::kLayer, DenseForm::kPerNode}) {
      const ir::Graph graph = TwoLayers(dtype, form);
      const ir::Graph back = ImportOnnx(ExportOnnx(graph), "two_layers.onnx");
      EXPECT_EQ(SerializeGraph(back, Encoding::kText),
                SerializeGraph(graph, Encoding::kText))
          << ir::DTypeName(dtype)
          << (form == DenseForm::kLayer ? " layer" : " per-node");
    }
  }
}

// y = Gemm(x, W, C; alpha, beta) with x (N, 2), W (2, 3), C (1, 3).
onnx::ModelProto GemmModel(float alpha, float beta) {
  onnx::ModelProto model;
  model.set_ir_version(8);
  model.add_opset_import()->set_version(13);
  onnx::GraphProto* g = model.mutable_graph();
  auto add_value = [](onnx::ValueInfoProto* vi, const char* name,
                      int64_t width) {
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    tt->mutable_shape()->add_dim()->set_dim_param("N");
    tt->mutable_shape()->add_dim()->set_dim_value(width);
  };
  add_value(g->add_input(), "x", 2);
  add_value(g->add_output(), "y", 3);
  auto add_init = [&](const char* name, std::vector<int64_t> dims,
                      std::vector<float> v) {
    onnx::TensorProto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    for (float f : v) t->add_float_data(f);
  };
  add_init("W", {2, 3}, {1, 2, 3, 4, 5, 6});
  add_init("C", {1, 3}, {0.5, -1, 2});
  onnx::NodeProto* node = g->add_node();
  node->set_op_type("Gemm");
  node->set_name("fc");
  for (const char* in : {"x", "W", "C"}) node->add_input(in);
  node->add_output("y");
  for (auto [name, value] :
       {std::pair{"alpha", alpha}, std::pair{"beta", beta}}) {
    onnx::AttributeProto* a = node->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(value);
  }
  return model;
}

TEST(OnnxImportTest, GemmFoldsAlphaAndBetaIntoTheConstants) {
  const ir::Graph g =
      ImportOnnx(GemmModel(0.5f, 2.0f).SerializeAsString(), "gemm.onnx");
  ASSERT_EQ(g.constants.size(), 2u);
  // W^T (units, width) scaled by alpha, then C scaled by beta.
  EXPECT_EQ(g.constants[0].shape, (ir::Shape{3, 2}));
  EXPECT_EQ(g.constants[0].data, (std::vector<double>{0.5, 2, 1, 2.5, 1.5, 3}));
  EXPECT_EQ(g.constants[1].shape, (ir::Shape{3}));
  EXPECT_EQ(g.constants[1].data, (std::vector<double>{1, -2, 4}));
  ASSERT_EQ(g.nodes.size(), 3u);
  EXPECT_EQ(g.nodes[0].op, ir::OpKind::kMultiply);
  EXPECT_EQ(g.nodes[0].name, "fc");  // the ONNX node's name
  EXPECT_EQ(g.nodes[1].op, ir::OpKind::kSum);
  EXPECT_EQ(g.nodes[1].axis, -1);
  EXPECT_EQ(g.nodes[2].op, ir::OpKind::kAdd);
  EXPECT_EQ(g.values[g.outputs[0]].name, "y");
}

TEST(OnnxImportTest, RefusesAnUnsupportedOpNamingNodeAndOp) {
  onnx::ModelProto model = GemmModel(1, 1);
  model.mutable_graph()->mutable_node(0)->set_op_type("Conv");
  try {
    ImportOnnx(model.SerializeAsString(), "model.onnx");
    FAIL() << "imported a Conv";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kModel);
    EXPECT_EQ(std::string(e.what()),
              "model.onnx: 1 node has an op rowflow does not import: 'fc' "
              "(Conv); see README, \"What import-onnx reads\"");
  }
}

TEST(OnnxImportTest, RefusesExternalDataNamingTheFile) {
  onnx::ModelProto model = GemmModel(1, 1);
  onnx::TensorProto* w = model.mutable_graph()->mutable_initializer(0);
  w->clear_float_data();
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  auto* entry = w->add_external_data();
  entry->set_key("location");
  entry->set_value("w.bin");
  try {
    ImportOnnx(model.SerializeAsString(), "model.onnx");
    FAIL() << "imported external data";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(),
                HasSubstr("initializer 'W' keeps its data in an external file "
                          "('w.bin')"));
  }
}

// ---- Activations. ----

// x: [3] -> Dense(3 units, act) in `form`, then a second dense layer.
ir::Graph ActivationNet(ir::Activation act, ir::DType dtype, DenseForm form) {
  GraphBuilder b("act_net", dtype);
  ValueRef x = b.Input("x", {3});
  // Parameters that are not floats must survive ONNX's float attributes.
  DenseOptions options{act, 0.3, form, 0.6};
  ValueRef h = b.Dense(x, "h", 3, {1, -2, 3, 0.5, -1, 2, 0.25, 1, -3},
                       {0.1, -0.2, 0.3}, options);
  b.Output(b.Dense(h, "out", 2, {1, 2, -1, 0.5, 3, -2}, {}, {}));
  return b.Build();
}

// The op types of `model`'s nodes.
std::multiset<std::string> OpTypes(const std::string& bytes) {
  onnx::ModelProto model;
  EXPECT_TRUE(model.ParseFromString(bytes));
  std::multiset<std::string> ops;
  for (const auto& n : model.graph().node()) ops.insert(n.op_type());
  return ops;
}

TEST(OnnxActivationTest, EveryActivationExportsAndImportsBack) {
  for (const ir::ActivationInfo& row : ir::AllActivations()) {
    for (ir::DType dtype : {ir::DType::kF32, ir::DType::kF64}) {
      for (DenseForm form : {DenseForm::kLayer, DenseForm::kPerNode}) {
        SCOPED_TRACE(fmt::format("{} {} {}", row.name, ir::DTypeName(dtype),
                                 form == DenseForm::kLayer ? "layer" : "unit"));
        const ir::Graph graph = ActivationNet(row.act, dtype, form);
        const std::string bytes = ExportOnnx(graph);
        const ir::Graph back = ImportOnnx(bytes, "act.onnx");
        EXPECT_EQ(SerializeGraph(back, Encoding::kText),
                  SerializeGraph(graph, Encoding::kText));
        const std::multiset<std::string> ops = OpTypes(bytes);
        EXPECT_EQ(ops.count("Gelu"), 0u) << "opset 13 has no Gelu";
        if (row.act == ir::Activation::kGelu) {
          EXPECT_GE(ops.count("Erf"), 1u);
        }
        if (row.act == ir::Activation::kGeluTanh) {
          EXPECT_GE(ops.count("Tanh"), 1u);
        }
        if (row.act == ir::Activation::kSilu) {
          EXPECT_GE(ops.count("Sigmoid"), 1u);
        }
      }
    }
  }
  // The ops written directly, one per activation with an opset-13 op.
  const std::pair<ir::Activation, const char*> kDirect[] = {
      {ir::Activation::kElu, "Elu"},
      {ir::Activation::kHardSigmoid, "HardSigmoid"},
      {ir::Activation::kLogSoftmax, "LogSoftmax"},
      {ir::Activation::kLeakyRelu, "LeakyRelu"},
      {ir::Activation::kSoftplus, "Softplus"}};
  for (auto [act, op] : kDirect) {
    EXPECT_EQ(OpTypes(ExportOnnx(ActivationNet(act, ir::DType::kF32,
                                               DenseForm::kLayer)))
                  .count(op),
              1u)
        << op;
  }
}

// Builds small ONNX graphs over x: [N, 4] by hand.
class OnnxNet {
 public:
  explicit OnnxNet(int64_t opset = 13) {
    model_.set_ir_version(8);
    model_.add_opset_import()->set_version(opset);
    AddValue(g()->add_input(), "x");
  }
  onnx::GraphProto* g() { return model_.mutable_graph(); }

  onnx::NodeProto* Node(const std::string& op, std::vector<std::string> inputs,
                        const std::string& output) {
    onnx::NodeProto* n = g()->add_node();
    n->set_op_type(op);
    n->set_name(output + "_node");
    for (const std::string& in : inputs) n->add_input(in);
    n->add_output(output);
    return n;
  }
  // A scalar: an initializer, or (every other one) a Constant node, as
  // torch.onnx writes them.
  std::string Scalar(double v) {
    const std::string name = fmt::format("c{}", scalars_++);
    onnx::TensorProto* t =
        scalars_ % 2 ? g()->add_initializer()
                     : Node("Constant", {}, name)->add_attribute()->mutable_t();
    if (scalars_ % 2 == 0) {
      onnx::AttributeProto* a =
          g()->mutable_node(g()->node_size() - 1)->mutable_attribute(0);
      a->set_name("value");
      a->set_type(onnx::AttributeProto::TENSOR);
    }
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    t->add_float_data(static_cast<float>(v));
    return name;
  }
  // A FLOAT initializer.
  std::string Init(const std::string& name, std::vector<int64_t> dims,
                   std::vector<float> values) {
    onnx::TensorProto* t = g()->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    for (float v : values) t->add_float_data(v);
    return name;
  }
  std::string Bytes(const std::vector<std::string>& outputs = {"y"}) {
    for (const std::string& out : outputs) AddValue(g()->add_output(), out);
    return model_.SerializeAsString();
  }

 private:
  static void AddValue(onnx::ValueInfoProto* vi, const std::string& name) {
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    tt->mutable_shape()->add_dim()->set_dim_param("N");
    tt->mutable_shape()->add_dim()->set_dim_value(4);
  }
  onnx::ModelProto model_;
  int scalars_ = 0;
};

// The graph's nodes as "OP ACT(input)" lines, in order.
std::vector<std::string> Nodes(const ir::Graph& g) {
  std::vector<std::string> out;
  for (const ir::Node& n : g.nodes) {
    std::string line(ir::OpName(n.op));
    if (n.op == ir::OpKind::kActivation) {
      line += " " + ir::ActivationLabel(n);
    }
    line += "(";
    for (size_t i = 0; i < n.inputs.size(); ++i)
      line += (i ? ", " : "") + g.values[n.inputs[i]].name;
    out.push_back(line + ") -> " + g.values[n.output].name);
  }
  return out;
}

std::string ImportError(const std::string& bytes) {
  try {
    ImportOnnx(bytes, "m.onnx");
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kModel);
    return e.what();
  }
  ADD_FAILURE() << "imported";
  return "";
}

constexpr double kSqrt2 = 1.4142135623730951;

TEST(OnnxActivationTest, ReadsTheGeluExpansionsPyTorchWrites) {
  using ::testing::ElementsAre;
  const auto gelu = ElementsAre("ACTIVATION GELU(x) -> y");
  {  // torch.onnx (TorchScript) for nn.GELU(): Div, Erf, Add, Mul, Mul.
    OnnxNet n;
    n.Node("Div", {"x", n.Scalar(kSqrt2)}, "d");
    n.Node("Erf", {"d"}, "e");
    n.Node("Add", {"e", n.Scalar(1)}, "a");
    n.Node("Mul", {"x", "a"}, "m");
    n.Node("Mul", {"m", n.Scalar(0.5)}, "y");
    EXPECT_THAT(Nodes(ImportOnnx(n.Bytes(), "m.onnx")), gelu);
  }
  {  // Mul by 1/sqrt(2), 0.5 * x first, constants on the left.
    OnnxNet n;
    n.Node("Mul", {n.Scalar(1 / kSqrt2), "x"}, "d");
    n.Node("Erf", {"d"}, "e");
    n.Node("Add", {n.Scalar(1), "e"}, "a");
    n.Node("Mul", {n.Scalar(0.5), "x"}, "h");
    n.Node("Mul", {"h", "a"}, "y");
    EXPECT_THAT(Nodes(ImportOnnx(n.Bytes(), "m.onnx")), gelu);
  }
  {  // x * (0.5 * (1 + erf)).
    OnnxNet n;
    n.Node("Div", {"x", n.Scalar(kSqrt2)}, "d");
    n.Node("Erf", {"d"}, "e");
    n.Node("Add", {"e", n.Scalar(1)}, "a");
    n.Node("Mul", {"a", n.Scalar(0.5)}, "h");
    n.Node("Mul", {"x", "h"}, "y");
    EXPECT_THAT(Nodes(ImportOnnx(n.Bytes(), "m.onnx")), gelu);
  }
  {  // The tanh form, torch.onnx's opset-9 symbolic: x * (x * x).
    OnnxNet n;
    n.Node("Mul", {"x", "x"}, "x2");
    n.Node("Mul", {"x", "x2"}, "x3");
    n.Node("Mul", {n.Scalar(0.044715), "x3"}, "k");
    n.Node("Add", {"x", "k"}, "s");
    n.Node("Mul", {n.Scalar(std::sqrt(2 / M_PI)), "s"}, "i");
    n.Node("Tanh", {"i"}, "t");
    n.Node("Add", {n.Scalar(1), "t"}, "a");
    n.Node("Mul", {"x", "a"}, "m");
    n.Node("Mul", {n.Scalar(0.5), "m"}, "y");
    EXPECT_THAT(Nodes(ImportOnnx(n.Bytes(), "m.onnx")),
                ElementsAre("ACTIVATION GELU_TANH(x) -> y"));
  }
  {  // The tanh form with Pow(x, 3), as the dynamo exporter writes it.
    OnnxNet n;
    n.Node("Pow", {"x", n.Scalar(3)}, "x3");
    n.Node("Mul", {"x3", n.Scalar(0.044715)}, "k");
    n.Node("Add", {"x", "k"}, "s");
    n.Node("Mul", {"s", n.Scalar(std::sqrt(2 / M_PI))}, "i");
    n.Node("Tanh", {"i"}, "t");
    n.Node("Add", {"t", n.Scalar(1)}, "a");
    n.Node("Mul", {"x", "a"}, "m");
    n.Node("Mul", {"m", n.Scalar(0.5)}, "y");
    EXPECT_THAT(Nodes(ImportOnnx(n.Bytes(), "m.onnx")),
                ElementsAre("ACTIVATION GELU_TANH(x) -> y"));
  }
  for (const char* approximate : {"none", "tanh"}) {  // Gelu, opset 20
    OnnxNet n(20);
    onnx::AttributeProto* a = n.Node("Gelu", {"x"}, "y")->add_attribute();
    a->set_name("approximate");
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(approximate);
    EXPECT_THAT(Nodes(ImportOnnx(n.Bytes(), "m.onnx")),
                ElementsAre(std::string(approximate) == "none"
                                ? "ACTIVATION GELU(x) -> y"
                                : "ACTIVATION GELU_TANH(x) -> y"));
  }
}

TEST(OnnxActivationTest, ReadsSiluAndTheDirectOps) {
  using ::testing::ElementsAre;
  for (bool sigmoid_first : {false, true}) {
    OnnxNet n;
    n.Node("Sigmoid", {"x"}, "s");
    n.Node("Mul",
           sigmoid_first ? std::vector<std::string>{"s", "x"}
                         : std::vector<std::string>{"x", "s"},
           "y");
    EXPECT_THAT(Nodes(ImportOnnx(n.Bytes(), "m.onnx")),
                ElementsAre("ACTIVATION SILU(x) -> y"));
  }
  {  // Sigmoid read elsewhere too: no SILU, the two nodes as they are.
    OnnxNet n;
    n.Node("Sigmoid", {"x"}, "s");
    n.Node("Mul", {"x", "s"}, "y");
    EXPECT_THAT(
        Nodes(ImportOnnx(n.Bytes({"y", "s"}), "m.onnx")),
        ElementsAre("ACTIVATION SIGMOID(x) -> s", "MULTIPLY(x, s) -> y"));
  }
  const std::pair<std::vector<std::pair<const char*, float>>, const char*>
      kCases[] = {{{}, "ACTIVATION ELU alpha=1(x) -> y"},
                  {{{"alpha", 0.5f}}, "ACTIVATION ELU alpha=0.5(x) -> y"}};
  for (const auto& [attrs, want] : kCases) {
    OnnxNet n;
    onnx::NodeProto* node = n.Node("Elu", {"x"}, "y");
    for (auto [name, v] : attrs) {
      onnx::AttributeProto* a = node->add_attribute();
      a->set_name(name);
      a->set_type(onnx::AttributeProto::FLOAT);
      a->set_f(v);
    }
    EXPECT_THAT(Nodes(ImportOnnx(n.Bytes(), "m.onnx")), ElementsAre(want));
  }
  {  // ONNX's HardSigmoid defaults are floats: 0.2f, 0.5.
    OnnxNet n;
    n.Node("HardSigmoid", {"x"}, "y");
    const ir::Graph g = ImportOnnx(n.Bytes(), "m.onnx");
    EXPECT_EQ(g.nodes[0].activation, ir::Activation::kHardSigmoid);
    EXPECT_EQ(g.nodes[0].alpha, static_cast<double>(0.2f));
    EXPECT_EQ(g.nodes[0].beta, 0.5);
  }
  {
    OnnxNet n;
    n.Node("LogSoftmax", {"x"}, "y");
    EXPECT_THAT(Nodes(ImportOnnx(n.Bytes(), "m.onnx")),
                ElementsAre("ACTIVATION LOG_SOFTMAX(x) -> y"));
  }
}

TEST(OnnxActivationTest, RefusesWhatIsNoActivation) {
  {  // Not the GELU expansion (a wrong constant): the nodes import one by
     // one, the Erf as ERF.
    OnnxNet n;
    n.Node("Div", {"x", n.Scalar(1.5)}, "d");
    n.Node("Erf", {"d"}, "e");
    n.Node("Add", {"e", n.Scalar(1)}, "a");
    n.Node("Mul", {"x", "a"}, "m");
    n.Node("Mul", {"m", n.Scalar(0.5)}, "y");
    const ir::Graph g = ImportOnnx(n.Bytes(), "m.onnx");
    EXPECT_THAT(Nodes(g), Contains(HasSubstr("ACTIVATION ERF(d) -> e")));
    EXPECT_THAT(Nodes(g), Not(Contains(HasSubstr("GELU"))));
  }
  {  // The Erf's value is read elsewhere: no GELU either.
    OnnxNet n;
    n.Node("Div", {"x", n.Scalar(kSqrt2)}, "d");
    n.Node("Erf", {"d"}, "e");
    n.Node("Add", {"e", n.Scalar(1)}, "a");
    n.Node("Mul", {"x", "a"}, "m");
    n.Node("Mul", {"m", n.Scalar(0.5)}, "y");
    const ir::Graph g = ImportOnnx(n.Bytes({"y", "e"}), "m.onnx");
    EXPECT_THAT(Nodes(g), Contains(HasSubstr("ACTIVATION ERF(d) -> e")));
    EXPECT_THAT(Nodes(g), Not(Contains(HasSubstr("GELU"))));
  }
  {
    OnnxNet n(13);
    n.Node("Gelu", {"x"}, "y");
    EXPECT_THAT(ImportError(n.Bytes()),
                HasSubstr("node 'y_node' (Gelu, opset 13): Gelu is an "
                          "operator of opset 20 and later; the model "
                          "declares 13"));
  }
  {
    OnnxNet n(20);
    onnx::AttributeProto* a = n.Node("Gelu", {"x"}, "y")->add_attribute();
    a->set_name("approximate");
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s("fast");
    EXPECT_THAT(ImportError(n.Bytes()),
                HasSubstr("approximate='fast' is not supported; rowflow "
                          "reads 'none' or 'tanh'"));
  }
  {
    OnnxNet n;
    onnx::AttributeProto* a = n.Node("Elu", {"x"}, "y")->add_attribute();
    a->set_name("beta");
    a->set_type(onnx::AttributeProto::FLOAT);
    EXPECT_THAT(ImportError(n.Bytes()),
                HasSubstr("(Elu, opset 13): attribute 'beta' is not "
                          "supported; rowflow reads alpha"));
  }
}

// The constant named `name` in `g`.
const ir::Tensor& ConstantOf(const ir::Graph& g, const std::string& name) {
  for (const ir::Tensor& t : g.constants) {
    if (g.values[t.value].name == name) return t;
  }
  ADD_FAILURE() << "no constant " << name;
  return g.constants.at(0);
}

TEST(OnnxLayerTest, SubAddsTheNegationAndDivMultipliesByTheReciprocal) {
  using ::testing::ElementsAre;
  {
    OnnxNet n;
    n.Init("c", {4}, {0.5f, -2, 0, 3});
    n.Node("Sub", {"x", "c"}, "y");
    const ir::Graph g = ImportOnnx(n.Bytes(), "m.onnx");
    EXPECT_THAT(Nodes(g), ElementsAre("ADD(x, c) -> y"));
    EXPECT_EQ(ConstantOf(g, "c").data,
              (std::vector<double>{-0.5, 2, -0.0, -3}));
  }
  {
    OnnxNet n;
    n.Init("c", {4}, {0.5f, -2, 0, 3});
    n.Node("Sub", {"c", "x"}, "y");
    const ir::Graph g = ImportOnnx(n.Bytes(), "m.onnx");
    EXPECT_THAT(Nodes(g), ElementsAre("MULTIPLY(x, minus_one) -> y_node",
                                      "ADD(c, y_node) -> y"));
    EXPECT_EQ(ConstantOf(g, "c").data, (std::vector<double>{0.5, -2, 0, 3}));
    EXPECT_EQ(ConstantOf(g, "minus_one").data, (std::vector<double>{-1}));
  }
  {
    OnnxNet n;
    n.Node("Relu", {"x"}, "r");
    n.Node("Sub", {"r", "x"}, "y");
    EXPECT_THAT(
        Nodes(ImportOnnx(n.Bytes(), "m.onnx")),
        ElementsAre("ACTIVATION RELU(x) -> r",
                    "MULTIPLY(x, minus_one) -> y_node", "ADD(r, y_node) -> y"));
  }
  {  // 1/3 rounded to float once; 1/4 exact.
    OnnxNet n;
    n.Init("c", {4}, {3, 4, -0.5f, 10});
    n.Node("Div", {"x", "c"}, "y");
    const ir::Graph g = ImportOnnx(n.Bytes(), "m.onnx");
    EXPECT_THAT(Nodes(g), ElementsAre("MULTIPLY(x, c) -> y"));
    EXPECT_EQ(ConstantOf(g, "c").data,
              (std::vector<double>{static_cast<float>(1.0 / 3), 0.25, -2,
                                   static_cast<float>(0.1)}));
  }
}

TEST(OnnxLayerTest, BatchNormalizationBecomesScaleAndShift) {
  OnnxNet n;
  n.Init("s", {4}, {1, 2, 0.5f, -1});
  n.Init("b", {4}, {0, 1, -1, 0.25f});
  n.Init("m", {4}, {0.5f, 0, 2, -1});
  n.Init("v", {4}, {1, 4, 0.25f, 3});
  onnx::NodeProto* bn =
      n.Node("BatchNormalization", {"x", "s", "b", "m", "v"}, "y");
  onnx::AttributeProto* eps = bn->add_attribute();
  eps->set_name("epsilon");
  eps->set_type(onnx::AttributeProto::FLOAT);
  eps->set_f(0);
  const ir::Graph g = ImportOnnx(n.Bytes(), "m.onnx");
  EXPECT_THAT(Nodes(g), ::testing::ElementsAre("MULTIPLY(x, y/scale) -> y_node",
                                               "ADD(y_node, y/shift) -> y"));
  // s = scale / sqrt(var), t = B - mean * s: exact for these values.
  EXPECT_EQ(
      ConstantOf(g, "y/scale").data,
      (std::vector<double>{1, 1, 1, static_cast<float>(-1 / std::sqrt(3.0))}));
  EXPECT_EQ(ConstantOf(g, "y/shift").data,
            (std::vector<double>{
                -0.5, 1, -3, static_cast<float>(0.25 - 1 / std::sqrt(3.0))}));
}

TEST(OnnxLayerTest, FoldsConstantSubgraphsOnTheHost) {
  // Mul(x, Reciprocal(Sqrt(Add(v, 1)))): one MULTIPLY by the folded
  // constant, rounded to float after each node.
  OnnxNet n;
  n.Init("v", {4}, {0, 3, 8, 1});
  n.Node("Add", {"v", n.Scalar(1)}, "v1");
  n.Node("Sqrt", {"v1"}, "sd");
  n.Node("Reciprocal", {"sd"}, "inv");
  n.Node("Mul", {"x", "inv"}, "y");
  const ir::Graph g = ImportOnnx(n.Bytes(), "m.onnx");
  EXPECT_THAT(Nodes(g), ::testing::ElementsAre("MULTIPLY(x, inv) -> y"));
  const float r2 = 1 / static_cast<float>(std::sqrt(2.0));
  EXPECT_EQ(ConstantOf(g, "inv").data,
            (std::vector<double>{1, 0.5, static_cast<float>(1 / 3.0), r2}));
}

TEST(OnnxLayerTest, SqueezeOfAUnitAxisIsASumOverIt) {
  OnnxNet n;
  n.Init("w", {1, 4}, {1, 2, 3, 4});
  onnx::NodeProto* gemm = n.Node("Gemm", {"x", "w"}, "o");
  onnx::AttributeProto* t = gemm->add_attribute();
  t->set_name("transB");
  t->set_type(onnx::AttributeProto::INT);
  t->set_i(1);
  onnx::TensorProto* axes = n.g()->add_initializer();
  axes->set_name("axes");
  axes->set_data_type(onnx::TensorProto::INT64);
  axes->add_dims(1);
  axes->add_int64_data(1);
  n.Node("Squeeze", {"o", "axes"}, "y");
  const ir::Graph g = ImportOnnx(n.Bytes(), "m.onnx");
  ASSERT_EQ(g.nodes.size(), 3u);
  EXPECT_EQ(g.nodes[2].op, ir::OpKind::kSum);
  EXPECT_EQ(g.nodes[2].axis, -1);
  EXPECT_EQ(g.values[g.outputs[0]].shape, (ir::Shape{}));
}

TEST(OnnxImportTest, NamesEveryUnsupportedNodeAtOnce) {
  OnnxNet n;
  std::string in = "x";
  const char* kOps[] = {"Conv", "Sin", "Cos", "Tan",  "Foo", "Bar",
                        "Baz",  "Qux", "Abs", "Conv", "Sin", "Floor"};
  for (size_t i = 0; i < std::size(kOps); ++i) {
    const std::string out =
        i + 1 == std::size(kOps) ? "y" : fmt::format("v{}", i);
    n.Node(kOps[i], {in}, out);
    in = out;
  }
  EXPECT_EQ(ImportError(n.Bytes()),
            "m.onnx: 12 nodes have ops rowflow does not import: 'v0_node' "
            "(Conv), 'v1_node' (Sin), 'v2_node' (Cos), 'v3_node' (Tan) and 8 "
            "more; op types: Conv, Sin, Cos, Tan, Foo, Bar, Baz, Qux and 2 "
            "more; see README, \"What import-onnx reads\"");
}

// A stand-in for the fuzz target: truncations and byte flips of a valid
// model import or throw rowflow::Error, nothing else (ASan adds the memory
// side when the suite runs under it).
TEST(OnnxImportTest, CorruptedBytesOnlyEverThrowRowflowErrors) {
  const std::string good =
      ExportOnnx(TwoLayers(ir::DType::kF32, DenseForm::kPerNode));
  std::mt19937 rng(7);
  int refused = 0, imported = 0;
  auto attempt = [&](const std::string& bytes) {
    try {
      ImportOnnx(bytes, "fuzz.onnx");
      ++imported;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kModel) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos)
          << e.what();
      ++refused;
    }
  };
  for (size_t n = 0; n < good.size(); n += 3) attempt(good.substr(0, n));
  for (int i = 0; i < 3000; ++i) {
    std::string bytes = good;
    for (int k = 0; k < 1 + i % 3; ++k) {
      bytes[rng() % bytes.size()] = static_cast<char>(rng() & 0xff);
    }
    attempt(bytes);
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(imported, 0);
}

}  // namespace
}  // namespace rowflow
