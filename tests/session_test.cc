// The Session against the reference evaluator: the seed's examples exact,
// random graphs within a stated tolerance, determinism bitwise, faults.
#include "runtime/session.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <thread>

#include "graph/error.h"
#include "runtime/reference.h"
#include "tests/random_graphs.h"
#include "tests/seed_networks.h"

namespace rowflow {
namespace {

using ::testing::HasSubstr;
using testing::RandomGraph;
using testing::RandomRows;

TEST(SessionTest, SeedDeeperNetworkGives182) {
  for (DenseForm form : {DenseForm::kPerNode, DenseForm::kLayer}) {
    Session f32(testing::SeedDeepNetwork(ir::DType::kF32, form));
    EXPECT_EQ(f32.Run(RowMatrix<float>{{3, 5}}).data, std::vector<float>{182});
    Session f64(testing::SeedDeepNetwork(ir::DType::kF64, form));
    EXPECT_EQ(f64.Run(RowMatrix<double>{{3, 5}}).data,
              std::vector<double>{182});
  }
}

TEST(SessionTest, SeedReluNetworkOverFourRowsGives52_63_0_148) {
  for (DenseForm form : {DenseForm::kPerNode, DenseForm::kLayer}) {
    Session s(testing::SeedReluNetwork(ir::DType::kF32, form));
    EXPECT_EQ(s.Run(RowMatrix<float>{{3, 5}, {1, -1}, {0, 0}, {8, 4}}).data,
              (std::vector<float>{52, 63, 0, 148}));
  }
}

TEST(SessionTest, SeedTwoNodeNetworksGiveTheNotebookValues) {
  using ir::Activation;
  Session s22(testing::SeedTwoNodeNetwork("s", ir::DType::kF32, {1, 1}, {-1, 1},
                                          {2, -1}, Activation::kIdentity));
  EXPECT_EQ(s22.Run(RowMatrix<float>{{2, 3}}).data,
            (std::vector<float>{5, 1, 9}));
  Session s23(testing::SeedTwoNodeNetwork("s", ir::DType::kF32, {2, 4}, {4, -5},
                                          {2, 7}, Activation::kIdentity));
  EXPECT_EQ(s23.Run(RowMatrix<float>{{3, 5}}).data,
            (std::vector<float>{26, -13, -39}));
  Session s33(testing::SeedTwoNodeNetwork("s", ir::DType::kF64, {3, 3}, {1, 5},
                                          {2, -1}, Activation::kTanh));
  EXPECT_NEAR(s33.Run(RowMatrix<double>{{-1, 2}}).at(0, 2), 0.9901095378334199,
              1e-15);
  Session s34(testing::SeedTwoNodeNetwork("s", ir::DType::kF32, {2, 4}, {4, -5},
                                          {2, 7}, Activation::kRelu));
  EXPECT_EQ(s34.Run(RowMatrix<float>{{3, 5}}).data,
            (std::vector<float>{26, 0, 52}));
}

// Relative tolerance of the optimized plan against the reference: the
// fused kernels use FMA and another summation order.
template <typename T>
constexpr double kTolerance = sizeof(T) == 4 ? 2e-4 : 1e-11;

template <typename T>
void ExpectClose(const RowMatrix<T>& got, const RowMatrix<T>& want,
                 const std::string& what) {
  ASSERT_EQ(got.rows, want.rows) << what;
  ASSERT_EQ(got.cols, want.cols) << what;
  for (size_t i = 0; i < got.data.size(); ++i) {
    const double g = got.data[i], w = want.data[i];
    ASSERT_NEAR(g, w, kTolerance<T> * (1 + std::abs(w)))
        << what << " element " << i << " (row " << i / got.cols << ")";
  }
}

template <typename T>
void DifferentialRun(uint32_t seed) {
  testing::RandomGraphOptions o;
  o.dtype = sizeof(T) == 4 ? ir::DType::kF32 : ir::DType::kF64;
  const ir::Graph g = RandomGraph(seed, o);
  std::mt19937 rng(seed);
  SessionOptions options;
  options.threads = std::uniform_int_distribution<int>(1, 4)(rng);
  options.tile_rows = std::uniform_int_distribution<int>(1, 300)(rng);
  options.max_tiles_in_flight = std::uniform_int_distribution<int>(1, 8)(rng);
  const int64_t rows = std::uniform_int_distribution<int>(1, 700)(rng);
  const RowMatrix<T> in = RandomRows<T>(rows, g.InputWidth(), seed);
  Session session(g, options);
  ExpectClose(session.Run(in), EvaluateReference(g, in),
              fmt::format("graph {} threads {} tile {} rows {}", seed,
                          options.threads, options.tile_rows, rows));
}

TEST(SessionDifferentialTest, RandomF32GraphsMatchReference) {
  for (uint32_t seed = 1; seed <= 120; ++seed) DifferentialRun<float>(seed);
}

TEST(SessionDifferentialTest, RandomF64GraphsMatchReference) {
  for (uint32_t seed = 1001; seed <= 1100; ++seed)
    DifferentialRun<double>(seed);
}

TEST(SessionTest, OutputIsBitwiseIdenticalForAnyThreadCount) {
  for (uint32_t seed : {3u, 17u, 29u}) {
    const ir::Graph g = RandomGraph(seed);
    const RowMatrix<float> in = RandomRows<float>(3000, g.InputWidth(), seed);
    SessionOptions options;
    options.tile_rows = 128;
    options.threads = 1;
    const std::vector<float> one = Session(g, options).Run(in).data;
    for (int threads : {2, 4, 8}) {
      options.threads = threads;
      EXPECT_EQ(Session(g, options).Run(in).data, one) << "threads " << threads;
    }
  }
}

TEST(SessionTest, OutputIsBitwiseIdenticalForAnyTileSize) {
  for (uint32_t seed : {5u, 11u, 23u}) {
    const ir::Graph g = RandomGraph(seed);
    const RowMatrix<float> in = RandomRows<float>(2000, g.InputWidth(), seed);
    SessionOptions options;
    options.tile_rows = 1;
    const std::vector<float> base = Session(g, options).Run(in).data;
    for (int64_t tile : {7, 64, 333, 4096}) {
      options.tile_rows = tile;
      EXPECT_EQ(Session(g, options).Run(in).data, base) << "tile " << tile;
    }
  }
}

TEST(SessionTest, ReportsTheThreadsItWasGiven) {
  const ir::Graph g = testing::SeedDeepNetwork();
  SessionOptions options;
  options.threads = 3;
  Session s(g, options);
  EXPECT_EQ(s.threads(), 3);
  s.Run(RandomRows<float>(1000, 2, 1));
  EXPECT_GE(s.last_run().threads_used, 1);
  EXPECT_LE(s.last_run().threads_used, 3);
}

// One tile through a one-stage plan runs on one thread, however many the
// arena has: last_run() reports that one, not the 8 asked for.
// The seed's 4.5 network in the layer form (a one-stage plan), and options
// of `threads` threads and `tile_rows` rows a tile (0: the plan's).
const ir::Graph& SeedLayerForm() {
  static const ir::Graph g =
      testing::SeedDeepNetwork(ir::DType::kF32, DenseForm::kLayer);
  return g;
}
SessionOptions Threads(int threads, int64_t tile_rows = 0) {
  SessionOptions options;
  options.threads = threads;
  options.tile_rows = tile_rows;
  return options;
}

TEST(SessionTest, LastRunCountsTheThreadsThatRanNotTheThreadsAskedFor) {
  Session s(SeedLayerForm(), Threads(8));
  ASSERT_EQ(s.stages().size(), 1u) << "the test needs a one-stage plan";
  ASSERT_GE(s.tile_rows(), 100);
  EXPECT_EQ(s.threads(), 8);
  s.Run(RandomRows<float>(100, 2, 1));
  EXPECT_EQ(s.last_run().tiles, 1);
  EXPECT_EQ(s.last_run().threads_used, 1);

  // The streaming path counts the same way.
  const RowMatrix<float> in = RandomRows<float>(100, 2, 2);
  MemorySource<float> source(in.data.data(), in.rows, in.cols);
  std::vector<float> out;
  MemorySink<float> sink(&out, 1);
  s.Run<float>(source, sink);
  EXPECT_EQ(s.last_run().rows, 100);
  EXPECT_EQ(s.last_run().threads_used, 1);

  // No rows, no thread ran a stage.
  s.Run(RowMatrix<float>(0, 2));
  EXPECT_EQ(s.last_run().threads_used, 0);
}

TEST(SessionTest, CancelDuringTheLastTileLeavesNoOutput) {
  // The flag turns true in the progress callback of the last tile, after
  // every tile has entered the graph: the sink must not be committed.
  Session s(SeedLayerForm(), Threads(2, 16));
  const RowMatrix<float> in = RandomRows<float>(64, 2, 4);
  std::atomic<bool> cancel{false};
  RunControl control;
  control.cancel = &cancel;
  control.progress = [&](int64_t rows_done) {
    if (rows_done == in.rows) cancel = true;
  };
  std::vector<float> out;
  {
    MemorySource<float> source(in.data.data(), in.rows, in.cols);
    MemorySink<float> sink(&out, 1);
    try {
      s.Run<float>(source, sink, control);
      FAIL() << "no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInterrupted);
      EXPECT_THAT(e.what(), HasSubstr("interrupted after 64 rows"));
    }
  }
  EXPECT_TRUE(out.empty()) << "a cancelled run committed its output";
}

TEST(SessionTest, LastRunThreadsStayWithinTheArenaOverManyTiles) {
  Session s(SeedLayerForm(), Threads(2, 16));
  s.Run(RandomRows<float>(20000, 2, 3));
  EXPECT_EQ(s.last_run().tiles, 1250);
  EXPECT_GE(s.last_run().threads_used, 1);
  EXPECT_LE(s.last_run().threads_used, 2);
}

TEST(SessionTest, RejectsBadOptions) {
  const ir::Graph g = testing::SeedDeepNetwork();
  for (int threads : {-1, kMaxThreads + 1, 1000000}) {
    SessionOptions o;
    o.threads = threads;
    try {
      Session s(g, o);
      ADD_FAILURE() << "threads " << threads << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kUsage);
      EXPECT_THAT(e.what(), HasSubstr("threads"));
    }
  }
  SessionOptions o;
  o.tile_rows = -5;
  EXPECT_THROW(Session(g, o), Error);
}

TEST(SessionTest, KernelErrorNamesNodeAndRowsAndSessionRunsAgain) {
  const ir::Graph g =
      testing::SeedDeepNetwork(ir::DType::kF32, DenseForm::kLayer);
  SessionOptions options;
  options.tile_rows = 100;
  options.threads = 2;
  bool fail = true;
  options.stage_hook = [&](const StageInfo&, int64_t first, int64_t rows) {
    if (fail && first <= 4321 && 4321 < first + rows)
      throw Error(ErrorKind::kInput, "injected");
  };
  Session s(g, options);
  const RowMatrix<float> in = RandomRows<float>(10000, 2, 7);
  try {
    s.Run(in);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_THAT(e.what(), HasSubstr("node '"));
    EXPECT_THAT(e.what(), HasSubstr("rows 4300-4399"));
    EXPECT_THAT(e.what(), HasSubstr("injected"));
  }
  fail = false;
  ExpectClose(s.Run(in), EvaluateReference(g, in), "after the error");
}

TEST(SessionTest, GraphWithIndependentBranchesJoinsThem) {
  GraphBuilder b("branches");
  ValueRef x = b.Input("x", {3});
  ValueRef left = b.Dense(x, "left", 4, std::vector<double>(12, 0.5), {}, {});
  ValueRef right = b.Dense(x, "right", 2, {1, 2, 3, 4, 5, 6}, {1, -1}, {});
  ValueRef both = b.Concat({left, right}, -1, "both");
  b.Output(both);
  b.Output(x);
  const ir::Graph g = b.Build();
  SessionOptions options;
  options.tile_rows = 3;
  Session s(g, options);
  const RowMatrix<float> in = RandomRows<float>(50, 3, 9);
  EXPECT_EQ(s.stages().back().kind, StageKind::kGather);
  ExpectClose(s.Run(in), EvaluateReference(g, in), "branches");
}

TEST(SessionTest, ConcurrentRunsOnOneSessionEqualSerialRunsBitwise) {
  const ir::Graph g = RandomGraph(31);
  SessionOptions options;
  options.threads = 2;
  options.tile_rows = 64;
  options.max_tiles_in_flight = 3;
  Session s(g, options);
  constexpr int kCallers = 4;
  std::vector<RowMatrix<float>> in;
  std::vector<std::vector<float>> serial;
  for (int c = 0; c < kCallers; ++c) {
    in.push_back(RandomRows<float>(2000 + 37 * c, g.InputWidth(), 40 + c));
    serial.push_back(s.Run(in.back()).data);
  }
  // Each caller runs its own rows many times while the others run theirs;
  // every result must equal the serial one, bit for bit.
  std::vector<std::vector<std::vector<float>>> got(kCallers);
  std::vector<std::thread> callers;
  for (int c = 0; c < kCallers; ++c) {
    callers.emplace_back([&, c] {
      for (int k = 0; k < 5; ++k) got[c].push_back(s.Run(in[c]).data);
    });
  }
  for (std::thread& t : callers) t.join();
  for (int c = 0; c < kCallers; ++c) {
    for (const std::vector<float>& out : got[c]) {
      ASSERT_EQ(out.size(), serial[c].size());
      EXPECT_EQ(
          std::memcmp(out.data(), serial[c].data(), out.size() * sizeof(float)),
          0)
          << "caller " << c;
    }
  }
  // last_run() is one of the calls' stats, whole (not torn).
  const RunStats last = s.last_run();
  bool matches = false;
  for (int c = 0; c < kCallers; ++c) matches |= last.rows == in[c].rows;
  EXPECT_TRUE(matches) << last.rows;
}

TEST(SessionTest, ConcurrentRunsOverlapInTime) {
  // Two callers on one Session: while the first is inside a stage, the
  // second must be able to run a stage too (before this, Run calls were
  // serialized by a mutex and the second would wait for the first).
  const ir::Graph g = testing::SeedDeepNetwork();
  std::atomic<int> inside{0};
  std::atomic<bool> overlapped{false};
  SessionOptions options;
  options.threads = 2;
  options.tile_rows = 1;
  options.stage_hook = [&](const StageInfo&, int64_t, int64_t) {
    if (inside.fetch_add(1) + 1 >= 2) overlapped = true;
    // Wait (bounded) for the other caller to arrive.
    for (int i = 0; i < 2000 && !overlapped; ++i)
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    inside.fetch_sub(1);
  };
  Session s(g, options);
  const RowMatrix<float> in = RandomRows<float>(4, 2, 3);
  std::thread other([&] { s.Run(in); });
  s.Run(in);
  other.join();
  EXPECT_TRUE(overlapped.load());
}

TEST(SessionTest, SpanRunReadsAndWritesCallerMemoryInPlace) {
  const ir::Graph g = RandomGraph(7);
  const RowMatrix<float> in = RandomRows<float>(1000, g.InputWidth(), 7);
  SessionOptions options;
  options.tile_rows = 100;
  Session s(g, options);
  const std::vector<float> want = s.Run(in).data;
  std::vector<float> out(want.size(), -1.0f);
  s.Run(ConstRowSpan<float>{in.data.data(), in.rows, in.cols},
        RowSpan<float>{out.data(), in.rows, s.output_width()});
  EXPECT_EQ(out, want);
  // Zero rows: nothing to write, no error.
  s.Run(ConstRowSpan<float>{in.data.data(), 0, in.cols},
        RowSpan<float>{out.data(), 0, s.output_width()});
  EXPECT_EQ(s.last_run().rows, 0);
  // A wrong output shape is refused before anything runs.
  EXPECT_THROW(s.Run(ConstRowSpan<float>{in.data.data(), in.rows, in.cols},
                     RowSpan<float>{out.data(), in.rows - 1, s.output_width()}),
               Error);
  EXPECT_THROW(s.Run(ConstRowSpan<double>{nullptr, 0, in.cols},
                     RowSpan<double>{nullptr, 0, s.output_width()}),
               Error);
}

TEST(SessionTest, CancelStopsTheRunWithinTheTilesInFlight) {
  const ir::Graph g = testing::SeedDeepNetwork();
  SessionOptions options;
  options.threads = 2;
  options.tile_rows = 10;
  options.max_tiles_in_flight = 2;
  std::atomic<bool> cancel{false};
  std::atomic<int64_t> tiles_run{0};
  options.stage_hook = [&](const StageInfo&, int64_t first, int64_t) {
    if (first == 0) tiles_run = 0;
    if (tiles_run.fetch_add(1) == 5) cancel = true;
  };
  Session s(g, options);
  const RowMatrix<float> in = RandomRows<float>(100000, 2, 5);
  RunControl control;
  control.cancel = &cancel;
  RowMatrix<float> out(in.rows, 1);
  try {
    s.Run(ConstRowSpan<float>{in.data.data(), in.rows, in.cols},
          RowSpan<float>{out.data.data(), out.rows, out.cols}, control);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInterrupted);
    EXPECT_THAT(e.what(), HasSubstr("interrupted after"));
  }
  // At most the tiles in flight ran after the flag was set (x stages).
  EXPECT_LE(tiles_run.load(),
            6 + 2 * static_cast<int64_t>(s.stages().size()) + 2);
  // The Session runs again.
  cancel = false;
  EXPECT_EQ(s.Run(in).data, Session(g).Run(in).data);
}

}  // namespace
}  // namespace rowflow

namespace rowflow {
namespace {

TEST(SessionTest, DefaultTileRowsFollowsThePlan) {
  EXPECT_EQ(DefaultTileRows(true, 0, 12), 131072);  // the seed's network
  EXPECT_EQ(DefaultTileRows(true, 0, 24), 65536);   // the same in f64
  EXPECT_EQ(DefaultTileRows(true, 0, 8 * 8 * 2), 12288);
  EXPECT_EQ(DefaultTileRows(true, 0, 1000), 8192);
  // 64->256->256->10, then 784->1024->1024->10.
  EXPECT_EQ(DefaultTileRows(false, 2 * 256 * 4, 74 * 4), 432);
  EXPECT_EQ(DefaultTileRows(false, 2 * 1024 * 4, 794 * 4), 256);
  EXPECT_EQ(DefaultTileRows(false, 16, 8), 1024);
  // Rows of 1 GB: one row per tile, never 256 GB tiles.
  EXPECT_EQ(DefaultTileRows(false, int64_t{1} << 30, 8), 1);
  EXPECT_EQ(DefaultTileRows(false, int64_t{1} << 20, 8), 63);
}

}  // namespace
}  // namespace rowflow
