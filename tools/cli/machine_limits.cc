#include "tools/cli/machine_limits.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace rowflow::cli {
namespace {

using Clock = std::chrono::steady_clock;

// Independent chains of acc = acc * a + b per loop trip: more than the FMA
// latency times the FMA ports of the x86 cores seen (4-5 cycles x 2), so
// the loop is bound by FMA throughput alone. The chains converge to
// b / (1 - a) ~ 0.84, never denormal or infinite.
constexpr int kChains = 12;
constexpr double kA = 0.9999999, kB = 1e-7;

struct Kernel {
  const char* isa;
  double (*f32)(int64_t trips);  // returns a sum so the loop is kept
  double (*f64)(int64_t trips);
  int lanes_f32, lanes_f64;
  int flop_per_lane;  // 2: one FMA, or a multiply and an add
};

// The loop body for one vector type: VEC, SET1, FMA(acc, a, b), ADD, and
// STORE to an array of LANES scalars.
#define ROWFLOW_FMA_LOOP(VEC, SCALAR, LANES, SET1, FMA, ADD, STORE)     \
  VEC acc[kChains];                                                     \
  for (int k = 0; k < kChains; ++k)                                     \
    acc[k] = SET1(static_cast<SCALAR>(1 + 0.001 * k));                  \
  const VEC a = SET1(static_cast<SCALAR>(kA));                          \
  const VEC b = SET1(static_cast<SCALAR>(kB));                          \
  for (int64_t i = 0; i < trips; ++i) {                                 \
    _Pragma("GCC unroll 16") for (int k = 0; k < kChains; ++k) acc[k] = \
        FMA(acc[k], a, b);                                              \
  }                                                                     \
  VEC s = acc[0];                                                       \
  for (int k = 1; k < kChains; ++k) s = ADD(s, acc[k]);                 \
  SCALAR lanes[LANES];                                                  \
  STORE(lanes, s);                                                      \
  double sum = 0;                                                       \
  for (SCALAR v : lanes) sum += static_cast<double>(v);                 \
  return sum;

#if defined(__x86_64__)
#define ROWFLOW_MULADD_PS(x, y, z) _mm_add_ps(_mm_mul_ps(x, y), z)
#define ROWFLOW_MULADD_PD(x, y, z) _mm_add_pd(_mm_mul_pd(x, y), z)

double Sse2F32(int64_t trips) {
  ROWFLOW_FMA_LOOP(__m128, float, 4, _mm_set1_ps, ROWFLOW_MULADD_PS, _mm_add_ps,
                   _mm_storeu_ps)
}
double Sse2F64(int64_t trips) {
  ROWFLOW_FMA_LOOP(__m128d, double, 2, _mm_set1_pd, ROWFLOW_MULADD_PD,
                   _mm_add_pd, _mm_storeu_pd)
}
__attribute__((target("avx2,fma"))) double Avx2F32(int64_t trips) {
  ROWFLOW_FMA_LOOP(__m256, float, 8, _mm256_set1_ps, _mm256_fmadd_ps,
                   _mm256_add_ps, _mm256_storeu_ps)
}
__attribute__((target("avx2,fma"))) double Avx2F64(int64_t trips) {
  ROWFLOW_FMA_LOOP(__m256d, double, 4, _mm256_set1_pd, _mm256_fmadd_pd,
                   _mm256_add_pd, _mm256_storeu_pd)
}
__attribute__((target("avx512f"))) double Avx512F32(int64_t trips) {
  ROWFLOW_FMA_LOOP(__m512, float, 16, _mm512_set1_ps, _mm512_fmadd_ps,
                   _mm512_add_ps, _mm512_storeu_ps)
}
__attribute__((target("avx512f"))) double Avx512F64(int64_t trips){
    ROWFLOW_FMA_LOOP(__m512d, double, 8, _mm512_set1_pd, _mm512_fmadd_pd,
                     _mm512_add_pd, _mm512_storeu_pd)}

Kernel WidestKernel() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f"))
    return {"avx512f", Avx512F32, Avx512F64, 16, 8, 2};
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return {"avx2+fma", Avx2F32, Avx2F64, 8, 4, 2};
  return {"sse2 (mul+add)", Sse2F32, Sse2F64, 4, 2, 2};
}
#else
template <typename T>
double ScalarLoop(int64_t trips) {
  T acc[kChains];
  for (int k = 0; k < kChains; ++k) acc[k] = static_cast<T>(1 + 0.001 * k);
  for (int64_t i = 0; i < trips; ++i) {
    for (T& v : acc) v = v * static_cast<T>(kA) + static_cast<T>(kB);
  }
  double sum = 0;
  for (T v : acc) sum += static_cast<double>(v);
  return sum;
}

Kernel WidestKernel() {
  return {"scalar (mul+add)", ScalarLoop<float>, ScalarLoop<double>, 1, 1, 2};
}
#endif

// Runs work(i) on `threads` threads released together; the seconds from
// the release until the last one is done.
double OnThreads(int threads, const std::function<void(int)>& work) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (int i = 0; i < threads; ++i) {
    pool.emplace_back([&, i] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      work(i);
    });
  }
  while (ready.load() < threads) std::this_thread::yield();
  const auto start = Clock::now();
  go.store(true, std::memory_order_release);
  for (std::thread& t : pool) t.join();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::atomic<double> g_sink{0};  // keeps the loops' results alive

// Best GFLOP/s of `loop` on `threads` threads, each running ~50 ms.
double BestGflops(double (*loop)(int64_t), int lanes, int flop_per_lane,
                  int threads, int attempts) {
  int64_t trips = 1 << 14;
  double seconds = 0;
  while (seconds < 0.01 && trips < (int64_t{1} << 40)) {
    trips *= 2;
    const auto start = Clock::now();
    g_sink.store(loop(trips));
    seconds = std::chrono::duration<double>(Clock::now() - start).count();
  }
  trips = std::max<int64_t>(1, static_cast<int64_t>(trips * 0.05 / seconds));
  const double flop =
      static_cast<double>(trips) * kChains * lanes * flop_per_lane * threads;
  double best = 0;
  for (int k = 0; k < attempts; ++k) {
    const double s =
        OnThreads(threads, [&](int) { g_sink.store(loop(trips)); });
    best = std::max(best, flop / s / 1e9);
  }
  return best;
}

}  // namespace

FmaLimit MeasureFmaLimit(int threads, int attempts) {
  const Kernel k = WidestKernel();
  return {k.isa,
          BestGflops(k.f32, k.lanes_f32, k.flop_per_lane, threads, attempts),
          BestGflops(k.f64, k.lanes_f64, k.flop_per_lane, threads, attempts)};
}

int64_t CopyBufferBytes() {
  const int64_t l3 = std::max<int64_t>(0, sysconf(_SC_LEVEL3_CACHE_SIZE));
  return std::clamp<int64_t>(2 * l3, int64_t{256} << 20, int64_t{1} << 30);
}

std::vector<double> MeasureCopyBandwidth(const std::vector<int>& threads,
                                         int64_t bytes, int attempts) {
  // Uninitialised, then first touched by as many threads as copy most.
  std::unique_ptr<char[]> src(new char[bytes]);
  std::unique_ptr<char[]> dst(new char[bytes]);
  auto range = [bytes](int i, int n) {
    const int64_t part = bytes / n, begin = i * part;
    return std::pair{begin, i + 1 == n ? bytes - begin : part};
  };
  const int most = *std::max_element(threads.begin(), threads.end());
  OnThreads(most, [&](int i) {
    const auto [begin, n] = range(i, most);
    std::memset(src.get() + begin, i + 1, n);
    std::memset(dst.get() + begin, 0, n);
  });
  std::vector<double> out;
  for (int t : threads) {
    double best = 0;
    for (int k = 0; k < attempts; ++k) {
      const double s = OnThreads(t, [&](int i) {
        const auto [begin, n] = range(i, t);
        std::memcpy(dst.get() + begin, src.get() + begin, n);
      });
      best = std::max(best, 2 * static_cast<double>(bytes) / s / 1e9);
    }
    out.push_back(best);
  }
  g_sink.store(static_cast<double>(dst[bytes - 1]));
  return out;
}

}  // namespace rowflow::cli
