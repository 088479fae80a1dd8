// Random graphs for differential tests: chains of dense layers in either
// form, with biases, every activation, elementwise chains and branches that
// meet in a CONCAT.
#ifndef ROWFLOW_TESTS_RANDOM_GRAPHS_H_
#define ROWFLOW_TESTS_RANDOM_GRAPHS_H_

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "graph/builder.h"
#include "graph/ir.h"
#include "runtime/rows.h"

namespace rowflow::testing {

inline constexpr ir::Activation kAllActivations[] = {
    ir::Activation::kIdentity,  ir::Activation::kRelu,
    ir::Activation::kTanh,      ir::Activation::kSigmoid,
    ir::Activation::kLeakyRelu, ir::Activation::kSoftplus,
    ir::Activation::kSoftmax};

struct RandomGraphOptions {
  int max_width = 64;
  int max_depth = 6;
  ir::DType dtype = ir::DType::kF32;
};

// A random network; `seed` fixes it.
inline ir::Graph RandomGraph(uint32_t seed, const RandomGraphOptions& o = {}) {
  std::mt19937 rng(seed);
  auto uniform = [&](int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng);
  };
  auto chance = [&](double p) { return std::bernoulli_distribution(p)(rng); };
  GraphBuilder b("random_" + std::to_string(seed), o.dtype);
  int64_t width = uniform(1, o.max_width);
  ValueRef v = b.Input("x", {width});
  const int depth = uniform(1, o.max_depth);
  int layer_id = 0;
  auto dense = [&](ValueRef in, int64_t in_width, int64_t units) {
    const double scale = 1.0 / std::sqrt(static_cast<double>(in_width));
    std::uniform_real_distribution<double> w(-scale, scale);
    std::vector<double> weights(units * in_width), bias;
    for (double& x : weights) x = w(rng);
    if (chance(0.6)) {
      bias.resize(units);
      for (double& x : bias) x = w(rng);
    }
    DenseOptions options;
    options.activation = kAllActivations[uniform(0, 6)];
    options.alpha = 0.05;
    options.form = chance(0.5) ? DenseForm::kPerNode : DenseForm::kLayer;
    return b.Dense(in, "layer_" + std::to_string(layer_id++), units, weights,
                   bias, options);
  };
  for (int d = 0; d < depth; ++d) {
    const int64_t units = uniform(1, o.max_width);
    if (chance(0.2)) {
      // Two branches from the same input meet in a CONCAT.
      const int64_t a = uniform(1, std::max<int64_t>(1, units / 2 + 1));
      ValueRef left = dense(v, width, a);
      ValueRef right = dense(v, width, units);
      v = b.Concat({left, right}, -1, "join_" + std::to_string(d));
      width = a + units;
    } else {
      v = dense(v, width, units);
      width = units;
    }
    if (chance(0.2)) {
      // An elementwise chain: scale, shift, activation.
      std::vector<double> scale(width), shift(width);
      for (size_t i = 0; i < scale.size(); ++i) {
        scale[i] = 0.5 + 0.01 * static_cast<double>(i);
        shift[i] = -0.25;
      }
      v = b.Multiply(v,
                     b.Constant("scale_" + std::to_string(d), {width}, scale));
      v = b.Add(v, b.Constant("shift_" + std::to_string(d), {width}, shift));
      v = b.Activation(v, kAllActivations[uniform(1, 5)], 0.05);
    }
  }
  b.Output(v);
  return b.Build();
}

// `rows` rows of uniform numbers in [lo, hi].
template <typename T>
RowMatrix<T> RandomRows(int64_t rows, int64_t cols, uint32_t seed,
                        double lo = -3, double hi = 3) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  RowMatrix<T> m(rows, cols);
  for (T& x : m.data) x = static_cast<T>(dist(rng));
  return m;
}

}  // namespace rowflow::testing

#endif  // ROWFLOW_TESTS_RANDOM_GRAPHS_H_
