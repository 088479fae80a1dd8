// Rows per second of the tiny-layer path on the seed network
// (2 -> 2 relu -> 2 relu -> 1, f32 and f64): over one 16384-row tile,
// repeated, and streaming over a 10 M-row array, single thread (and two
// threads for the f32 array).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "ops/tiny_mlp.h"

namespace rowflow::ops {
namespace {

template <typename T>
TinyMlp<T> SeedNetwork(bool allow_fused = true) {
  using A = ir::Activation;
  return TinyMlp<T>({{2, 2, {2, 4, 4, -5}, {}, A::kRelu, 0.01},
                     {2, 2, {-1, 2, 1, 2}, {}, A::kRelu, 0.01},
                     {1, 2, {2, 7}, {}, A::kIdentity, 0.01}},
                    allow_fused);
}

// A network of `depth` layers of `units` units with bias.
template <typename T>
TinyMlp<T> SquareNetwork(int64_t units, int depth, ir::Activation act) {
  std::vector<TinyLayer<T>> layers;
  for (int k = 0; k < depth; ++k) {
    TinyLayer<T> l{units,
                   units,
                   std::vector<T>(units * units, T(0.25)),
                   std::vector<T>(units, T(0.5)),
                   act,
                   0.01};
    layers.push_back(l);
  }
  return TinyMlp<T>(std::move(layers));
}

template <typename T>
std::vector<T> RandomRows(int64_t n) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<T> dist(-1, 1);
  std::vector<T> v(n);
  for (T& e : v) e = dist(rng);
  return v;
}

// Rows of `net` with input and output row strides widened by `extra`.
template <typename T>
void RunRows(benchmark::State& state, const TinyMlp<T>& net, int64_t rows,
             int64_t extra = 0) {
  const int64_t ldx = net.width() + extra;
  const int64_t ldy = net.units() + extra;
  const std::vector<T> x = RandomRows<T>(rows * ldx);
  std::vector<T> y(rows * ldy);
  for (auto _ : state) {
    net.Forward(x.data(), ldx, rows, y.data(), ldy);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * rows);
  state.counters["rows/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * rows),
                         benchmark::Counter::kIsRate);
}

void BM_SeedF32(benchmark::State& state) {
  RunRows(state, SeedNetwork<float>(), state.range(0));
}
BENCHMARK(BM_SeedF32)->Arg(16384)->Arg(10'000'000)->UseRealTime();

// Rows inside wider tiles (ldx = 3, ldy = 2): every block is copied.
void BM_SeedF32Strided(benchmark::State& state) {
  RunRows(state, SeedNetwork<float>(), state.range(0), 1);
}
BENCHMARK(BM_SeedF32Strided)->Arg(16384)->UseRealTime();

// The same network through the per-layer kernel (what other shapes get).
void BM_SeedF32PerLayer(benchmark::State& state) {
  RunRows(state, SeedNetwork<float>(false), state.range(0));
}
BENCHMARK(BM_SeedF32PerLayer)->Arg(16384)->UseRealTime();

// Two threads, each streaming its half of one 10 M-row array.
void BM_SeedF32TwoThreads(benchmark::State& state) {
  constexpr int64_t kRows = 10'000'000;
  static const TinyMlp<float> net = SeedNetwork<float>();
  static const std::vector<float> x = RandomRows<float>(kRows * 2);
  static std::vector<float> y(kRows);
  const int64_t half = kRows / state.threads();
  const int64_t begin = half * state.thread_index();
  for (auto _ : state) {
    net.Forward(x.data() + 2 * begin, 2, half, y.data() + begin, 1);
    benchmark::ClobberMemory();
  }
  // Counted once for both threads: the whole array per iteration.
  if (state.thread_index() == 0) {
    state.counters["rows/s"] =
        benchmark::Counter(static_cast<double>(kRows),
                           benchmark::Counter::kIsIterationInvariantRate);
  }
}
BENCHMARK(BM_SeedF32TwoThreads)->Threads(2)->UseRealTime();

void BM_SeedF64(benchmark::State& state) {
  RunRows(state, SeedNetwork<double>(), state.range(0));
}
BENCHMARK(BM_SeedF64)->Arg(16384)->Arg(10'000'000)->UseRealTime();

// Three relu layers of 4 (fused kernel) or 8 units (per-layer kernel).
void BM_SquareReluF32(benchmark::State& state) {
  RunRows(state, SquareNetwork<float>(state.range(0), 3, ir::Activation::kRelu),
          16384);
}
BENCHMARK(BM_SquareReluF32)->Arg(4)->Arg(8)->UseRealTime();

// Three tanh layers: per-layer kernel, tanh from ops/activation.h.
void BM_SquareTanhF32(benchmark::State& state) {
  RunRows(state, SquareNetwork<float>(state.range(0), 3, ir::Activation::kTanh),
          16384);
}
BENCHMARK(BM_SquareTanhF32)->Arg(4)->Arg(8)->UseRealTime();

}  // namespace
}  // namespace rowflow::ops

BENCHMARK_MAIN();
