// The example specs in tools/examples/ build in both forms and give the seed
// notebook's printed numbers through the reference evaluator, before and
// after a save/load round trip.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "graph/serialize.h"
#include "graph/spec.h"
#include "runtime/reference.h"

namespace rowflow {
namespace {

const std::string kExamples =
    std::string(ROWFLOW_SOURCE_DIR) + "/tools/examples/";

ir::Graph Example(const std::string& name, DenseForm form) {
  return BuildGraphFromSpec(kExamples + name + ".pbtxt", form);
}

// The rows of the example's input CSV (plain "a,b" lines).
template <typename T>
RowMatrix<T> ExampleRows(const std::string& name) {
  std::ifstream in(kExamples + name + ".csv");
  RowMatrix<T> rows;
  std::string line;
  while (std::getline(in, line)) {
    std::stringstream fields(line);
    std::string field;
    int64_t cols = 0;
    while (std::getline(fields, field, ',')) {
      rows.data.push_back(static_cast<T>(std::stod(field)));
      ++cols;
    }
    rows.cols = cols;
    ++rows.rows;
  }
  return rows;
}

// Evaluates `name` on its CSV in both forms and both encodings.
template <typename T>
void ExpectOutputs(const std::string& name, const std::vector<T>& expected) {
  const RowMatrix<T> input = ExampleRows<T>(name);
  ASSERT_GT(input.rows, 0) << name;
  for (DenseForm form : {DenseForm::kLayer, DenseForm::kPerNode}) {
    const ir::Graph built = Example(name, form);
    for (const ir::Graph& g :
         {built, ParseGraph(SerializeGraph(built, Encoding::kBinary), "binary"),
          ParseGraph(SerializeGraph(built, Encoding::kText), "text")}) {
      EXPECT_EQ(EvaluateReference(g, input).data, expected)
          << name << (form == DenseForm::kLayer ? " (layer)" : " (per-node)");
    }
  }
}

TEST(SpecExamplesTest, Seed22Gives9) { ExpectOutputs<float>("seed_2_2", {9}); }

TEST(SpecExamplesTest, Seed33TanhGivesNumpysDouble) {
  ExpectOutputs<double>("seed_3_3", {0.9901095378334199});
}

TEST(SpecExamplesTest, Seed34Gives52) {
  ExpectOutputs<float>("seed_3_4", {52});
}

TEST(SpecExamplesTest, Seed34RowsGivePredictWithNetworksResults) {
  ExpectOutputs<float>("seed_3_4_rows", {52, 63, 0, 148});
}

TEST(SpecExamplesTest, Seed45Gives182) {
  ExpectOutputs<float>("seed_4_5", {182});
}

TEST(SpecExamplesTest, WeightFilesGiveTheSameNetwork) {
  const RowMatrix<float> input = ExampleRows<float>("seed_4_5");
  for (DenseForm form : {DenseForm::kLayer, DenseForm::kPerNode}) {
    const ir::Graph g = Example("seed_4_5_files", form);
    EXPECT_EQ(EvaluateReference(g, input).data, std::vector<float>{182});
    EXPECT_EQ(g.values[g.outputs[0]].name, "y");
  }
}

TEST(SpecExamplesTest, PerNodeAndLayerFormsAgreeBitwise) {
  const ir::Graph layer = Example("mlp_init", DenseForm::kLayer);
  const ir::Graph per_node = Example("mlp_init", DenseForm::kPerNode);
  EXPECT_EQ(layer.values[layer.outputs[0]].name, "y");
  EXPECT_EQ(per_node.values[per_node.outputs[0]].name, "y");
  std::mt19937 gen(1);
  std::uniform_int_distribution<int> dist(-64, 64);
  RowMatrix<float> input(37, 64);
  for (float& v : input.data) v = static_cast<float>(dist(gen)) / 16;
  const RowMatrix<float> a = EvaluateReference(layer, input);
  const RowMatrix<float> b = EvaluateReference(per_node, input);
  ASSERT_EQ(a.cols, 10);
  EXPECT_EQ(a.data, b.data);
  EXPECT_EQ(EvaluateReference(layer, ExampleRows<float>("mlp_init")).rows, 3);
}

TEST(SpecExamplesTest, SameSpecSameModelBytes) {
  for (DenseForm form : {DenseForm::kLayer, DenseForm::kPerNode}) {
    EXPECT_EQ(SerializeGraph(Example("mlp_init", form), Encoding::kBinary),
              SerializeGraph(Example("mlp_init", form), Encoding::kBinary));
  }
}

}  // namespace
}  // namespace rowflow
