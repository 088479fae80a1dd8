// Google Benchmark of the ops/ kernels: PackedDense::Forward on the layer
// shapes of real networks (GFLOP/s counter, 2 * rows * width * units per
// call) and every activation of ops/activation.h (elements/s).
//
//   bench_kernels --benchmark_filter=Dense --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true
//   bench_kernels --benchmark_filter=Activate --benchmark_repetitions=5
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "ops/activation.h"
#include "ops/gemm.h"

namespace rowflow::ops {
namespace {

template <typename T>
std::vector<T> Random(int64_t n, double scale, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(-scale, scale);
  std::vector<T> v(n);
  for (T& x : v) x = static_cast<T>(dist(rng));
  return v;
}

// Args: rows, width, units.
template <typename T>
void BM_Dense(benchmark::State& state) {
  const int64_t rows = state.range(0), width = state.range(1),
                units = state.range(2);
  const std::vector<T> w = Random<T>(units * width, 0.1, 1),
                       b = Random<T>(units, 0.1, 2);
  const std::vector<T> x = Random<T>(rows * width, 1, 3);
  std::vector<T> y(rows * units);
  const PackedDense<T> dense(w.data(), units, width, b.data(),
                             ir::Activation::kRelu, {});
  for (auto _ : state) {
    dense.Forward(x.data(), width, rows, y.data(), units);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.counters["FLOPS"] = benchmark::Counter(
      2.0 * rows * width * units, benchmark::Counter::kIsIterationInvariantRate,
      benchmark::Counter::kIs1000);
}

void DenseShapes(benchmark::internal::Benchmark* b) {
  for (int64_t rows : {256, 1024}) {
    for (auto [width, units] : {std::pair<int64_t, int64_t>{64, 256},
                                {256, 256},
                                {256, 10},
                                {784, 1024},
                                {1024, 1024},
                                {1024, 10},
                                {32, 128},
                                {128, 128}}) {
      b->Args({rows, width, units});
    }
  }
  b->Args({8, 2, 2});  // the seed's layer: the smoke test's case
  b->ArgNames({"rows", "width", "units"});
}

BENCHMARK_TEMPLATE(BM_Dense, float)->Apply(DenseShapes);
BENCHMARK_TEMPLATE(BM_Dense, double)->Apply(DenseShapes);

// Elements/s of one activation over n values in [-8, 8] (last-axis kinds
// in groups of 64), copied in each time so that every pass sees the same
// values.
template <typename T>
void BM_Activate(benchmark::State& state, ir::Activation act) {
  const int64_t n = state.range(0);
  const std::vector<T> x = Random<T>(n, 8, 4);
  std::vector<T> y(n);
  const int64_t len = IsLastAxis(act) ? std::min<int64_t>(64, n) : n;
  for (auto _ : state) {
    std::copy(x.begin(), x.end(), y.begin());
    ActivateGroupsInPlace(act, {}, y.data(), n / len, len);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
}

// One BM_Activate<T>/NAME per activation of the table.
void RegisterActivations() {
  for (ir::Activation act : AllActivations()) {
    const std::string name(ir::ActivationName(act));
    benchmark::RegisterBenchmark(("BM_Activate<float>/" + name).c_str(),
                                 BM_Activate<float>, act)
        ->Arg(4096);
    benchmark::RegisterBenchmark(("BM_Activate<double>/" + name).c_str(),
                                 BM_Activate<double>, act)
        ->Arg(4096);
  }
  benchmark::RegisterBenchmark("BM_Activate<float>/TANH", BM_Activate<float>,
                               ir::Activation::kTanh)
      ->Arg(7);
}

}  // namespace
}  // namespace rowflow::ops

int main(int argc, char** argv) {
  rowflow::ops::RegisterActivations();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
