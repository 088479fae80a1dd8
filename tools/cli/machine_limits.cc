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

#include "ops/fma_loop.h"

namespace rowflow::cli {
namespace {

using Clock = std::chrono::steady_clock;

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
// A timing far shorter than that means the calibration was fooled (the
// process was descheduled while it ran, so too few trips were chosen) and
// would measure thread start-up instead of FMAs: re-scale and time again.
double BestGflops(double (*loop)(int64_t), int64_t flop_per_trip, int threads,
                  int attempts) {
  constexpr double kTarget = 0.05, kShortest = 0.02;  // seconds
  constexpr int64_t kMaxTrips = int64_t{1} << 40;
  int64_t trips = 1 << 14;
  double seconds = 0;
  while (seconds < 0.01 && trips < kMaxTrips) {
    trips *= 2;
    const auto start = Clock::now();
    g_sink.store(loop(trips));
    seconds = std::chrono::duration<double>(Clock::now() - start).count();
  }
  auto scaled = [&](double s) {
    return std::clamp<int64_t>(
        static_cast<int64_t>(static_cast<double>(trips) * kTarget / s), 1,
        kMaxTrips);
  };
  trips = scaled(seconds);
  double best = 0;
  for (int k = 0, rescales = 0; k < attempts; ++k) {
    const double s =
        OnThreads(threads, [&](int) { g_sink.store(loop(trips)); });
    if (s < kShortest && trips < kMaxTrips && rescales < 8) {
      trips = scaled(std::max(s, 1e-6));
      ++rescales;
      --k;  // this timing does not count
      continue;
    }
    const double flop = static_cast<double>(trips) *
                        static_cast<double>(flop_per_trip) * threads;
    best = std::max(best, flop / s / 1e9);
  }
  return best;
}

}  // namespace

FmaLimit MeasureFmaLimit(int threads, int attempts) {
  const ops::FmaLoop& loop = ops::ActiveFmaLoop();
  return {loop.isa,
          BestGflops(loop.f32, loop.flop_per_trip_f32, threads, attempts),
          BestGflops(loop.f64, loop.flop_per_trip_f64, threads, attempts)};
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
