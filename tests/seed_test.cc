// Every printed result of the seed notebook, through the C++ API and the
// reference evaluator, and again after Save -> Load in both encodings.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "graph/serialize.h"
#include "runtime/reference.h"
#include "tests/seed_networks.h"

namespace rowflow {
namespace {

using ir::Activation;
using ir::DType;
using testing::SeedDeepNetwork;
using testing::SeedReluNetwork;
using testing::SeedTwoNodeNetwork;

// The graph as built, and as read back from each encoding.
std::vector<ir::Graph> WithRoundTrips(const ir::Graph& graph) {
  std::vector<ir::Graph> out = {graph};
  out.push_back(ParseGraph(SerializeGraph(graph, Encoding::kBinary), "binary"));
  out.push_back(ParseGraph(SerializeGraph(graph, Encoding::kText), "text"));
  return out;
}

template <typename T>
void ExpectExact(const ir::Graph& graph, const RowMatrix<T>& input,
                 const std::vector<T>& expected) {
  for (const ir::Graph& g : WithRoundTrips(graph)) {
    RowMatrix<T> out = EvaluateReference(g, input);
    EXPECT_EQ(out.data, expected) << "graph " << g.name;
  }
}

TEST(SeedTest, HiddenLayerValuesAre5And1) {
  ir::Graph g = SeedTwoNodeNetwork("seed_2_2", DType::kF32, {1, 1}, {-1, 1},
                                   {2, -1}, Activation::kIdentity);
  // Outputs: hidden_layer_values (2 columns), then output.
  for (const ir::Graph& h : WithRoundTrips(g)) {
    RowMatrix<float> out = EvaluateReference(h, RowMatrix<float>{{2, 3}});
    EXPECT_EQ(out.at(0, 0), 5);
    EXPECT_EQ(out.at(0, 1), 1);
  }
}

TEST(SeedTest, ForwardPropagationGives9) {
  ir::Graph g = SeedTwoNodeNetwork("seed_2_2", DType::kF32, {1, 1}, {-1, 1},
                                   {2, -1}, Activation::kIdentity);
  ExpectExact<float>(g, {{2, 3}}, {5, 1, 9});
}

TEST(SeedTest, PracticeForwardPropagationGivesMinus39) {
  ir::Graph g = SeedTwoNodeNetwork("seed_2_3", DType::kF32, {2, 4}, {4, -5},
                                   {2, 7}, Activation::kIdentity);
  ExpectExact<float>(g, {{3, 5}}, {26, -13, -39});
}

TEST(SeedTest, TanhNetworkGives0_9901095378334199) {
  ir::Graph g = SeedTwoNodeNetwork("seed_3_3", DType::kF64, {3, 3}, {1, 5},
                                   {2, -1}, Activation::kTanh);
  for (const ir::Graph& h : WithRoundTrips(g)) {
    RowMatrix<double> out = EvaluateReference(h, RowMatrix<double>{{-1, 2}});
    EXPECT_NEAR(out.at(0, 2), 0.9901095378334199, 1e-15);
  }
}

TEST(SeedTest, ReluNetworkGives52) {
  ir::Graph g = SeedTwoNodeNetwork("seed_3_4", DType::kF32, {2, 4}, {4, -5},
                                   {2, 7}, Activation::kRelu);
  ExpectExact<float>(g, {{3, 5}}, {26, 0, 52});
}

TEST(SeedTest, ReluNetworkOverFourRowsGives52_63_0_148) {
  for (DenseForm form : {DenseForm::kPerNode, DenseForm::kLayer}) {
    ExpectExact<float>(SeedReluNetwork(DType::kF32, form),
                       {{3, 5}, {1, -1}, {0, 0}, {8, 4}}, {52, 63, 0, 148});
  }
}

TEST(SeedTest, DeeperNetworkGives182) {
  for (DenseForm form : {DenseForm::kPerNode, DenseForm::kLayer}) {
    ExpectExact<float>(SeedDeepNetwork(DType::kF32, form), {{3, 5}}, {182});
    ExpectExact<double>(SeedDeepNetwork(DType::kF64, form), {{3, 5}}, {182});
  }
}

TEST(SeedTest, DeeperNetworkHiddenValuesAre26_0_0_26) {
  ir::Graph g = SeedDeepNetwork(DType::kF32, DenseForm::kPerNode);
  std::vector<std::vector<float>> values = EvaluateAllValues(g, RowMatrix<float>{{3, 5}});
  auto value = [&](const char* name) {
    int id = g.FindValue(name);
    EXPECT_GE(id, 0) << name;
    return id < 0 ? -1.0f : values[id][0];
  };
  EXPECT_EQ(value("node_0_0"), 26);
  EXPECT_EQ(value("node_0_1"), 0);
  EXPECT_EQ(value("node_0_1_input"), -13);
  EXPECT_EQ(value("node_1_0"), 0);
  EXPECT_EQ(value("node_1_1"), 26);
  EXPECT_EQ(value("output_0_input"), 182);
}

TEST(SeedTest, PerNodeAndLayerFormsPredictTheSame) {
  RowMatrix<float> rows{{3, 5}, {1, -1}, {0, 0}, {8, 4}, {-2.5f, 7.25f}};
  for (DType dtype : {DType::kF32, DType::kF64}) {
    if (dtype == DType::kF32) {
      EXPECT_EQ(EvaluateReference(SeedDeepNetwork(dtype, DenseForm::kPerNode), rows).data,
                EvaluateReference(SeedDeepNetwork(dtype, DenseForm::kLayer), rows).data);
    } else {
      RowMatrix<double> drows(rows.rows, rows.cols);
      for (size_t i = 0; i < rows.data.size(); ++i) drows.data[i] = rows.data[i];
      EXPECT_EQ(EvaluateReference(SeedDeepNetwork(dtype, DenseForm::kPerNode), drows).data,
                EvaluateReference(SeedDeepNetwork(dtype, DenseForm::kLayer), drows).data);
    }
  }
}

}  // namespace
}  // namespace rowflow
