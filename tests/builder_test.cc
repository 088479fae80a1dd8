// GraphBuilder: what the C++ API makes of its calls, beyond the seed
// networks (tests/seed_test.cc): constants rounded to the dtype as IEEE
// does, names refused at the call that repeats them, the two dense forms,
// every activation with its parameters.
#include "graph/builder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "graph/activation.h"
#include "graph/error.h"
#include "tests/spec_test_util.h"

namespace rowflow {
namespace {

using ::rowflow::testing::ErrorMessage;
using ::testing::ElementsAre;

std::vector<double> RoundedF32(std::vector<double> data) {
  GraphBuilder b("round");
  const auto x = b.Input("x", {static_cast<int64_t>(data.size())});
  const int64_t n = static_cast<int64_t>(data.size());
  b.Output(b.Multiply(x, b.Constant("c", {n}, std::move(data))));
  return b.Build().constants[0].data;
}

TEST(GraphBuilderTest, RoundsF32ConstantsAsIeeeIncludingOverflow) {
  constexpr double kMax = std::numeric_limits<float>::max();
  constexpr double kInf = std::numeric_limits<double>::infinity();
  // FLT_MAX + half an ulp is the first value that rounds up to infinity
  // (a tie, and FLT_MAX is odd); just below it rounds to FLT_MAX.
  constexpr double kOverflow = 0x1.ffffffp+127;
  EXPECT_THAT(RoundedF32({1e39, -1e39, 1e300, kOverflow, -kOverflow}),
              ElementsAre(kInf, -kInf, kInf, kInf, -kInf));
  EXPECT_THAT(
      RoundedF32({std::nextafter(kOverflow, 0.0), 3.4028235e38, -3.4028235e38}),
      ElementsAre(kMax, kMax, -kMax));
  EXPECT_THAT(RoundedF32({0.1, 1e-50, -1e-50, 1e-45}),
              ElementsAre(double{0.1f}, 0.0, -0.0, double{1e-45f}));
  EXPECT_TRUE(std::signbit(RoundedF32({-1e-50})[0]));
  EXPECT_TRUE(std::isnan(RoundedF32({std::nan("")})[0]));
}

TEST(GraphBuilderTest, F64ConstantsAreKeptExactly) {
  GraphBuilder b("exact", ir::DType::kF64);
  const auto x = b.Input("x", {2});
  b.Output(b.Multiply(x, b.Constant("c", {2}, {0.1, 1e300})));
  EXPECT_THAT(b.Build().constants[0].data, ElementsAre(0.1, 1e300));
}

TEST(GraphBuilderTest, RefusesARepeatedNameAtTheCallThatRepeatsIt) {
  GraphBuilder b("names");
  const auto x = b.Input("x", {2});
  const auto w = b.Constant("w", {2}, {1, 2});
  b.Multiply(x, w, "m");
  EXPECT_EQ(ErrorMessage([&] { b.Constant("x", {1}, {1}); }),
            "name 'x' is already taken by an input of the graph; expected a "
            "new name");
  EXPECT_EQ(ErrorMessage([&] { b.Sum(x, -1, "w"); }),
            "name 'w' is already taken by a constant of the graph; expected a "
            "new name");
  EXPECT_EQ(
      ErrorMessage([&] { b.Input("m", {1}); }),
      "name 'm' is already taken by a node of the graph; expected a new name");
  // The refused calls added nothing: the graph still builds.
  b.Output(b.Sum(b.Multiply(x, w)));
  EXPECT_EQ(b.Build().nodes.size(), 3u);
}

TEST(GraphBuilderTest, FreshNamesSkipNamesAlreadyTaken) {
  GraphBuilder b("fresh");
  const auto x = b.Input("mul_0", {2});
  const auto m = b.Multiply(x, x);
  const ir::Graph g = [&] {
    b.Output(m);
    return b.Build();
  }();
  EXPECT_EQ(g.values[g.outputs[0]].name, "mul_1");
}

TEST(GraphBuilderTest, DenseFormsNameTheirNodesAsDocumented) {
  GraphBuilder layer("layer");
  auto v = layer.Input("x", {2});
  layer.Output(
      layer.Dense(v, "h", 2, {1, 2, 3, 4}, {5, 6}, {ir::Activation::kRelu}));
  const ir::Graph lg = layer.Build();
  for (const char* name : {"h/w", "h/b", "h/mul", "h/sum", "h/bias", "h"})
    EXPECT_GE(lg.FindValue(name), 0) << name;

  GraphBuilder per_node("per_node");
  v = per_node.Input("x", {2});
  per_node.Output(
      per_node.Dense(v, "h", 2, {1, 2, 3, 4}, {5, 6},
                     {ir::Activation::kRelu, 0.01, DenseForm::kPerNode}));
  const ir::Graph pg = per_node.Build();
  for (const char* name :
       {"h_0/w", "h_0/b", "h_0_mul", "h_0_dot", "h_0_input", "h_0", "h_1", "h"})
    EXPECT_GE(pg.FindValue(name), 0) << name;
  EXPECT_EQ(pg.nodes[pg.FindNode("h")].op, ir::OpKind::kConcat);
}

TEST(GraphBuilderTest, DenseRefusesWeightsThatDoNotSplitIntoUnits) {
  GraphBuilder b("bad");
  const auto x = b.Input("x", {2});
  EXPECT_EQ(ErrorMessage([&] {
              b.Dense(x, "h", 3, {1, 2, 3, 4}, {});
            }),
            "layer 'h': 4 weights do not split into 3 units");
  EXPECT_EQ(ErrorMessage([&] {
              b.Dense(x, "h", 2, {1, 2, 3, 4}, {1});
            }),
            "layer 'h': bias has 1 entries; expected 2 (units)");
}

// The ACTIVATION nodes of `g`.
std::vector<ir::Node> Activations(const ir::Graph& g) {
  std::vector<ir::Node> out;
  for (const ir::Node& n : g.nodes) {
    if (n.op == ir::OpKind::kActivation) out.push_back(n);
  }
  return out;
}

TEST(GraphBuilderTest, EveryActivationBuildsWithDefaultsOrGivenParameters) {
  for (const ir::ActivationInfo& row : ir::AllActivations()) {
    GraphBuilder b("act");
    const auto x = b.Input("x", {3});
    b.Output(b.Activation(x, row.act, {}, "plain"));
    b.Output(b.Activation(x, row.act, 0.25, 0.75, "given"));
    const ir::Graph g = b.Build();
    const ir::Node& plain = g.nodes[g.FindNode("plain")];
    const ir::Node& given = g.nodes[g.FindNode("given")];
    EXPECT_EQ(plain.activation, row.act);
    EXPECT_EQ(given.activation, row.act);
    EXPECT_EQ(g.values[plain.output].shape, (ir::Shape{3}));
    if (row.alpha) {
      EXPECT_EQ(plain.alpha, *row.alpha) << row.name;
      EXPECT_EQ(given.alpha, 0.25) << row.name;
    }
    if (row.beta) {
      EXPECT_EQ(plain.beta, *row.beta) << row.name;
      EXPECT_EQ(given.beta, 0.75) << row.name;
    }
    // A parameter the activation does not take leaves the node as it was.
    if (!row.alpha) {
      EXPECT_EQ(given.alpha, ir::Node{}.alpha) << row.name;
    }
    if (!row.beta) {
      EXPECT_EQ(given.beta, ir::Node{}.beta) << row.name;
    }
  }
}

TEST(GraphBuilderTest, EveryActivationInBothDenseForms) {
  for (const ir::ActivationInfo& row : ir::AllActivations()) {
    for (DenseForm form : {DenseForm::kLayer, DenseForm::kPerNode}) {
      GraphBuilder b("dense");
      const auto x = b.Input("x", {2});
      DenseOptions options{row.act, 0.125, form, 0.375};
      b.Output(b.Dense(x, "h", 3, {1, 2, 3, 4, 5, 6}, {}, options));
      const ir::Graph g = b.Build();
      const std::vector<ir::Node> acts = Activations(g);
      const size_t want = row.act == ir::Activation::kIdentity ? 0
                          : form == DenseForm::kLayer ||
                                  row.shape == ir::ActivationShape::kLastAxis
                              ? 1
                              : 3;
      ASSERT_EQ(acts.size(), want) << row.name;
      for (const ir::Node& n : acts) {
        EXPECT_EQ(n.activation, row.act);
        EXPECT_EQ(n.alpha, row.alpha ? 0.125 : ir::Node{}.alpha) << row.name;
        EXPECT_EQ(n.beta, row.beta ? 0.375 : ir::Node{}.beta) << row.name;
        // Over the last axis (SOFTMAX) the units are normalized together.
        if (row.shape == ir::ActivationShape::kLastAxis) {
          EXPECT_EQ(g.values[n.output].shape, (ir::Shape{3})) << row.name;
        }
      }
      EXPECT_EQ(g.values[g.outputs[0]].shape, (ir::Shape{3}));
    }
  }
}

TEST(GraphBuilderTest, BuildRefusesNonFiniteParameters) {
  GraphBuilder b("nan");
  const auto x = b.Input("x", {2});
  b.Output(b.Activation(x, ir::Activation::kHardSigmoid, 0.2,
                        std::numeric_limits<double>::infinity(), "hs"));
  EXPECT_EQ(ErrorMessage([&] { b.Build(); }),
            "node 'hs' (ACTIVATION): HARD_SIGMOID beta must be finite; got "
            "inf");
}

}  // namespace
}  // namespace rowflow
