#include "graph/dense_match.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "graph/builder.h"

namespace rowflow {
namespace {

using ir::Activation;
using ir::DenseMatch;

int Node(const ir::Graph& g, const std::string& name) {
  const int n = g.FindNode(name);
  EXPECT_GE(n, 0) << name;
  return n;
}

int Value(const ir::Graph& g, const std::string& name) {
  const int v = g.FindValue(name);
  EXPECT_GE(v, 0) << name;
  return v;
}

// The seed's first layer (2 -> 2, RELU) in `form`, then a 2 -> 1 layer.
ir::Graph SeedLayers(DenseForm form, bool bias, Activation act) {
  GraphBuilder b("seed");
  ValueRef x = b.Input("x", {2});
  ValueRef h = b.Dense(x, "h", 2, {1, 2, 3, -4},
                       bias ? std::vector<double>{1, 2} : std::vector<double>{},
                       {act, 0.01, form});
  b.Output(b.Dense(h, "out", 1, {2, 3}, {},
                   {Activation::kIdentity, 0.01, DenseForm::kLayer}));
  return b.Build();
}

TEST(DenseMatchTest, FindsTheLayerFormWithBiasAndActivation) {
  const ir::Graph g = SeedLayers(DenseForm::kLayer, true, Activation::kRelu);
  const std::vector<DenseMatch> layers = ir::FindDenseLayers(g);
  ASSERT_EQ(layers.size(), 2u);
  const DenseMatch& h = layers[0];
  EXPECT_EQ(h.input, Value(g, "x"));
  EXPECT_EQ(h.output, Value(g, "h"));
  EXPECT_EQ(h.units, 2);
  EXPECT_EQ(h.width, 2);
  ASSERT_EQ(h.parts.size(), 1u);
  EXPECT_EQ(h.parts[0].multiply, Node(g, "h/mul"));
  EXPECT_EQ(h.parts[0].sum, Node(g, "h/sum"));
  EXPECT_EQ(h.parts[0].bias_add, Node(g, "h/bias"));
  EXPECT_EQ(h.parts[0].activation, Node(g, "h"));
  EXPECT_EQ(h.activation, Node(g, "h"));
  EXPECT_EQ(h.concat, -1);
  EXPECT_EQ(h.Nodes().size(), 4u);
  EXPECT_EQ(ir::DenseWeights(g, h), (std::vector<double>{1, 2, 3, -4}));
  EXPECT_EQ(ir::DenseBias(g, h), (std::vector<double>{1, 2}));
  // The 2 -> 1 layer: identity, no bias, the graph's output.
  EXPECT_EQ(layers[1].input, Value(g, "h"));
  EXPECT_EQ(layers[1].units, 1);
  EXPECT_EQ(layers[1].activation, -1);
  EXPECT_EQ(layers[1].parts[0].bias_add, -1);
  EXPECT_TRUE(ir::DenseBias(g, layers[1]).empty());
  EXPECT_EQ(layers[1].Nodes().size(), 2u);
}

TEST(DenseMatchTest, FindsTheLayerFormWithoutBiasOrActivation) {
  const ir::Graph g =
      SeedLayers(DenseForm::kLayer, false, Activation::kIdentity);
  const std::vector<DenseMatch> layers = ir::FindDenseLayers(g);
  ASSERT_EQ(layers.size(), 2u);
  EXPECT_EQ(layers[0].output, Value(g, "h"));
  EXPECT_EQ(layers[0].parts[0].bias_add, -1);
  EXPECT_EQ(layers[0].activation, -1);
  EXPECT_EQ(layers[0].Nodes().size(), 2u);
}

TEST(DenseMatchTest, MergesThePerNodeFormAtItsConcat) {
  for (bool bias : {false, true}) {
    SCOPED_TRACE(bias);
    const ir::Graph g =
        SeedLayers(DenseForm::kPerNode, bias, Activation::kTanh);
    // Contractions alone: one per unit, plus the last layer.
    const std::vector<DenseMatch> units = ir::FindContractions(g);
    ASSERT_EQ(units.size(), 3u);
    EXPECT_EQ(units[0].parts[0].multiply, Node(g, "h_0_mul"));
    EXPECT_EQ(units[0].parts[0].activation, Node(g, "h_0"));
    EXPECT_EQ(units[0].output, Value(g, "h_0"));
    const std::vector<DenseMatch> layers = ir::FindDenseLayers(g);
    ASSERT_EQ(layers.size(), 2u);
    const DenseMatch& h = layers[0];
    EXPECT_EQ(h.input, Value(g, "x"));
    EXPECT_EQ(h.output, Value(g, "h"));
    EXPECT_EQ(h.concat, Node(g, "h"));
    EXPECT_EQ(h.units, 2);
    EXPECT_EQ(h.width, 2);
    ASSERT_EQ(h.parts.size(), 2u);
    EXPECT_EQ(g.nodes[h.activation].activation, Activation::kTanh);
    EXPECT_EQ(h.Nodes().size(), bias ? 9u : 7u);
    EXPECT_EQ(ir::DenseWeights(g, h), (std::vector<double>{1, 2, 3, -4}));
    const std::vector<double> want_bias =
        bias ? std::vector<double>{1, 2} : std::vector<double>{};
    EXPECT_EQ(ir::DenseBias(g, h), want_bias);
  }
}

TEST(DenseMatchTest, PerNodeSoftmaxAfterTheConcatJoinsTheLayer) {
  const ir::Graph g =
      SeedLayers(DenseForm::kPerNode, true, Activation::kSoftmax);
  const std::vector<DenseMatch> layers = ir::FindDenseLayers(g);
  ASSERT_EQ(layers.size(), 2u);
  EXPECT_EQ(layers[0].concat, Node(g, "h/concat"));
  EXPECT_EQ(layers[0].activation, Node(g, "h"));
  EXPECT_EQ(layers[0].output, Value(g, "h"));
}

TEST(DenseMatchTest, ScalarWeightsAndConstantRowsAreNotLayers) {
  GraphBuilder b("near");
  ValueRef x = b.Input("x", {2});
  ValueRef s = b.Constant("s", {}, {3});
  ValueRef c = b.Constant("c", {2}, {1, 2});
  ValueRef w = b.Constant("w", {2}, {5, 6});
  b.Output(b.Sum(b.Multiply(x, s, "by_scalar"), -1, "a"));  // W is a scalar
  b.Output(b.Sum(b.Multiply(c, w, "consts"), -1, "b"));     // x is constant
  b.Output(b.Sum(b.Multiply(x, x, "square"), -1, "d"));     // W not constant
  const ir::Graph g = b.Build();
  EXPECT_TRUE(ir::FindDenseLayers(g).empty());
}

TEST(DenseMatchTest, SumOverAnotherAxisIsNotALayer) {
  GraphBuilder b("axis0");
  ValueRef x = b.Input("x", {2});
  ValueRef w = b.Constant("w", {3, 2}, {1, 2, 3, 4, 5, 6});
  b.Output(b.Sum(b.Multiply(x, w), 0, "cols"));  // (3, 2) summed down
  const ir::Graph g = b.Build();
  EXPECT_TRUE(ir::FindDenseLayers(g).empty());
}

TEST(DenseMatchTest, AProductReadTwiceOrAnOutputStaysOutside) {
  GraphBuilder b("shared");
  ValueRef x = b.Input("x", {2});
  ValueRef w = b.Constant("w", {2}, {1, 2});
  ValueRef p = b.Multiply(x, w, "p");
  b.Output(b.Sum(p, -1, "s"));
  b.Output(p);  // the product leaves the graph too
  EXPECT_TRUE(ir::FindDenseLayers(b.Build()).empty());
}

TEST(DenseMatchTest, BiasAndActivationJoinOnlyWhenReadAlone) {
  GraphBuilder b("tail");
  ValueRef x = b.Input("x", {2});
  ValueRef w = b.Constant("w", {2, 2}, {1, 2, 3, 4});
  ValueRef bias = b.Constant("b", {2}, {1, 1});
  ValueRef sum = b.Sum(b.Multiply(x, w, "mul"), -1, "sum");
  ValueRef added = b.Add(sum, bias, "add");
  b.Output(b.Activation(added, Activation::kRelu, 0.01, "act"));
  b.Output(added);  // the pre-activation is an output: RELU stays outside
  const ir::Graph g = b.Build();
  const std::vector<DenseMatch> layers = ir::FindDenseLayers(g);
  ASSERT_EQ(layers.size(), 1u);
  EXPECT_EQ(layers[0].parts[0].bias_add, Node(g, "add"));
  EXPECT_EQ(layers[0].activation, -1);
  EXPECT_EQ(layers[0].output, Value(g, "add"));
}

TEST(DenseMatchTest, ABiasThatWidensTheSumIsNotABias) {
  GraphBuilder b("widen");
  ValueRef x = b.Input("x", {2});
  ValueRef w = b.Constant("w", {2}, {1, 2});
  ValueRef bias = b.Constant("b", {3}, {1, 2, 3});
  b.Output(b.Add(b.Sum(b.Multiply(x, w, "mul"), -1, "sum"), bias, "add"));
  const ir::Graph g = b.Build();
  const std::vector<DenseMatch> layers = ir::FindDenseLayers(g);
  ASSERT_EQ(layers.size(), 1u);
  EXPECT_EQ(layers[0].parts[0].bias_add, -1);
  EXPECT_EQ(layers[0].output, Value(g, "sum"));
}

// Per-node units that differ (input, activation parameter, bias or not)
// stay separate contractions.
TEST(DenseMatchTest, UnlikeUnitsDoNotMerge) {
  enum Case { kOtherInput, kOtherAlpha, kOneBias };
  for (Case c : {kOtherInput, kOtherAlpha, kOneBias}) {
    SCOPED_TRACE(static_cast<int>(c));
    GraphBuilder b("units");
    ValueRef x = b.Input("x", {2});
    ValueRef y = b.Input("y", {2});
    auto unit = [&](int i, ValueRef in, double alpha, bool bias) {
      const std::string n = fmt::format("u{}", i);
      ValueRef w = b.Constant(n + "/w", {2}, {1.0 + i, 2});
      ValueRef v = b.Sum(b.Multiply(in, w, n + "_mul"), -1, n + "_sum");
      if (bias) v = b.Add(v, b.Constant(n + "/b", {}, {1}), n + "_add");
      return b.Activation(v, Activation::kLeakyRelu, alpha, n);
    };
    ValueRef u0 = unit(0, x, 0.25, false);
    ValueRef u1 = unit(1, c == kOtherInput ? y : x,
                       c == kOtherAlpha ? 0.5 : 0.25, c == kOneBias);
    b.Output(b.Concat({u0, u1}, -1, "cat"));
    const ir::Graph g = b.Build();
    const std::vector<DenseMatch> layers = ir::FindDenseLayers(g);
    ASSERT_EQ(layers.size(), 2u);
    EXPECT_EQ(layers[0].concat, -1);
    EXPECT_EQ(layers[1].concat, -1);
  }
}

TEST(DenseMatchTest, LikeUnitsWithAnActivationParameterMerge) {
  GraphBuilder b("units");
  ValueRef x = b.Input("x", {2});
  std::vector<ValueRef> parts;
  for (int i = 0; i < 3; ++i) {
    const std::string n = fmt::format("u{}", i);
    ValueRef w = b.Constant(n + "/w", {2}, {1.0 + i, 2});
    ValueRef v = b.Sum(b.Multiply(x, w, n + "_mul"), -1, n + "_sum");
    parts.push_back(b.Activation(v, Activation::kLeakyRelu, 0.25, n));
  }
  b.Output(b.Concat(parts, -1, "cat"));
  const ir::Graph g = b.Build();
  const std::vector<DenseMatch> layers = ir::FindDenseLayers(g);
  ASSERT_EQ(layers.size(), 1u);
  EXPECT_EQ(layers[0].units, 3);
  EXPECT_EQ(layers[0].concat, Node(g, "cat"));
  EXPECT_EQ(ir::DenseWeights(g, layers[0]),
            (std::vector<double>{1, 2, 2, 2, 3, 2}));
}

TEST(DenseMatchTest, AUnitConcatenatedTwiceStaysAContraction) {
  GraphBuilder b("twice");
  ValueRef x = b.Input("x", {2});
  ValueRef w = b.Constant("w", {2}, {1, 2});
  ValueRef u = b.Sum(b.Multiply(x, w, "mul"), -1, "u");
  b.Output(b.Concat({u, u}, -1, "cat"));
  const ir::Graph g = b.Build();
  const std::vector<DenseMatch> layers = ir::FindDenseLayers(g);
  ASSERT_EQ(layers.size(), 1u);
  EXPECT_EQ(layers[0].concat, -1);
  EXPECT_EQ(layers[0].output, Value(g, "u"));
}

}  // namespace
}  // namespace rowflow
