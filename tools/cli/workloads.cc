#include "tools/cli/workloads.h"

#include <cmath>

#include "graph/builder.h"
#include "graph/error.h"

namespace rowflow {
namespace {

// splitmix64: a tiny generator whose stream is the same everywhere.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  // Uniform in [lo, hi).
  double Uniform(double lo, double hi) {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return lo + (hi - lo) * static_cast<double>(z >> 11) * 0x1.0p-53;
  }

 private:
  uint64_t state_;
};

struct LayerShape {
  int64_t units;
  ir::Activation activation;
};

ir::Graph RandomMlp(const std::string& name, ir::DType dtype, int64_t width,
                    const std::vector<LayerShape>& layers, uint64_t seed) {
  Random rng(seed);
  GraphBuilder b(name, dtype);
  ValueRef v = b.Input("x", {width});
  for (size_t i = 0; i < layers.size(); ++i) {
    const double scale = 1 / std::sqrt(static_cast<double>(width));
    std::vector<double> w(layers[i].units * width), bias(layers[i].units);
    for (double& x : w) x = rng.Uniform(-scale, scale);
    for (double& x : bias) x = rng.Uniform(-scale, scale);
    DenseOptions options;
    options.activation = layers[i].activation;
    const bool last = i + 1 == layers.size();
    v = b.Dense(v, last ? "output" : "node_" + std::to_string(i),
                layers[i].units, w, bias, options);
    width = layers[i].units;
  }
  b.Output(v);
  return b.Build();
}

}  // namespace

std::vector<std::string> WorkloadNames() {
  return {"seed", "mid", "wide", "tanh"};
}

Workload MakeWorkload(const std::string& name, ir::DType dtype) {
  using ir::Activation;
  if (name == "seed") {
    GraphBuilder b("seed", dtype);
    ValueRef x = b.Input("x", {2});
    DenseOptions relu{Activation::kRelu, 0.01, DenseForm::kPerNode};
    DenseOptions identity{Activation::kIdentity, 0.01, DenseForm::kPerNode};
    ValueRef h0 = b.Dense(x, "node_0", 2, {2, 4, 4, -5}, {}, relu);
    ValueRef h1 = b.Dense(h0, "node_1", 2, {-1, 2, 1, 2}, {}, relu);
    b.Output(b.Dense(h1, "output", 1, {2, 7}, {}, identity));
    return {name, b.Build(), 10'000'000};
  }
  if (name == "mid") {
    return {name,
            RandomMlp(name, dtype, 64,
                      {{256, Activation::kRelu},
                       {256, Activation::kRelu},
                       {10, Activation::kIdentity}},
                      64),
            1'000'000};
  }
  if (name == "wide") {
    return {name,
            RandomMlp(name, dtype, 784,
                      {{1024, Activation::kRelu},
                       {1024, Activation::kRelu},
                       {10, Activation::kIdentity}},
                      784),
            100'000};
  }
  if (name == "tanh") {
    return {name,
            RandomMlp(name, dtype, 32,
                      {{128, Activation::kTanh},
                       {128, Activation::kTanh},
                       {1, Activation::kSigmoid}},
                      32),
            1'000'000};
  }
  throw MakeError(ErrorKind::kUsage,
                  "unknown workload '{}'; expected seed, mid, wide or tanh",
                  name);
}

template <typename T>
RowMatrix<T> WorkloadRows(const ir::Graph& graph, int64_t rows, uint64_t seed) {
  Random rng(seed);
  RowMatrix<T> m(rows, graph.InputWidth());
  for (T& x : m.data) x = static_cast<T>(rng.Uniform(-10, 10));
  return m;
}

template RowMatrix<float> WorkloadRows(const ir::Graph&, int64_t, uint64_t);
template RowMatrix<double> WorkloadRows(const ir::Graph&, int64_t, uint64_t);

}  // namespace rowflow
