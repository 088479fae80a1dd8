// Every printed result of the seed notebook, through the C++ API and the
// reference evaluator, and again after Save -> Load in both encodings: in
// memory (SerializeGraph -> ParseGraph) and through real files in a scratch
// folder (SaveGraph -> LoadGraph).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "graph/serialize.h"
#include "runtime/reference.h"
#include "tests/seed_networks.h"
#include "tests/spec_test_util.h"

namespace rowflow {
namespace {

using ir::Activation;
using ir::DType;
using testing::ScratchDir;
using testing::SeedDeepNetwork;
using testing::SeedReluNetwork;
using testing::SeedTwoNodeNetwork;

// A graph and where it came from, for failure messages.
struct Version {
  std::string how;
  ir::Graph graph;
};

// The graph as built, and as read back from each encoding, in memory and
// from a file. Each read-back must serialize to the built graph's bytes.
std::vector<Version> WithRoundTrips(const ir::Graph& graph) {
  std::vector<Version> out;
  out.push_back({"built", graph});
  out.push_back(
      {"in-memory binary",
       ParseGraph(SerializeGraph(graph, Encoding::kBinary), "binary")});
  out.push_back({"in-memory text",
                 ParseGraph(SerializeGraph(graph, Encoding::kText), "text")});
  ScratchDir dir;
  for (auto [name, encoding] : {std::pair{"model.pb", Encoding::kBinary},
                                std::pair{"model.pbtxt", Encoding::kText}}) {
    const std::string path = dir.path() + "/" + name;
    SaveGraph(graph, path, encoding);
    std::ifstream file(path, std::ios::binary);
    const std::string saved{std::istreambuf_iterator<char>(file), {}};
    EXPECT_EQ(saved, SerializeGraph(graph, encoding)) << path;
    out.push_back({path, LoadGraph(path)});
  }
  const std::string bytes = SerializeGraph(graph, Encoding::kBinary);
  for (const Version& v : out) {
    EXPECT_EQ(SerializeGraph(v.graph, Encoding::kBinary), bytes) << v.how;
  }
  return out;
}

template <typename T>
void ExpectExact(const ir::Graph& graph, const RowMatrix<T>& input,
                 const std::vector<T>& expected) {
  for (const auto& [how, g] : WithRoundTrips(graph)) {
    RowMatrix<T> out = EvaluateReference(g, input);
    EXPECT_EQ(out.data, expected) << "graph " << g.name << ", " << how;
  }
}

TEST(SeedTest, HiddenLayerValuesAre5And1) {
  ir::Graph g = SeedTwoNodeNetwork("seed_2_2", DType::kF32, {1, 1}, {-1, 1},
                                   {2, -1}, Activation::kIdentity);
  // Outputs: hidden_layer_values (2 columns), then output.
  for (const auto& [how, h] : WithRoundTrips(g)) {
    RowMatrix<float> out = EvaluateReference(h, RowMatrix<float>{{2, 3}});
    EXPECT_EQ(out.at(0, 0), 5) << how;
    EXPECT_EQ(out.at(0, 1), 1) << how;
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
  for (const auto& [how, h] : WithRoundTrips(g)) {
    RowMatrix<double> out = EvaluateReference(h, RowMatrix<double>{{-1, 2}});
    EXPECT_NEAR(out.at(0, 2), 0.9901095378334199, 1e-15) << how;
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
  for (const Version& v :
       WithRoundTrips(SeedDeepNetwork(DType::kF32, DenseForm::kPerNode))) {
    SCOPED_TRACE(v.how);
    const ir::Graph& g = v.graph;
    std::vector<std::vector<float>> values =
        EvaluateAllValues(g, RowMatrix<float>{{3, 5}});
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
}

template <typename T>
void ExpectFormsPredictTheSame(DType dtype, const RowMatrix<T>& rows) {
  const std::vector<T> layer =
      EvaluateReference(SeedDeepNetwork(dtype, DenseForm::kLayer), rows).data;
  for (const auto& [how, g] :
       WithRoundTrips(SeedDeepNetwork(dtype, DenseForm::kPerNode))) {
    EXPECT_EQ(EvaluateReference(g, rows).data, layer) << "per-node, " << how;
  }
  for (const auto& [how, g] :
       WithRoundTrips(SeedDeepNetwork(dtype, DenseForm::kLayer))) {
    EXPECT_EQ(EvaluateReference(g, rows).data, layer) << "layer, " << how;
  }
}

TEST(SeedTest, PerNodeAndLayerFormsPredictTheSame) {
  RowMatrix<float> rows{{3, 5}, {1, -1}, {0, 0}, {8, 4}, {-2.5f, 7.25f}};
  ExpectFormsPredictTheSame(DType::kF32, rows);
  RowMatrix<double> drows(rows.rows, rows.cols);
  for (size_t i = 0; i < rows.data.size(); ++i) drows.data[i] = rows.data[i];
  ExpectFormsPredictTheSame(DType::kF64, drows);
}

}  // namespace
}  // namespace rowflow
