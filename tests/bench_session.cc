// Per-call latency of Session::Run on few rows of the `mid` workload
// (64 -> 256 relu -> 256 relu -> 10, f32): 1 and 64 rows, 1 and 2 threads,
// the RowMatrix form (allocates its output) and the ConstRowSpan form (into
// caller memory). tools/python/bench.py runs it to set Python's
// Session.run against the C++ call on the same rows. BM_MidLatency gives
// README's latency table.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "runtime/session.h"
#include "tools/cli/workloads.h"

namespace rowflow {
namespace {

const Workload& Mid() {
  static const Workload w = MakeWorkload("mid");
  return w;
}

Session MakeSession(int threads) {
  SessionOptions o;
  o.threads = threads;
  return Session(Mid().graph, o);
}

// Args: rows, threads.
void BM_MidMatrix(benchmark::State& state) {
  Session s = MakeSession(static_cast<int>(state.range(1)));
  const RowMatrix<float> in = WorkloadRows<float>(Mid().graph, state.range(0));
  benchmark::DoNotOptimize(s.Run(in));  // warm-up: tile pool, arena threads
  for (auto _ : state) {
    RowMatrix<float> out = s.Run(in);
    benchmark::DoNotOptimize(out.data.data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_MidMatrix)
    ->ArgNames({"rows", "threads"})
    ->ArgsProduct({{1, 64}, {1, 2}})
    ->UseRealTime();

// A Session on `mid`, `rows` input rows and room for their output, run
// once to warm up; Run() runs them in place.
struct MidCall {
  MidCall(const SessionOptions& o, int64_t rows)
      : s(Mid().graph, o),
        in(WorkloadRows<float>(Mid().graph, rows)),
        out(in.rows, s.output_width()) {
    Run();
  }
  void Run() {
    s.Run(ConstRowSpan<float>{in.data.data(), in.rows, in.cols},
          RowSpan<float>{out.data.data(), out.rows, out.cols});
  }
  Session s;
  const RowMatrix<float> in;
  RowMatrix<float> out;
};

void BM_MidSpan(benchmark::State& state) {
  SessionOptions o;
  o.threads = static_cast<int>(state.range(1));
  MidCall call(o, state.range(0));
  for (auto _ : state) {
    call.Run();
    benchmark::DoNotOptimize(call.out.data.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_MidSpan)
    ->ArgNames({"rows", "threads"})
    ->ArgsProduct({{1, 64}, {1, 2}})
    ->UseRealTime();

// Per-call latency for README's table: the span form at 1, 16, 256 and
// 4096 rows a call on 1 and 2 threads, the median of 5 repetitions. (Named
// by `batch`, not `rows`, so that bench.py's filter leaves it out.)
void BM_MidLatency(benchmark::State& state) { BM_MidSpan(state); }
BENCHMARK(BM_MidLatency)
    ->ArgNames({"batch", "threads"})
    ->ArgsProduct({{1, 16, 256, 4096}, {1, 2}})
    ->Repetitions(5)
    ->ReportAggregatesOnly(true)
    ->ComputeStatistics("min",
                        [](const std::vector<double>& v) {
                          return *std::min_element(v.begin(), v.end());
                        })
    ->UseRealTime();

// Calls of fewer rows than the panel kernel's block (the small-M kernel's
// range) and just past it, on 1 and 2 threads.
void BM_MidFewRows(benchmark::State& state) { BM_MidSpan(state); }
BENCHMARK(BM_MidFewRows)
    ->ArgNames({"batch", "threads"})
    ->ArgsProduct({{2, 4, 8, 11, 12, 16, 24, 32}, {1, 2}})
    ->Repetitions(5)
    ->ReportAggregatesOnly(true)
    ->UseRealTime();

// A call split over 2 threads (16 and 32 rows: two tiles of 8 and 16):
// each tile's own latency beside the call's, to tell the hand-off from
// the tiles' work. Counters: tile0/tile1 and wall in µs.
void BM_MidSplitTiles(benchmark::State& state) {
  SessionOptions o;
  o.threads = 2;
  o.record_tile_latency = true;
  MidCall call(o, state.range(0));
  double tile[2] = {0, 0}, wall = 0;
  int64_t calls = 0;
  for (auto _ : state) {
    call.Run();
    const RunStats st = call.s.last_run();
    if (st.tile_latency_us.size() != 2) {
      state.SkipWithError("the call was not split into 2 tiles");
      break;
    }
    tile[0] += st.tile_latency_us[0];
    tile[1] += st.tile_latency_us[1];
    wall += st.seconds * 1e6;
    ++calls;
  }
  const double n = static_cast<double>(std::max<int64_t>(calls, 1));
  state.counters["tile0"] = tile[0] / n;
  state.counters["tile1"] = tile[1] / n;
  state.counters["wall"] = wall / n;
}
BENCHMARK(BM_MidSplitTiles)->ArgName("batch")->Arg(16)->Arg(32)->UseRealTime();

}  // namespace
}  // namespace rowflow

BENCHMARK_MAIN();
