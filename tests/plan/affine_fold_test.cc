// Affine folding (runtime/plan_fold.h): which MULTIPLY / ADD chains next to
// a dense layer fold into its weights and bias, which must not, and that a
// folded plan differs from the reference evaluator by rounding only.
//
// Tolerance: a forward error bound per output element, carried through the
// network in exact arithmetic on magnitudes (|x| at the input):
//   dense  z = W x + b:  mag' = |b| + sum |w| mag
//                        err' = sum |w| err + (g_n + u) mag'
//   MULTIPLY by c:       mag' = |c| mag,   err' = |c| err + u mag'
//   ADD of c:            mag' = mag + |c|, err' = err + u mag' + g |c|
//   RELU:                unchanged
// u is the dtype's unit roundoff and g_n = (n+2)u / (1 - (n+2)u) the
// worst-case growth of any order of an n-term dot product with a bias. The
// reference stays within err of the exact result: each of its roundings is
// one of the u terms. So does the folded plan: its GEMM's growth covers the
// shifts folded into the bias (the g |c| of an ADD right after a layer,
// where g is that layer's g_n, else 0), and its weights and bias, rounded
// once from long double, are each within u of the folded exact values (the
// u in the dense rule and in every step). Plan and reference therefore
// differ by at most 2 err; a wrong fold differs by about mag.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "graph/builder.h"
#include "runtime/plan.h"
#include "runtime/reference.h"
#include "runtime/session.h"
#include "tests/random_graphs.h"

namespace rowflow {
namespace {

using ir::Activation;

// A chain of dense layers, per-feature affine steps and RELUs, built as a
// graph and as the bound above.
class Net {
 public:
  Net(ir::DType dtype, int64_t width, uint32_t seed = 1)
      : dtype_(dtype), input_width_(width), width_(width), rng_(seed) {}

  Net& Dense(int64_t units, bool bias, DenseForm form = DenseForm::kLayer) {
    Step s;
    s.kind = Kind::kDense;
    s.units = units;
    s.form = form;
    const double scale = 1 / std::sqrt(static_cast<double>(width_));
    for (int64_t i = 0; i < units * width_; ++i)
      s.weights.push_back(Rand(-scale, scale));
    for (int64_t i = 0; bias && i < units; ++i) s.bias.push_back(Rand(-1, 1));
    width_ = units;
    steps_.push_back(std::move(s));
    return *this;
  }
  // x·s with s of one entry per feature (or a scalar), away from zero like
  // BatchNorm's gamma / sqrt(var + eps), either sign.
  Net& Scale(bool per_feature = true) {
    Step s;
    s.kind = Kind::kMultiply;
    for (int64_t i = 0; i < (per_feature ? width_ : 1); ++i)
      s.constant.push_back(Rand(0.25, 4) * (Rand(-1, 1) < 0 ? -1 : 1));
    steps_.push_back(std::move(s));
    return *this;
  }
  Net& Shift(bool per_feature = true) {
    Step s;
    s.kind = Kind::kAdd;
    for (int64_t i = 0; i < (per_feature ? width_ : 1); ++i)
      s.constant.push_back(Rand(-3, 3));
    steps_.push_back(std::move(s));
    return *this;
  }
  Net& Relu() {
    Step s;
    s.kind = Kind::kRelu;
    steps_.push_back(std::move(s));
    return *this;
  }

  ir::Graph Build() const {
    GraphBuilder b("affine", dtype_);
    ValueRef v = b.Input("x", {input_width_});
    int64_t width = input_width_;
    for (size_t i = 0; i < steps_.size(); ++i) {
      const Step& s = steps_[i];
      const std::string name = "s" + std::to_string(i);
      switch (s.kind) {
        case Kind::kDense:
          v = b.Dense(v, name, s.units, s.weights, s.bias,
                      {Activation::kIdentity, {}, s.form});
          width = s.units;
          break;
        case Kind::kMultiply:
        case Kind::kAdd: {
          const ir::Shape shape =
              s.constant.size() == 1 ? ir::Shape{} : ir::Shape{width};
          ValueRef c = b.Constant(name + "/c", shape, s.constant);
          v = s.kind == Kind::kMultiply ? b.Multiply(v, c, name)
                                        : b.Add(c, v, name);
          break;
        }
        case Kind::kRelu:
          v = b.Activation(v, Activation::kRelu, {}, name);
          break;
      }
    }
    b.Output(v);
    return b.Build();
  }

  // The bound on |computed - exact| of each output of `row`, and its
  // magnitude.
  void Bound(const double* row, std::vector<double>* err,
             std::vector<double>* mag) const {
    const double u = dtype_ == ir::DType::kF32 ? 0x1p-24 : 0x1p-53;
    mag->assign(row, row + input_width_);
    for (double& m : *mag) m = std::abs(m);
    err->assign(input_width_, 0.0);
    double pending = 0;  // g of the layer the value comes straight from
    for (const Step& s : steps_) {
      const size_t n = mag->size();
      std::vector<double> m2, e2;
      switch (s.kind) {
        case Kind::kDense: {
          const double k = static_cast<double>(n + 2) * u;
          pending = k / (1 - k);
          for (int64_t j = 0; j < s.units; ++j) {
            double m = s.bias.empty() ? 0 : std::abs(s.bias[j]), e = 0;
            for (size_t i = 0; i < n; ++i) {
              m += std::abs(s.weights[j * n + i]) * (*mag)[i];
              e += std::abs(s.weights[j * n + i]) * (*err)[i];
            }
            m2.push_back(m);
            e2.push_back(e + (pending + u) * m);
          }
          break;
        }
        case Kind::kMultiply:
        case Kind::kAdd:
          for (size_t i = 0; i < n; ++i) {
            const double c =
                std::abs(s.constant[s.constant.size() == 1 ? 0 : i]);
            const bool mul = s.kind == Kind::kMultiply;
            const double m = mul ? c * (*mag)[i] : (*mag)[i] + c;
            m2.push_back(m);
            e2.push_back((mul ? c * (*err)[i] : (*err)[i] + pending * c) +
                         u * m);
          }
          break;
        case Kind::kRelu:
          pending = 0;
          continue;
      }
      *mag = std::move(m2);
      *err = std::move(e2);
    }
  }

  ir::DType dtype() const { return dtype_; }

 private:
  enum class Kind { kDense, kMultiply, kAdd, kRelu };
  struct Step {
    Kind kind = Kind::kDense;
    int64_t units = 0;
    DenseForm form = DenseForm::kLayer;
    std::vector<double> weights, bias;  // kDense: (units, width), units
    std::vector<double> constant;       // kMultiply / kAdd
  };

  // Uniform in [lo, hi), exact in the dtype.
  double Rand(double lo, double hi) {
    const double v = std::uniform_real_distribution<double>(lo, hi)(rng_);
    return dtype_ == ir::DType::kF32 ? static_cast<float>(v) : v;
  }

  ir::DType dtype_;
  int64_t input_width_, width_;
  std::mt19937 rng_;
  std::vector<Step> steps_;
};

std::vector<StageKind> Kinds(const std::vector<StageInfo>& stages) {
  std::vector<StageKind> kinds;
  for (const StageInfo& s : stages) kinds.push_back(s.kind);
  return kinds;
}

const StageKind kDense = StageKind::kDense;
const StageKind kTiny = StageKind::kTinyMlp;
const StageKind kElementwise = StageKind::kElementwise;

PlanOptions NoFold() {
  PlanOptions plan;
  plan.fold_affine = false;
  return plan;
}

template <typename T>
RowMatrix<T> RunPlan(const ir::Graph& g, const RowMatrix<T>& in,
                     const PlanOptions& plan = {}) {
  SessionOptions options;
  options.plan = plan;
  options.tile_rows = 37;
  options.threads = 2;
  return Session(g, options).Run(in);
}

// The plan against the reference within 2 err, element by element; prints
// the largest difference in units of u·mag, the scale the fold rounds on.
template <typename T>
void ExpectWithinBound(const Net& net, const ir::Graph& g,
                       const PlanOptions& plan, const std::string& what) {
  constexpr int64_t kRows = 200;
  const RowMatrix<T> in = testing::RandomRows<T>(kRows, g.InputWidth(), 5);
  const RowMatrix<T> got = RunPlan(g, in, plan);
  const RowMatrix<T> want = EvaluateReference(g, in);
  const int64_t cols = g.OutputWidth();
  const double u = std::numeric_limits<T>::epsilon() / 2;
  double worst = 0, worst_bound = 0;
  std::vector<double> err, mag;
  for (int64_t r = 0; r < kRows; ++r) {
    const std::vector<double> row(in.data.begin() + r * in.cols,
                                  in.data.begin() + (r + 1) * in.cols);
    net.Bound(row.data(), &err, &mag);
    ASSERT_EQ(static_cast<int64_t>(err.size()), cols);
    for (int64_t j = 0; j < cols; ++j) {
      const double d = std::abs(static_cast<double>(got.data[r * cols + j]) -
                                static_cast<double>(want.data[r * cols + j]));
      ASSERT_LE(d, 2 * err[j]) << what << " row " << r << " output " << j
                               << ": plan " << got.data[r * cols + j]
                               << ", reference " << want.data[r * cols + j];
      worst = std::max(worst, d / (u * mag[j]));
      worst_bound = std::max(worst_bound, 2 * err[j] / (u * mag[j]));
    }
  }
  std::printf("%-40s %s: max |plan - ref| = %.2f u·mag (bound %.1f)\n",
              what.c_str(), sizeof(T) == 4 ? "f32" : "f64", worst, worst_bound);
}

// `net` in both dtypes: folded, the plan has `kinds`, a stage noting
// `folded` nodes, and stays within the bound; unfolded, it has more stages,
// an elementwise one among them, and stays within it too.
struct FoldCase {
  std::string name;
  Net (*make)(ir::DType);
  std::vector<StageKind> kinds;
  int folded;  // "+folded affine x<folded>" on the first dense stage
};

void CheckFolds(const FoldCase& c) {
  for (ir::DType dtype : {ir::DType::kF64, ir::DType::kF32}) {
    const Net net = c.make(dtype);
    const ir::Graph g = net.Build();
    const std::vector<StageInfo> stages = DescribePlan(g);
    EXPECT_EQ(Kinds(stages), c.kinds) << c.name;
    const std::string note = "+folded affine x" + std::to_string(c.folded);
    bool noted = false;
    for (const StageInfo& s : stages) {
      if (s.label.find("folded affine") == std::string::npos) continue;
      EXPECT_NE(s.label.find(note), std::string::npos) << s.label;
      noted = true;
    }
    EXPECT_TRUE(noted) << c.name;
    const std::vector<StageKind> unfolded = Kinds(DescribePlan(g, NoFold()));
    EXPECT_NE(std::find(unfolded.begin(), unfolded.end(), kElementwise),
              unfolded.end())
        << c.name;
    EXPECT_GT(unfolded.size(), stages.size()) << c.name;
    if (dtype == ir::DType::kF64) {
      ExpectWithinBound<double>(net, g, {}, c.name);
      ExpectWithinBound<double>(net, g, NoFold(), c.name + " unfolded");
    } else {
      ExpectWithinBound<float>(net, g, {}, c.name);
      ExpectWithinBound<float>(net, g, NoFold(), c.name + " unfolded");
    }
  }
}

TEST(AffineFoldTest, BatchNormAfterALayerFoldsIntoIt) {
  CheckFolds({"after",
              [](ir::DType d) {
                return std::move(Net(d, 24).Dense(40, true).Scale().Shift());
              },
              {kDense},
              2});
}

TEST(AffineFoldTest, ScaleAloneAfterALayerWithoutBiasKeepsItBiasFree) {
  const Net net = std::move(Net(ir::DType::kF64, 24).Dense(40, false).Scale());
  const std::vector<StageInfo> stages = DescribePlan(net.Build());
  ASSERT_EQ(Kinds(stages), std::vector<StageKind>{kDense});
  EXPECT_EQ(stages[0].label, "dense 24->40 +folded affine x1");
  CheckFolds({"after, no bias, scale only",
              [](ir::DType d) {
                return std::move(Net(d, 24).Dense(40, false).Scale());
              },
              {kDense},
              1});
}

TEST(AffineFoldTest, ScalarScaleAndShiftFold) {
  CheckFolds({"after, no bias, scalar s and t",
              [](ir::DType d) {
                return std::move(
                    Net(d, 24).Dense(40, false).Scale(false).Shift(false));
              },
              {kDense},
              2});
  CheckFolds({"before, scalar s, per-feature t",
              [](ir::DType d) {
                return std::move(
                    Net(d, 24).Scale(false).Shift().Dense(40, false));
              },
              {kDense},
              2});
}

TEST(AffineFoldTest, StandardisationBeforeTheFirstLayerFoldsIntoIt) {
  // (x - mu) * (1 / sd), then the layer.
  CheckFolds({"standardisation",
              [](ir::DType d) {
                return std::move(Net(d, 24).Shift().Scale().Dense(40, true));
              },
              {kDense},
              2});
}

TEST(AffineFoldTest, ChainsBeforeAndAfterFoldTogether) {
  // Standardisation then BatchNorm before the layer, a scalar scale after.
  CheckFolds({"chain before and after",
              [](ir::DType d) {
                return std::move(Net(d, 24)
                                     .Shift()
                                     .Scale()
                                     .Scale()
                                     .Shift()
                                     .Dense(40, true)
                                     .Scale(false)
                                     .Shift());
              },
              {kDense},
              6});
}

TEST(AffineFoldTest, BatchNormBetweenLayersFoldsIntoOne) {
  // After the first layer when it is linear ...
  CheckFolds({"between, linear",
              [](ir::DType d) {
                return std::move(
                    Net(d, 24).Dense(40, true).Scale().Shift().Dense(16, true));
              },
              {kDense, kDense},
              2});
  // ... before the second past a RELU (Linear, ReLU, BatchNorm, Linear).
  CheckFolds({"between, past a relu",
              [](ir::DType d) {
                return std::move(
                    Net(d, 24).Dense(40, true).Relu().Scale().Shift().Dense(
                        16, false));
              },
              {kDense, kDense},
              2});
}

TEST(AffineFoldTest, ActivationAfterAFoldedBatchNormJoinsTheEpilogue) {
  // Linear, BatchNorm, ReLU: one GEMM with the RELU in its epilogue.
  const Net net = std::move(
      Net(ir::DType::kF64, 24).Dense(40, true).Scale().Shift().Relu());
  const std::vector<StageInfo> stages = DescribePlan(net.Build());
  ASSERT_EQ(Kinds(stages), std::vector<StageKind>{kDense});
  EXPECT_EQ(stages[0].label, "dense 24->40 RELU +bias +folded affine x2");
  EXPECT_EQ(stages[0].nodes.size(), 6u);  // MULTIPLY SUM ADD, MUL ADD, RELU
  CheckFolds(
      {"after, then relu",
       [](ir::DType d) {
         return std::move(
             Net(d, 24).Dense(40, true).Scale().Shift().Relu().Dense(8, true));
       },
       {kDense, kDense},
       2});
}

TEST(AffineFoldTest, TinyLayersWithBatchNormStayOneTinyLoop) {
  CheckFolds({"tiny chain",
              [](ir::DType d) {
                return std::move(Net(d, 2)
                                     .Shift()
                                     .Scale()
                                     .Dense(4, true)
                                     .Relu()
                                     .Scale()
                                     .Shift()
                                     .Dense(3, true, DenseForm::kPerNode)
                                     .Scale()
                                     .Dense(1, false));
              },
              {kTiny},
              2});
}

TEST(AffineFoldTest, PerNodeLayersFold) {
  CheckFolds({"per-node",
              [](ir::DType d) {
                return std::move(Net(d, 24)
                                     .Scale()
                                     .Dense(12, true, DenseForm::kPerNode)
                                     .Scale()
                                     .Shift());
              },
              {kDense},
              3});
}

// A one-unit per-node layer's MULTIPLY(x, w[width]) is shaped like a
// per-feature scale of x; it belongs to its layer, not to the one before.
TEST(AffineFoldTest, NextLayersMultiplyIsNotTakenForAScale) {
  const Net net = std::move(Net(ir::DType::kF64, 24)
                                .Dense(40, true)
                                .Dense(1, true, DenseForm::kPerNode));
  const ir::Graph g = net.Build();
  const std::vector<StageInfo> stages = DescribePlan(g);
  ASSERT_EQ(Kinds(stages), (std::vector<StageKind>{kDense, kDense}));
  EXPECT_EQ(stages[0].label, "dense 24->40 +bias");
  ExpectWithinBound<double>(net, g, {}, "next layer's multiply");
}

// Graphs where the plan must not fold: folding on or off gives the same
// stages and the same bits.
void ExpectNotFolded(const ir::Graph& g, StageKind kind_left) {
  const std::vector<StageInfo> stages = DescribePlan(g);
  const std::vector<StageInfo> unfolded = DescribePlan(g, NoFold());
  ASSERT_EQ(Kinds(stages), Kinds(unfolded));
  for (size_t i = 0; i < stages.size(); ++i) {
    EXPECT_EQ(stages[i].label, unfolded[i].label);
    EXPECT_EQ(stages[i].nodes, unfolded[i].nodes);
  }
  const std::vector<StageKind> kinds = Kinds(stages);
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), kind_left), kinds.end());
  if (g.dtype == ir::DType::kF64) {
    const auto in = testing::RandomRows<double>(100, g.InputWidth(), 9);
    EXPECT_EQ(RunPlan(g, in).data, RunPlan(g, in, NoFold()).data);
  } else {
    const auto in = testing::RandomRows<float>(100, g.InputWidth(), 9);
    EXPECT_EQ(RunPlan(g, in).data, RunPlan(g, in, NoFold()).data);
  }
}

TEST(AffineFoldTest, AffineNextToALayerOutputIsNotFolded) {
  {
    // The layer's own output is a graph output too.
    GraphBuilder b("after_output", ir::DType::kF64);
    ValueRef y =
        b.Dense(b.Input("x", {8}), "d", 9, std::vector<double>(72, 0.5), {});
    b.Output(y);
    b.Output(b.Multiply(y, b.Constant("s", {9}, std::vector<double>(9, 3))));
    ExpectNotFolded(b.Build(), kElementwise);
  }
  {
    // The affine's result is a graph output as well as the layer's input.
    GraphBuilder b("before_output", ir::DType::kF64);
    ValueRef a = b.Add(b.Input("x", {8}),
                       b.Constant("t", {8}, std::vector<double>(8, -1)));
    b.Output(a);
    b.Output(b.Dense(a, "d", 9, std::vector<double>(72, 0.5), {}));
    ExpectNotFolded(b.Build(), kElementwise);
  }
}

TEST(AffineFoldTest, AffineReadByTwoLayersIsNotFolded) {
  GraphBuilder b("shared", ir::DType::kF64);
  ValueRef a = b.Multiply(b.Input("x", {8}),
                          b.Constant("s", {8}, std::vector<double>(8, 2)));
  ValueRef left = b.Dense(a, "l", 9, std::vector<double>(72, 0.5), {});
  ValueRef right = b.Dense(a, "r", 9, std::vector<double>(72, -0.25), {});
  b.Output(b.Concat({left, right}));
  ExpectNotFolded(b.Build(), kElementwise);
}

TEST(AffineFoldTest, BroadcastAlongANonFeatureAxisIsNotFolded) {
  {
    // (9) * (2, 1) -> (2, 9): a new axis, not a per-feature scale.
    GraphBuilder b("new_axis", ir::DType::kF64);
    ValueRef y =
        b.Dense(b.Input("x", {8}), "d", 9, std::vector<double>(72, 0.5),
                {1, 2, 3, 4, 5, 6, 7, 8, 9});
    b.Output(b.Multiply(y, b.Constant("s", {2, 1}, {2, -3})));
    ExpectNotFolded(b.Build(), StageKind::kGeneric);
  }
  {
    // (9) + (1, 9) -> (1, 9): per feature, but the shape changes.
    GraphBuilder b("row_vector", ir::DType::kF64);
    ValueRef y =
        b.Dense(b.Input("x", {8}), "d", 9, std::vector<double>(72, 0.5), {});
    b.Output(b.Add(y, b.Constant("t", {1, 9}, std::vector<double>(9, 1))));
    ExpectNotFolded(b.Build(), StageKind::kGeneric);
  }
}

TEST(AffineFoldTest, FoldThatWouldOverflowTheDtypeIsNotMade) {
  // 1e30 * 1e10 is finite in the double the fold computes in, not in F32.
  GraphBuilder b("overflow", ir::DType::kF32);
  ValueRef y = b.Dense(b.Input("x", {2}), "d", 2, {1e30, 0, 0, 1e-30}, {});
  b.Output(b.Multiply(y, b.Constant("s", {2}, {1e10, 1})));
  const ir::Graph g = b.Build();
  ExpectNotFolded(g, kElementwise);
  // Past the refusal the same graph scaled within range folds.
  GraphBuilder ok("in_range", ir::DType::kF32);
  y = ok.Dense(ok.Input("x", {2}), "d", 2, {1e20, 0, 0, 1e-30}, {});
  ok.Output(ok.Multiply(y, ok.Constant("s", {2}, {1e10, 1})));
  EXPECT_EQ(Kinds(DescribePlan(ok.Build())), std::vector<StageKind>{kTiny});
}

TEST(AffineFoldTest, NeverFoldsThroughANonlinearity) {
  for (ir::DType dtype : {ir::DType::kF64, ir::DType::kF32}) {
    const Net net =
        std::move(Net(dtype, 24).Dense(40, true).Relu().Scale().Shift());
    const ir::Graph g = net.Build();
    EXPECT_EQ(Kinds(DescribePlan(g)),
              (std::vector<StageKind>{kDense, kElementwise}));
    ExpectNotFolded(g, kElementwise);
    if (dtype == ir::DType::kF64) {
      ExpectWithinBound<double>(net, g, {}, "relu between");
    } else {
      ExpectWithinBound<float>(net, g, {}, "relu between");
    }
  }
}

// With fold_affine off the affine runs as today's elementwise stage after
// the GEMM: the same bits as the layer alone, then x·s + t in the dtype.
TEST(AffineFoldTest, FoldOffRunsTheAffineAfterTheLayerBitForBit) {
  GraphBuilder layer("layer", ir::DType::kF32), full("full", ir::DType::kF32);
  std::vector<double> w(24 * 40), bias(40), s(40), t(40);
  for (size_t i = 0; i < w.size(); ++i)
    w[i] = static_cast<float>(std::sin(0.37 * static_cast<double>(i)));
  for (size_t j = 0; j < 40; ++j) {
    bias[j] = static_cast<float>(0.1 * static_cast<double>(j));
    s[j] = static_cast<float>(1.5 - 0.07 * static_cast<double>(j));
    t[j] = static_cast<float>(std::cos(static_cast<double>(j)));
  }
  layer.Output(layer.Dense(layer.Input("x", {24}), "d", 40, w, bias));
  ValueRef y = full.Dense(full.Input("x", {24}), "d", 40, w, bias);
  y = full.Multiply(y, full.Constant("s", {40}, s));
  full.Output(full.Add(y, full.Constant("t", {40}, t)));
  const RowMatrix<float> in = testing::RandomRows<float>(100, 24, 4);
  const RowMatrix<float> z = RunPlan(layer.Build(), in);
  const ir::Graph g = full.Build();
  EXPECT_EQ(Kinds(DescribePlan(g, NoFold())),
            (std::vector<StageKind>{kDense, kElementwise}));
  const RowMatrix<float> got = RunPlan(g, in, NoFold());
  for (int64_t r = 0; r < 100; ++r) {
    for (int64_t j = 0; j < 40; ++j) {
      // Two roundings, as the graph says; volatile keeps them from being
      // contracted into one FMA.
      volatile float scaled = z.data[r * 40 + j] * static_cast<float>(s[j]);
      const float want = scaled + static_cast<float>(t[j]);
      ASSERT_EQ(got.data[r * 40 + j], want) << r << "," << j;
    }
  }
}

}  // namespace
}  // namespace rowflow
