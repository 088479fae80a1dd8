// The Session against the reference evaluator on an explicit table of
// shapes, not random draws: every width of {1, 3, 17, 33, 65, 129, 257,
// 1025} (tiny path, one GEMM block, several K blocks) with every activation
// and both dtypes; every row count of {0, 1, tile-1, tile, tile+1} with
// every width; tiny chains of 2-4 layers; chains up to 30 layers deep.
//
// Tolerance: a forward error bound per output element, not a constant. A
// layer's pre-activation z_u = b_u + sum_i x_i w_ui is allowed
//   sum_i |w_ui| B_i + c sqrt(n) eps (|b_u| + sum_i |x_i w_ui|)
// (B_i: the bound of input i; the second term is gemm_test's rounded-sum
// growth), and its activation adds L times that (L = 2 bounds every
// activation's slope with the alphas used here) plus k eps (|y| + |z|) for
// its own rounding. The plan and the reference each stay within the bound
// of the exact result, so they differ by at most twice of it. The bound
// scales with the magnitudes that went into each value, so it does not
// ignore small values (no max(|want|, 1)).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "graph/builder.h"
#include "graph/error.h"
#include "runtime/reference.h"
#include "runtime/session.h"

namespace rowflow {
namespace {

using ir::Activation;

// The activations under test: every enum value from the first to the last.
// (Extend kLastActivation when the enum grows.)
constexpr Activation kFirstActivation = Activation::kIdentity;
constexpr Activation kLastActivation = Activation::kLogSoftmax;

constexpr int64_t kWidths[] = {1, 3, 17, 33, 65, 129, 257, 1025};
constexpr ir::DType kDTypes[] = {ir::DType::kF32, ir::DType::kF64};

// Rows of a case, relative to the Session's tile.
enum class RowCount { kZero, kOne, kTileMinusOne, kTile, kTilePlusOne };
constexpr RowCount kRowCounts[] = {RowCount::kZero, RowCount::kOne,
                                   RowCount::kTileMinusOne, RowCount::kTile,
                                   RowCount::kTilePlusOne};

// Softmax-like activations couple a row's units.
bool Rowwise(Activation act) {
  return act == Activation::kSoftmax || act == Activation::kLogSoftmax;
}

// The activations validation accepts, in enum order. An activation the
// graph refuses (not implemented in this build) is skipped and named once
// on stdout, so the table covers it as soon as it is.
const std::vector<Activation>& TestedActivations() {
  static const std::vector<Activation> tested = [] {
    std::vector<Activation> accepted;
    std::string skipped;
    for (int a = static_cast<int>(kFirstActivation);
         a <= static_cast<int>(kLastActivation); ++a) {
      const auto act = static_cast<Activation>(a);
      try {
        GraphBuilder b("probe");
        DenseOptions options;
        options.activation = act;
        b.Output(
            b.Dense(b.Input("x", {2}), "layer", 2, {1, 2, 3, 4}, {}, options));
        b.Build();
        accepted.push_back(act);
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::kModel) throw;
        skipped += " " + std::string(ir::ActivationName(act));
      }
    }
    if (!skipped.empty()) {
      std::printf("skipped (refused by validation in this build):%s\n",
                  skipped.c_str());
    }
    return accepted;
  }();
  return tested;
}

struct LayerSpec {
  int64_t units;
  Activation act;
  bool bias = true;
  DenseForm form = DenseForm::kLayer;
};

// The kind of stage a case must plan to, so it tests the path it names.
enum class Expect { kAny, kOneTinyStage, kDenseStage };

struct Case {
  std::string name;
  ir::DType dtype;
  int64_t width;
  std::vector<LayerSpec> layers;
  RowCount rows;
  Expect expect = Expect::kAny;
  int64_t tile = 0;  // 0: the Session's choice
  int threads = 2;
};

int64_t Rows(RowCount rc, int64_t tile) {
  switch (rc) {
    case RowCount::kZero:
      return 0;
    case RowCount::kOne:
      return 1;
    case RowCount::kTileMinusOne:
      return tile - 1;
    case RowCount::kTile:
      return tile;
    case RowCount::kTilePlusOne:
      return tile + 1;
  }
  return 0;
}

std::string RowCountName(RowCount rc) {
  constexpr const char* kNames[] = {"0", "1", "tile-1", "tile", "tile+1"};
  return kNames[static_cast<int>(rc)];
}

std::string Describe(const Case& c) {
  std::string s = c.name + " " + std::string(ir::DTypeName(c.dtype)) + " x[" +
                  std::to_string(c.width) + "]";
  for (const LayerSpec& l : c.layers) {
    s += " -> " + std::to_string(l.units) + " " +
         std::string(ir::ActivationName(l.act)) + (l.bias ? "+b" : "") +
         (l.form == DenseForm::kPerNode ? " per-node" : "");
  }
  return s + ", rows " + RowCountName(c.rows) +
         (c.tile ? " of tile " + std::to_string(c.tile) : "");
}

std::string LayerName(size_t i) { return "layer_" + std::to_string(i); }

// The weights of every layer, rounded to T: layer 0 uniform in
// +-1/sqrt(width) (pre-activations of order 1), later layers in +-1/width
// (a row's |w| sums to about 1/2, so errors do not grow with depth);
// biases in [-1, 1].
template <typename T>
struct Weights {
  std::vector<std::vector<double>> w, b;
};

template <typename T>
Weights<T> MakeWeights(const Case& c, std::mt19937& rng) {
  Weights<T> out;
  int64_t n = c.width;
  for (size_t i = 0; i < c.layers.size(); ++i) {
    const LayerSpec& l = c.layers[i];
    const double a = i == 0 ? 1 / std::sqrt(static_cast<double>(n))
                            : 1 / static_cast<double>(n);
    std::uniform_real_distribution<double> wd(-a, a), bd(-1, 1);
    std::vector<double> w(l.units * n), b;
    for (double& v : w) v = static_cast<T>(wd(rng));
    if (l.bias) {
      b.resize(l.units);
      for (double& v : b) v = static_cast<T>(bd(rng));
    }
    out.w.push_back(std::move(w));
    out.b.push_back(std::move(b));
    n = l.units;
  }
  return out;
}

ir::Graph BuildGraph(const Case& c, const std::vector<std::vector<double>>& w,
                     const std::vector<std::vector<double>>& b) {
  GraphBuilder g("table", c.dtype);
  ValueRef v = g.Input("x", {c.width});
  for (size_t i = 0; i < c.layers.size(); ++i) {
    DenseOptions options;
    options.activation = c.layers[i].act;
    options.alpha = 0.3;  // LEAKY_RELU, ELU, HARD_SIGMOID: slope below L = 2
    options.form = c.layers[i].form;
    v = g.Dense(v, LayerName(i), c.layers[i].units, w[i], b[i], options);
  }
  g.Output(v);
  return g.Build();
}

void CheckStages(const Case& c, const Session& s) {
  const std::vector<StageInfo>& stages = s.stages();
  auto count = [&](StageKind kind) {
    return std::count_if(stages.begin(), stages.end(),
                         [&](const StageInfo& st) { return st.kind == kind; });
  };
  if (c.expect == Expect::kOneTinyStage) {
    ASSERT_EQ(stages.size(), 1u) << Describe(c) << ": " << stages[0].label;
    ASSERT_EQ(stages[0].kind, StageKind::kTinyMlp)
        << Describe(c) << ": " << stages[0].label;
  }
  if (c.expect == Expect::kDenseStage) {
    ASSERT_GE(count(StageKind::kDense), 1) << Describe(c);
  }
}

template <typename T>
void RunCase(const Case& c, uint32_t seed) {
  SCOPED_TRACE(Describe(c));
  std::mt19937 rng(seed);
  const Weights<T> weights = MakeWeights<T>(c, rng);
  const ir::Graph g = BuildGraph(c, weights.w, weights.b);
  SessionOptions options;
  options.threads = c.threads;
  options.tile_rows = c.tile;
  Session session(g, options);
  CheckStages(c, session);
  const int64_t rows = Rows(c.rows, session.tile_rows());
  RowMatrix<T> in(rows, c.width);
  std::uniform_real_distribution<double> xd(-3, 3);
  for (T& v : in.data) v = static_cast<T>(xd(rng));

  const RowMatrix<T> got = session.Run(in);
  const std::vector<std::vector<T>> values = EvaluateAllValues(g, in);
  const int64_t out_cols = c.layers.back().units;
  ASSERT_EQ(got.rows, rows);
  ASSERT_EQ(got.cols, out_cols);
  ASSERT_EQ(session.last_run().rows, rows);

  const double eps = std::numeric_limits<T>::epsilon();
  const double floor = 16 * std::numeric_limits<T>::min();
  constexpr double kSumC = 8, kActK = 16, kSlope = 2;
  std::vector<int> ids = {g.FindValue("x")};
  for (size_t i = 0; i < c.layers.size(); ++i)
    ids.push_back(g.FindValue(LayerName(i)));
  for (int id : ids) ASSERT_GE(id, 0);

  std::vector<double> bound_in, bound_z, bound_out;
  std::vector<long double> z;
  for (int64_t r = 0; r < rows; ++r) {
    bound_in.assign(c.width, 0.0);
    int64_t n = c.width;
    for (size_t i = 0; i < c.layers.size(); ++i) {
      const LayerSpec& l = c.layers[i];
      const T* x = values[ids[i]].data() + r * n;
      const T* y = values[ids[i + 1]].data() + r * l.units;
      const std::vector<double>& w = weights.w[i];
      const std::vector<double>& b = weights.b[i];
      z.assign(l.units, 0);
      bound_z.assign(l.units, 0);
      const double grow = kSumC * std::sqrt(static_cast<double>(n)) * eps;
      for (int64_t u = 0; u < l.units; ++u) {
        long double s = l.bias ? b[u] : 0;
        double mag = l.bias ? std::fabs(b[u]) : 0, prop = 0;
        for (int64_t k = 0; k < n; ++k) {
          const double wk = w[u * n + k];
          s += static_cast<long double>(x[k]) * wk;
          mag += std::fabs(x[k] * wk);
          prop += std::fabs(wk) * bound_in[k];
        }
        z[u] = s;
        bound_z[u] = prop + grow * mag;
      }
      const double z_err = *std::max_element(bound_z.begin(), bound_z.end());
      double z_max = 0;
      for (long double v : z)
        z_max = std::max(z_max, static_cast<double>(std::fabs(v)));
      const double units_root = std::sqrt(static_cast<double>(l.units));
      bound_out.assign(l.units, 0);
      for (int64_t u = 0; u < l.units; ++u) {
        const double yu = std::fabs(static_cast<double>(y[u]));
        const double zu = std::fabs(static_cast<double>(z[u]));
        double e;
        if (l.act == Activation::kSoftmax) {
          // dy_u = y_u (dz_u - sum_j y_j dz_j): relative to y_u.
          e = 2 * yu * z_err + kActK * units_root * eps * yu;
        } else if (Rowwise(l.act)) {
          // y_u = z_u - max - log(sum): absolute, from every unit.
          e = kSlope * z_err + kActK * eps * (yu + zu + z_max + units_root);
        } else {
          e = kSlope * bound_z[u] + kActK * eps * (yu + zu);
        }
        bound_out[u] = e + floor;
      }
      bound_in = bound_out;
      n = l.units;
    }
    const T* want = values[ids.back()].data() + r * out_cols;
    for (int64_t u = 0; u < out_cols; ++u) {
      const double gv = got.at(r, u), wv = want[u];
      const double tol = 2 * bound_out[u];
      ASSERT_TRUE(std::fabs(gv - wv) <= tol)
          << "row " << r << " of " << rows << ", column " << u << ": got " << gv
          << ", reference " << wv << ", |diff| " << std::fabs(gv - wv)
          << " > bound " << tol;
    }
  }
}

void Check(const Case& c, uint32_t seed) {
  if (c.dtype == ir::DType::kF32) {
    RunCase<float>(c, seed);
  } else {
    RunCase<double>(c, seed);
  }
}

TEST(DifferentialTableTest, CoversTheSevenOriginalActivationsAtLeast) {
  const std::vector<Activation>& acts = TestedActivations();
  for (Activation act :
       {Activation::kIdentity, Activation::kRelu, Activation::kTanh,
        Activation::kSigmoid, Activation::kLeakyRelu, Activation::kSoftplus,
        Activation::kSoftmax}) {
    EXPECT_NE(std::find(acts.begin(), acts.end(), act), acts.end())
        << ir::ActivationName(act);
  }
}

// x[w] -> w units (the activation) -> 5 units (the next activation): every
// width as both the GEMM's K and N, with every activation and dtype, on a
// few rows.
TEST(DifferentialTableTest, EveryWidthWithEveryActivationAndDtype) {
  const std::vector<Activation>& acts = TestedActivations();
  uint32_t seed = 1;
  for (int64_t w : kWidths) {
    for (size_t a = 0; a < acts.size(); ++a) {
      for (ir::DType dtype : kDTypes) {
        Case c{"width", dtype, w, {}, RowCount::kOne};
        const bool per_node = w <= 33 && seed % 2 == 0;
        c.layers = {{w, acts[a], seed % 3 != 0,
                     per_node ? DenseForm::kPerNode : DenseForm::kLayer},
                    {5, acts[(a + 1) % acts.size()], true, DenseForm::kLayer}};
        // One row, or (every fourth case up to width 65) one more than the
        // Session's tile. The reference materializes every (units, width)
        // product of every row, so the widest layers keep to one row.
        if (w <= 65 && seed % 4 == 1) c.rows = RowCount::kTilePlusOne;
        c.expect = w >= 17 ? Expect::kDenseStage : Expect::kAny;
        Check(c, seed++);
        if (HasFatalFailure()) return;
      }
    }
  }
}

// x[w] -> 17 units -> 3 units (tiny widths: w units -> 3), over every row
// count around the Session's own tile, in both forms, both dtypes.
TEST(DifferentialTableTest, EveryRowCountWithEveryWidth) {
  const std::vector<Activation>& acts = TestedActivations();
  uint32_t seed = 1000;
  for (int64_t w : kWidths) {
    for (RowCount rc : kRowCounts) {
      const size_t a = seed % acts.size();
      Case c{"rows", seed % 2 ? ir::DType::kF32 : ir::DType::kF64, w, {}, rc};
      const DenseForm form =
          seed % 3 == 0 ? DenseForm::kPerNode : DenseForm::kLayer;
      c.layers = {{w <= 3 ? w : 17, acts[a], true, form},
                  {3, acts[(a + 3) % acts.size()], seed % 2 == 0, form}};
      c.expect = w >= 17 ? Expect::kDenseStage : Expect::kAny;
      Check(c, seed++);
      if (HasFatalFailure()) return;
    }
  }
}

// Chains of 2-4 tiny layers (at most 8 units) fused into one tiny-path
// stage, each activation at every position, both dtypes, both forms.
TEST(DifferentialTableTest, TinyChainsOfTwoToFourLayers) {
  const std::vector<Activation>& acts = TestedActivations();
  constexpr int64_t kUnits[] = {8, 1, 5, 3, 2, 7};
  uint32_t seed = 2000;
  for (int length = 2; length <= 4; ++length) {
    for (size_t a = 0; a < acts.size(); ++a) {
      for (ir::DType dtype : kDTypes) {
        Case c{"tiny", dtype, kUnits[(seed + 3) % 6], {}, kRowCounts[seed % 5]};
        const DenseForm form =
            seed % 2 ? DenseForm::kPerNode : DenseForm::kLayer;
        bool rowwise_inside = false;
        for (int j = 0; j < length; ++j) {
          const Activation act = acts[(a + j) % acts.size()];
          rowwise_inside |= Rowwise(act) && j + 1 < length;
          c.layers.push_back(
              {kUnits[(seed + j) % 6], act, (seed + j) % 3 != 0, form});
        }
        // Softmax couples the units, so the fused loop may end there.
        c.expect = rowwise_inside ? Expect::kAny : Expect::kOneTinyStage;
        Check(c, seed++);
        if (HasFatalFailure()) return;
      }
    }
  }
}

// Chains 6, 17 and 30 layers deep of tiny (8 units) and GEMM (33 units)
// layers, the activations in turn, both dtypes, over two tiles of 16 rows
// and one more.
TEST(DifferentialTableTest, DeepChainsUpTo30Layers) {
  const std::vector<Activation>& acts = TestedActivations();
  uint32_t seed = 3000;
  for (int depth : {6, 17, 30}) {
    for (int64_t units : {8, 33}) {
      for (ir::DType dtype : kDTypes) {
        Case c{"deep", dtype, units, {}, RowCount::kTilePlusOne};
        c.tile = 16 + seed % 2;
        for (int j = 0; j < depth; ++j) {
          c.layers.push_back(
              {units, acts[(seed + j) % acts.size()], true, DenseForm::kLayer});
        }
        c.expect = units > 8 ? Expect::kDenseStage : Expect::kAny;
        Check(c, seed++);
        if (HasFatalFailure()) return;
      }
    }
  }
}

}  // namespace
}  // namespace rowflow
