// The ONNX importer and exporter as a library: export then import gives back
// the same graph, Gemm's alpha and beta are folded into the constants,
// refusals name the node, and no corruption of a model's bytes gets anything
// but a rowflow::Error out of ImportOnnx. (The CLI, the numpy references and
// onnx.checker are exercised by tests/onnx/onnx_test.sh.)
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <random>
#include <string>
#include <vector>

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

TEST(OnnxImportTest, RefusesAnUnsupportedOpNamingNodeOpAndOpset) {
  onnx::ModelProto model = GemmModel(1, 1);
  model.mutable_graph()->mutable_node(0)->set_op_type("Conv");
  try {
    ImportOnnx(model.SerializeAsString(), "model.onnx");
    FAIL() << "imported a Conv";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kModel);
    EXPECT_THAT(
        e.what(),
        HasSubstr("model.onnx: node 'fc' (Conv, opset 13): not supported; "
                  "rowflow imports MatMul, Gemm, Add, Mul, ReduceSum"));
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
