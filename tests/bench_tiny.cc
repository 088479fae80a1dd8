// Rows per second of the tiny-layer path on the seed network
// (2 -> 2 relu -> 2 relu -> 1, f32 and f64): over one 16384-row tile,
// repeated, and streaming over a 10 M-row array, single thread (and two
// threads for the f32 array); beside it the memory's limit for the same
// traffic: a copy loop that reads 8 bytes and writes 4 bytes per row.
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
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

// The 10 M-row arrays the streaming benchmarks share, 64-byte aligned.
struct SeedArrays {
  static constexpr int64_t kRows = 10'000'000;
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  static std::unique_ptr<float[], Free> Aligned(int64_t n) {
    return std::unique_ptr<float[], Free>(static_cast<float*>(
        std::aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64)));
  }
  std::unique_ptr<float[], Free> x = Aligned(2 * kRows);
  std::unique_ptr<float[], Free> y = Aligned(kRows);
  SeedArrays() {
    const std::vector<float> v = RandomRows<float>(2 * kRows);
    std::copy(v.begin(), v.end(), x.get());
    std::fill_n(y.get(), kRows, 0.0f);
  }
};

SeedArrays& Arrays() {
  static SeedArrays a;
  return a;
}

// This thread's share [begin, begin + n) of the rows, in whole 64-byte
// lines of output.
void Share(const benchmark::State& state, int64_t* begin, int64_t* n) {
  const int64_t per = (SeedArrays::kRows / state.threads() + 15) / 16 * 16;
  *begin = per * state.thread_index();
  *n = std::min(SeedArrays::kRows, *begin + per) - *begin;
}

// Rows/s and GB/s (at 12 bytes a row) of all threads together, when each
// iteration covers the whole array once.
void CountWholeArray(benchmark::State& state) {
  if (state.thread_index() != 0) return;
  const double rows = static_cast<double>(SeedArrays::kRows);
  state.counters["rows/s"] =
      benchmark::Counter(rows, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GB/s"] = benchmark::Counter(
      12e-9 * rows, benchmark::Counter::kIsIterationInvariantRate);
}

// 1 and 2 threads, each streaming its share of one 10 M-row array.
void BM_SeedF32Threads(benchmark::State& state) {
  static const TinyMlp<float> net = SeedNetwork<float>();
  SeedArrays& a = Arrays();
  int64_t begin, n;
  Share(state, &begin, &n);
  for (auto _ : state) {
    net.Forward(a.x.get() + 2 * begin, 2, n, a.y.get() + begin, 1);
    benchmark::ClobberMemory();
  }
  CountWholeArray(state);
}
BENCHMARK(BM_SeedF32Threads)->Threads(1)->Threads(2)->UseRealTime();

// The memory's limit at the seed's 12 bytes per row: y[r] = x[2r] +
// x[2r + 1] over the same arrays, with ordinary or streaming stores
// (stream:1), on 1 and 2 threads.
void BM_CopyLimit(benchmark::State& state) {
  SeedArrays& a = Arrays();
  const bool stream = state.range(0) != 0;
  int64_t begin, n;
  Share(state, &begin, &n);
  const float* x = a.x.get() + 2 * begin;
  float* y = a.y.get() + begin;
  for (auto _ : state) {
    int64_t r = 0;
#if defined(__AVX2__)
    for (; r + 8 <= n; r += 8) {
      const __m256 lo = _mm256_loadu_ps(x + 2 * r);
      const __m256 hi = _mm256_loadu_ps(x + 2 * r + 8);
      const __m256 v = _mm256_add_ps(_mm256_shuffle_ps(lo, hi, 0x88),
                                     _mm256_shuffle_ps(lo, hi, 0xdd));
      if (stream) {
        _mm256_stream_ps(y + r, v);  // y + r is 32-byte aligned
      } else {
        _mm256_storeu_ps(y + r, v);
      }
    }
    if (stream) _mm_sfence();
#endif
    for (; r < n; ++r) y[r] = x[2 * r] + x[2 * r + 1];
    benchmark::ClobberMemory();
  }
  CountWholeArray(state);
}
BENCHMARK(BM_CopyLimit)
    ->ArgName("stream")
    ->Arg(0)
    ->Arg(1)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime();

// memcpy of the same 120 MB of traffic (60 MB read, 60 MB written).
void BM_CopyLimitMemcpy(benchmark::State& state) {
  constexpr int64_t kBytes = SeedArrays::kRows * 6;
  static std::vector<char> from(kBytes, 1), to(kBytes);
  const int64_t per = kBytes / state.threads();
  const int64_t begin = per * state.thread_index();
  for (auto _ : state) {
    std::memcpy(to.data() + begin, from.data() + begin, per);
    benchmark::ClobberMemory();
  }
  CountWholeArray(state);
}
BENCHMARK(BM_CopyLimitMemcpy)->Threads(1)->Threads(2)->UseRealTime();

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
