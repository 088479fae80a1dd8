// The optimizer passes one by one: what each fuses, and that the plan with
// and without it computes the same rows.
#include "runtime/plan.h"

#include <gtest/gtest.h>

#include <cmath>

#include "runtime/reference.h"
#include "runtime/session.h"
#include "tests/random_graphs.h"
#include "tests/seed_networks.h"

namespace rowflow {
namespace {

using ir::Activation;
using testing::RandomRows;

// A 16 -> 32 relu -> 10 softmax network with biases, in either form.
ir::Graph MidNetwork(DenseForm form) {
  GraphBuilder b("mid");
  ValueRef x = b.Input("x", {16});
  std::vector<double> w1(32 * 16), b1(32), w2(10 * 32), b2(10);
  for (size_t i = 0; i < w1.size(); ++i)
    w1[i] = std::sin(0.1 * static_cast<double>(i));
  for (size_t i = 0; i < w2.size(); ++i)
    w2[i] = std::cos(0.2 * static_cast<double>(i));
  for (size_t i = 0; i < b1.size(); ++i) b1[i] = 0.01 * static_cast<double>(i);
  DenseOptions relu{Activation::kRelu, 0.01, form};
  DenseOptions softmax{Activation::kSoftmax, 0.01, form};
  ValueRef h = b.Dense(x, "hidden", 32, w1, b1, relu);
  b.Output(b.Dense(h, "out", 10, w2, b2, softmax));
  return b.Build();
}

std::vector<StageKind> Kinds(const std::vector<StageInfo>& stages) {
  std::vector<StageKind> kinds;
  for (const StageInfo& s : stages) kinds.push_back(s.kind);
  return kinds;
}

void ExpectSameAsReference(const ir::Graph& g, const PlanOptions& plan) {
  SessionOptions options;
  options.plan = plan;
  options.tile_rows = 37;
  const RowMatrix<float> in = RandomRows<float>(200, g.InputWidth(), 3);
  const RowMatrix<float> got = Session(g, options).Run(in);
  const RowMatrix<float> want = EvaluateReference(g, in);
  for (size_t i = 0; i < got.data.size(); ++i) {
    ASSERT_NEAR(got.data[i], want.data[i], 2e-4 * (1 + std::abs(want.data[i])))
        << i;
  }
}

TEST(PlanTest, LayerFormContractionBecomesOneDenseStagePerLayer) {
  const ir::Graph g = MidNetwork(DenseForm::kLayer);
  const std::vector<StageInfo> stages = DescribePlan(g);
  EXPECT_EQ(Kinds(stages),
            (std::vector<StageKind>{StageKind::kDense, StageKind::kDense}));
  // MULTIPLY, SUM, ADD(bias), ACTIVATION all inside each stage.
  EXPECT_EQ(stages[0].nodes.size(), 4u);
  EXPECT_EQ(stages[0].flops_per_row, 2 * 16 * 32);
  ExpectSameAsReference(g, {});
}

TEST(PlanTest, PerNodeUnitsMeetingInConcatBecomeOneDenseStage) {
  const ir::Graph g = MidNetwork(DenseForm::kPerNode);
  const std::vector<StageInfo> stages = DescribePlan(g);
  EXPECT_EQ(Kinds(stages),
            (std::vector<StageKind>{StageKind::kDense, StageKind::kDense}));
  // 32 units x (MULTIPLY, SUM, ADD, ACTIVATION) + CONCAT.
  EXPECT_EQ(stages[0].nodes.size(), 32u * 4 + 1);
  ExpectSameAsReference(g, {});
}

TEST(PlanTest, WithoutDenseFusionEveryNodeIsItsOwnStage) {
  const ir::Graph g = MidNetwork(DenseForm::kLayer);
  PlanOptions plan;
  plan.fuse_dense = false;
  plan.fuse_elementwise = false;
  EXPECT_EQ(DescribePlan(g, plan).size(), g.nodes.size());
  ExpectSameAsReference(g, plan);
}

TEST(PlanTest, TinyLayersChainIntoOneTinyStage) {
  for (DenseForm form : {DenseForm::kPerNode, DenseForm::kLayer}) {
    const ir::Graph g = testing::SeedDeepNetwork(ir::DType::kF32, form);
    const std::vector<StageInfo> stages = DescribePlan(g);
    ASSERT_EQ(Kinds(stages), std::vector<StageKind>{StageKind::kTinyMlp});
    EXPECT_EQ(stages[0].nodes.size(), g.nodes.size());
    ExpectSameAsReference(g, {});
    PlanOptions no_tiny;
    no_tiny.fuse_tiny = false;
    EXPECT_EQ(Kinds(DescribePlan(g, no_tiny)),
              (std::vector<StageKind>(3, StageKind::kDense)));
    ExpectSameAsReference(g, no_tiny);
  }
}

// A per-node layer feeding two layer-form layers: the chain keeps all three
// whatever order the layers were found in.
TEST(PlanTest, TinyChainOfMixedFormsKeepsEveryLayer) {
  GraphBuilder b("mixed");
  ValueRef x = b.Input("x", {2});
  ValueRef h = b.Dense(x, "a", 2, {1, 2, 3, -4}, {1, 2},
                       {Activation::kRelu, 0.01, DenseForm::kPerNode});
  h = b.Dense(h, "b", 2, {0.5, -1, 2, 1}, {0, 1},
              {Activation::kTanh, 0.01, DenseForm::kLayer});
  b.Output(b.Dense(h, "c", 1, {3, -2}, {0.25},
                   {Activation::kIdentity, 0.01, DenseForm::kLayer}));
  const ir::Graph g = b.Build();
  const std::vector<StageInfo> stages = DescribePlan(g);
  ASSERT_EQ(Kinds(stages), std::vector<StageKind>{StageKind::kTinyMlp});
  EXPECT_EQ(stages[0].nodes.size(), g.nodes.size());
  ExpectSameAsReference(g, {});
}

TEST(PlanTest, ElementwiseChainFusesIntoOnePass) {
  GraphBuilder b("chain");
  ValueRef x = b.Input("x", {2, 3});
  ValueRef v = b.Multiply(x, b.Constant("s", {3}, {1, 2, 3}));
  v = b.Add(v, b.Constant("t", {2, 1}, {-1, 1}));
  v = b.Activation(v, Activation::kTanh);
  v = b.Activation(v, Activation::kSoftmax);
  b.Output(v);
  const ir::Graph g = b.Build();
  EXPECT_EQ(Kinds(DescribePlan(g)),
            std::vector<StageKind>{StageKind::kElementwise});
  ExpectSameAsReference(g, {});
  PlanOptions plan;
  plan.fuse_elementwise = false;
  EXPECT_EQ(Kinds(DescribePlan(g, plan)),
            std::vector<StageKind>(4, StageKind::kGeneric));
  ExpectSameAsReference(g, plan);
}

TEST(PlanTest, SharedIntermediateIsNotFusedAway) {
  // The hidden layer's output is both an output and an input of the next
  // layer: it must be materialized, so the layers stay separate.
  GraphBuilder b("shared");
  ValueRef x = b.Input("x", {3});
  ValueRef h =
      b.Dense(x, "h", 3, {1, 0, 0, 0, 1, 0, 0, 0, 1}, {}, {Activation::kRelu});
  ValueRef y = b.Dense(h, "y", 1, {1, 2, 3}, {}, {});
  b.Output(h);
  b.Output(y);
  const ir::Graph g = b.Build();
  const std::vector<StageInfo> stages = DescribePlan(g);
  EXPECT_EQ(stages.size(), 3u);  // two tiny layers and the gather
  EXPECT_EQ(stages.back().kind, StageKind::kGather);
  ExpectSameAsReference(g, {});
}

TEST(PlanTest, BranchesGetTheirOwnBuffersAndJoin) {
  GraphBuilder b("branches");
  ValueRef x = b.Input("x", {20});
  std::vector<double> w(30 * 20, 0.05);
  ValueRef left = b.Dense(x, "left", 30, w, {}, {Activation::kRelu});
  ValueRef right = b.Dense(x, "right", 30, w, {}, {Activation::kTanh});
  b.Output(b.Add(left, right, "sum"));
  const ir::Graph g = b.Build();
  const std::vector<StageInfo> stages = DescribePlan(g);
  ASSERT_EQ(stages.size(), 3u);
  EXPECT_EQ(stages[2].deps.size(), 2u);
  ExpectSameAsReference(g, {});
}

// x: [2, 8] -> RESHAPE [16] -> dense 16->8 RELU -> RESHAPE [2, 4] -> SUM
// over the last axis -> ADD a RESHAPEd constant -> dense 2->3 -> RESHAPE
// [3, 1]. Without `relabels`, x is a [16] input and the output [3]: the
// RESHAPEs that only relabel left out.
template <typename T>
ir::Graph ReshapeNetwork(bool relabels) {
  constexpr ir::DType kDType =
      sizeof(T) == 4 ? ir::DType::kF32 : ir::DType::kF64;
  GraphBuilder b(relabels ? "reshape" : "flat", kDType);
  std::vector<double> w1(8 * 16), b1(8);
  for (size_t i = 0; i < w1.size(); ++i)
    w1[i] = std::sin(0.3 * static_cast<double>(i));
  for (size_t i = 0; i < b1.size(); ++i) b1[i] = 0.125 * static_cast<double>(i);
  ValueRef x = relabels ? b.Reshape(b.Input("x", {2, 8}), {16}, "flatten")
                        : b.Input("x", {16});
  ValueRef h = b.Dense(x, "hidden", 8, w1, b1, {Activation::kRelu});
  ValueRef halves = b.Sum(b.Reshape(h, {2, 4}, "group"), -1, "halves");
  // A row value (a node's output), so the ADD stays out of the next layer's
  // weights in both graphs.
  ValueRef shift =
      b.Reshape(b.Constant("shift", {1, 2}, {0.5, -0.25}), {2}, "shift2");
  ValueRef y = b.Dense(b.Add(halves, shift, "shifted"), "out", 3,
                       {1, -2, 0.5, 3, -1, 0.25}, {0.1, 0.2, 0.3}, {});
  b.Output(relabels ? b.Reshape(y, {3, 1}, "column") : y);
  return b.Build();
}

template <typename T>
void ExpectReshapeNetworkBitwise() {
  SCOPED_TRACE(sizeof(T) == 4 ? "F32" : "F64");
  const ir::Graph g = ReshapeNetwork<T>(true);
  const RowMatrix<T> in = RandomRows<T>(300, g.InputWidth(), 11);
  SessionOptions fused;
  fused.tile_rows = 37;
  SessionOptions unfused = fused;
  unfused.plan.fuse_dense = false;
  unfused.plan.fuse_tiny = false;
  unfused.plan.fuse_elementwise = false;
  unfused.plan.fold_affine = false;
  // Every node on its registry kernel: bitwise the reference interpreter.
  const RowMatrix<T> want = EvaluateReference(g, in);
  EXPECT_EQ(Session(g, unfused).Run(in).data, want.data);
  // Fused: dense stages sum in their own order, so within a tolerance of
  // the reference, and bitwise the same as the same plan over one tile
  // and many threads.
  const RowMatrix<T> got = Session(g, fused).Run(in);
  ASSERT_EQ(got.data.size(), want.data.size());
  const double tol = sizeof(T) == 4 ? 2e-5 : 1e-12;
  for (size_t i = 0; i < got.data.size(); ++i) {
    ASSERT_NEAR(got.data[i], want.data[i], tol * (1 + std::abs(want.data[i])))
        << i;
  }
  SessionOptions threads = fused;
  threads.threads = 2;
  EXPECT_EQ(Session(g, threads).Run(in).data, got.data);
  // The RESHAPEs of x and of the output only relabel: the plan without them
  // gives the very same bits.
  EXPECT_EQ(Session(ReshapeNetwork<T>(false), fused).Run(in).data, got.data);
}

TEST(PlanTest, ReshapeBetweenDenseLayersIsExact) {
  ExpectReshapeNetworkBitwise<float>();
  ExpectReshapeNetworkBitwise<double>();
  const ir::Graph g = ReshapeNetwork<float>(true);
  int reshapes = 0;
  for (const StageInfo& s : DescribePlan(g)) {
    reshapes += s.kind == StageKind::kGeneric && s.label.starts_with("RESHAPE");
  }
  // flatten, group, shift2 (a constant's, broadcast to every row), column.
  EXPECT_EQ(reshapes, 4);
}

}  // namespace
}  // namespace rowflow
