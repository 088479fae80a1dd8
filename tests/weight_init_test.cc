// The weight initializers: pinned values, so that a seed means the same
// weights on every machine and in every later version.
#include "graph/weight_init.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "graph/spec.h"

namespace rowflow {
namespace {

using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::Eq;

TEST(WeightInitTest, SplitMix64MatchesTheReferenceStream) {
  // Vigna's splitmix64.c from state 0.
  SplitMix64 rng(0);
  EXPECT_EQ(rng.Next(), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(rng.Next(), 0x6e789e6aa1b965f4ULL);
  EXPECT_EQ(rng.Next(), 0x06c45d188009454fULL);
}

TEST(WeightInitTest, HeUniformSeed7IsPinned) {
  // Computed independently (exact integer arithmetic in Python).
  EXPECT_EQ(InitBound(InitKind::kHeUniform, 256, 64), 0x1.3988e1409212ep-2);
  std::vector<double> w = InitWeights(InitKind::kHeUniform, 7, 256, 64, 3);
  EXPECT_THAT(w, ElementsAre(-0x1.14566a85c9c0ap-4, -0x1.2f01dbe7ab6a2p-2,
                             0x1.f69c081567c5cp-3));
}

TEST(WeightInitTest, GlorotUniformSeed8IsPinned) {
  EXPECT_EQ(InitBound(InitKind::kGlorotUniform, 10, 256), 0x1.3395b04ef5e48p-3);
  std::vector<double> w = InitWeights(InitKind::kGlorotUniform, 8, 10, 256, 2);
  EXPECT_THAT(w, ElementsAre(0.03559591024143101, 0.033626488291466));
}

TEST(WeightInitTest, ValuesStayWithinTheBound) {
  for (InitKind kind :
       {InitKind::kHeUniform, InitKind::kGlorotUniform, InitKind::kUniform}) {
    const double a = InitBound(kind, 7, 3);
    std::vector<double> w = InitWeights(kind, 42, 7, 3, 10000);
    double lo = 0, hi = 0;
    for (double v : w) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    EXPECT_GE(lo, -a);
    EXPECT_LE(hi, a);
    EXPECT_LT(lo, -0.9 * a);  // spread over the whole range
    EXPECT_GT(hi, 0.9 * a);
  }
  EXPECT_EQ(InitBound(InitKind::kUniform, 7, 4), 0.5);
  EXPECT_THAT(InitWeights(InitKind::kZeros, 5, 3, 3, 9), Each(Eq(0.0)));
}

TEST(WeightInitTest, SameSeedSameWeightsOtherSeedOtherWeights) {
  EXPECT_EQ(InitWeights(InitKind::kHeUniform, 3, 4, 5, 20),
            InitWeights(InitKind::kHeUniform, 3, 4, 5, 20));
  EXPECT_NE(InitWeights(InitKind::kHeUniform, 3, 4, 5, 20),
            InitWeights(InitKind::kHeUniform, 4, 4, 5, 20));
}

TEST(WeightInitTest, SpecInitGivesTheSameWeightsRoundedToTheDtype) {
  const char* spec =
      "input { width: 64 }\n"
      "layer { units: 256 activation: RELU weights { init { kind: HE_UNIFORM "
      "seed: 7 } }\n"
      "        bias { init { kind: ZEROS } } }\n";
  for (bool f64 : {false, true}) {
    const std::string text = std::string(f64 ? "dtype: F64\n" : "") + spec;
    ir::Graph g =
        BuildGraphFromSpecText(text, "s.pbtxt", ".", DenseForm::kLayer);
    const std::vector<double>& w =
        g.constants[g.values[g.FindValue("output/w")].index].data;
    const std::vector<double> want =
        InitWeights(InitKind::kHeUniform, 7, 256, 64, 256 * 64);
    ASSERT_EQ(w.size(), want.size());
    for (size_t i = 0; i < w.size(); ++i) {
      ASSERT_EQ(w[i], f64 ? want[i] : static_cast<float>(want[i])) << i;
    }
    EXPECT_THAT(g.constants[g.values[g.FindValue("output/b")].index].data,
                Each(Eq(0.0)));
  }
}

}  // namespace
}  // namespace rowflow
