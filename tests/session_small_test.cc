// Small batches: the split of a few rows over the threads and the inline
// run of one tile on the calling thread give the bits of the tiled flow
// graph, and keep its cancel, error and stats behaviour.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <limits>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "graph/builder.h"
#include "graph/error.h"
#include "runtime/session.h"
#include "tests/random_graphs.h"

namespace rowflow {
namespace {

using ::testing::HasSubstr;
using testing::RandomRows;

// `mid`'s shape, 64 -> 256 relu -> 256 relu -> 10 with biases, random
// weights.
const ir::Graph& MidLike() {
  static const ir::Graph g = [] {
    std::mt19937 rng(17);
    std::uniform_real_distribution<double> dist(-0.2, 0.2);
    auto values = [&](int64_t n) {
      std::vector<double> v(n);
      for (double& x : v) x = dist(rng);
      return v;
    };
    GraphBuilder b("mid_like");
    ValueRef v = b.Input("x", {64});
    int64_t width = 64;
    const int64_t units[] = {256, 256, 10};
    for (int i = 0; i < 3; ++i) {
      DenseOptions o;
      o.activation = i < 2 ? ir::Activation::kRelu : ir::Activation::kIdentity;
      v = b.Dense(v, "layer" + std::to_string(i), units[i],
                  values(units[i] * width), values(units[i]), o);
      width = units[i];
    }
    b.Output(v);
    return b.Build();
  }();
  return g;
}

SessionOptions Options(int threads, int64_t tile_rows = 0) {
  SessionOptions o;
  o.threads = threads;
  o.tile_rows = tile_rows;
  return o;
}

// The first `rows` rows of `in` through `s` (the span form).
std::vector<float> RunRows(Session& s, const RowMatrix<float>& in,
                           int64_t rows) {
  std::vector<float> out(rows * s.output_width(), -1.0f);
  s.Run(ConstRowSpan<float>{in.data.data(), rows, in.cols},
        RowSpan<float>{out.data(), rows, s.output_width()});
  return out;
}

bool SameBits(const std::vector<float>& a, const float* b) {
  // An empty vector's data() may be null, which memcmp must not get.
  return a.empty() || std::memcmp(a.data(), b, a.size() * sizeof(float)) == 0;
}

TEST(SessionSmallTest, SplitAndInlineRunsEqualTheTiledRunBitwise) {
  const ir::Graph& g = MidLike();
  RowMatrix<float> in = RandomRows<float>(2000, 64, 3);
  in.at(5, 3) = std::numeric_limits<float>::quiet_NaN();  // passes through
  // Today's tiling: fixed tiles of 7 rows through the flow graph.
  Session tiled(g, Options(1, 7));
  const std::vector<float> want = RunRows(tiled, in, in.rows);
  for (int threads = 1; threads <= 4; ++threads) {
    Session s(g, Options(threads));
    const int64_t tile = s.tile_rows();
    for (int64_t rows :
         {int64_t{0}, int64_t{1}, int64_t{threads - 1}, int64_t{5}, int64_t{13},
          int64_t{37}, int64_t{100}, int64_t{256}, int64_t{257}, tile - 1, tile,
          tile + 1, threads * tile - 3, threads * tile, int64_t{2000}}) {
      if (rows > in.rows) continue;
      const std::vector<float> got = RunRows(s, in, rows);
      ASSERT_TRUE(SameBits(got, want.data()))
          << rows << " rows on " << threads << " threads";
      const RunStats last = s.last_run();
      EXPECT_EQ(last.rows, rows);
      // Fewer rows than threads x tile, enough of them: split, at most a
      // tile a thread.
      if (threads > 1 && rows < threads * tile &&
          rows >= threads * MinSplitRows(s.flops_per_row())) {
        EXPECT_GT(last.tiles, 1) << rows << " rows on " << threads;
        EXPECT_LE(last.tiles, threads) << rows << " rows on " << threads;
      }
      if (threads == 2 && rows == 256) {
        EXPECT_EQ(last.tiles, 2);
      }
      if (rows > 0 && rows < MinSplitRows(s.flops_per_row())) {
        EXPECT_EQ(last.tiles, 1) << rows << " rows on " << threads;
        EXPECT_EQ(last.threads_used, 1);
      }
    }
  }
}

TEST(SessionSmallTest, GivenTileSizesAreNotSplit) {
  const ir::Graph& g = MidLike();
  const RowMatrix<float> in = RandomRows<float>(300, 64, 4);
  Session whole(g, Options(1, 300));
  const std::vector<float> want = RunRows(whole, in, in.rows);
  for (int64_t tile : {1, 8, 13, 100, 299, 300}) {
    Session s(g, Options(2, tile));
    ASSERT_TRUE(SameBits(RunRows(s, in, in.rows), want.data())) << tile;
    EXPECT_EQ(s.last_run().tiles, (300 + tile - 1) / tile);
  }
}

TEST(SessionSmallTest, MinSplitRowsFollowsTheWork) {
  EXPECT_EQ(MinSplitRows(0), MinSplitRows(1));
  EXPECT_GE(MinSplitRows(1), 1);
  EXPECT_LE(MinSplitRows(1), kMaxTileRows);
  EXPECT_EQ(MinSplitRows(int64_t{1} << 40), 1);
  EXPECT_GT(MinSplitRows(1000), MinSplitRows(100000));
}

// One tile on a Session of 2 threads: it runs on the caller's thread.
TEST(SessionSmallTest, OneTileRunsOnTheCallingThread) {
  SessionOptions o = Options(2);
  std::atomic<int> elsewhere{0}, stages{0};
  const std::thread::id caller = std::this_thread::get_id();
  o.stage_hook = [&](const StageInfo&, int64_t, int64_t) {
    ++stages;
    if (std::this_thread::get_id() != caller) ++elsewhere;
  };
  Session s(MidLike(), o);
  const RowMatrix<float> in = RandomRows<float>(4, 64, 5);
  RunRows(s, in, 4);
  EXPECT_GT(stages.load(), 0);
  EXPECT_EQ(elsewhere.load(), 0);
  EXPECT_EQ(s.last_run().tiles, 1);
  EXPECT_EQ(s.last_run().threads_used, 1);
}

TEST(SessionSmallTest, InlineRunChecksCancelBeforeTheTile) {
  Session s(MidLike(), Options(2));
  const RowMatrix<float> in = RandomRows<float>(3, 64, 6);
  std::atomic<bool> cancel{true};
  RunControl control;
  control.cancel = &cancel;
  std::vector<float> out(3 * s.output_width());
  for (int64_t rows : {0, 1, 3}) {
    try {
      s.Run(ConstRowSpan<float>{in.data.data(), rows, in.cols},
            RowSpan<float>{out.data(), rows, s.output_width()}, control);
      FAIL() << "no error for " << rows << " rows";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInterrupted);
      EXPECT_THAT(e.what(), HasSubstr("interrupted after 0 rows"));
    }
  }
  cancel = false;
  s.Run(ConstRowSpan<float>{in.data.data(), 3, in.cols},
        RowSpan<float>{out.data(), 3, s.output_width()}, control);
  Session tiled(MidLike(), Options(1, 1));
  EXPECT_TRUE(SameBits(RunRows(tiled, in, 3), out.data()));
}

TEST(SessionSmallTest, InlineRunErrorsNameNodeAndRowsAndSessionRunsAgain) {
  SessionOptions o = Options(2);
  bool fail = true;
  o.stage_hook = [&](const StageInfo&, int64_t, int64_t) {
    if (fail) throw Error(ErrorKind::kInput, "injected");
  };
  Session s(MidLike(), o);
  const RowMatrix<float> in = RandomRows<float>(5, 64, 7);
  try {
    RunRows(s, in, 5);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_THAT(e.what(), HasSubstr("node '"));
    EXPECT_THAT(e.what(), HasSubstr("rows 0-4"));
    EXPECT_THAT(e.what(), HasSubstr("injected"));
  }
  fail = false;
  Session tiled(MidLike(), Options(1, 2));
  EXPECT_TRUE(SameBits(RunRows(s, in, 5), RunRows(tiled, in, 5).data()));
  // A row of the wrong width is refused before anything runs.
  const RowMatrix<float> narrow = RandomRows<float>(1, 63, 8);
  std::vector<float> out(s.output_width());
  try {
    s.Run(ConstRowSpan<float>{narrow.data.data(), 1, 63},
          RowSpan<float>{out.data(), 1, s.output_width()});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_THAT(e.what(), HasSubstr("expected 64 columns per row, got 63"));
  }
}

// A call that starts at a global row (a Dask partition, an MPI rank's
// part) names global rows in its errors, inline and split alike, and the
// hook sees the tiles where one run over the whole input would cut them.
TEST(SessionSmallTest, InlineAndSplitErrorsNameGlobalRows) {
  for (int64_t rows : {5, 300}) {
    SessionOptions o = Options(2);
    std::vector<std::pair<int64_t, int64_t>> tiles;
    std::mutex m;
    o.stage_hook = [&](const StageInfo&, int64_t first, int64_t n) {
      {
        std::lock_guard<std::mutex> lock(m);
        tiles.emplace_back(first, n);
      }
      if (first <= 1002 && 1002 < first + n)
        throw Error(ErrorKind::kInput, "injected");
    };
    Session s(MidLike(), o);
    ASSERT_GT(s.tile_rows(), rows) << "the call must fit the default tile";
    const RowMatrix<float> in = RandomRows<float>(rows, 64, 10);
    std::vector<float> out(rows * s.output_width());
    RunControl control;
    control.first_row = 1000;
    try {
      s.Run(ConstRowSpan<float>{in.data.data(), rows, in.cols},
            RowSpan<float>{out.data(), rows, s.output_width()}, control);
      FAIL() << "no error for " << rows << " rows";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInput);
      EXPECT_THAT(e.what(), HasSubstr("rows 1000-"));
      EXPECT_THAT(e.what(), HasSubstr("injected"));
    }
    ASSERT_FALSE(tiles.empty());
    for (const auto& [first, n] : tiles) {
      EXPECT_GE(first, 1000);
      EXPECT_LE(first + n, 1000 + rows);
    }
  }
}

// A split call: several tiles at once, each recorded; cancel before the
// call stops it with nothing run.
TEST(SessionSmallTest, SplitRunRecordsEachTileAndChecksCancel) {
  SessionOptions o = Options(2);
  o.record_tile_latency = true;
  Session s(MidLike(), o);
  const int64_t rows = 300;
  ASSERT_GT(s.tile_rows(), rows);
  const RowMatrix<float> in = RandomRows<float>(rows, 64, 11);
  const std::vector<float> split = RunRows(s, in, rows);
  EXPECT_EQ(s.last_run().tiles, 2);
  EXPECT_EQ(s.last_run().tile_latency_us.size(), 2u);
  EXPECT_EQ(s.last_run().rows, rows);
  Session tiled(MidLike(), Options(1, 7));
  EXPECT_TRUE(SameBits(split, RunRows(tiled, in, rows).data()));
  std::atomic<bool> cancel{true};
  RunControl control;
  control.cancel = &cancel;
  std::vector<float> out(rows * s.output_width(), -1.0f);
  try {
    s.Run(ConstRowSpan<float>{in.data.data(), rows, in.cols},
          RowSpan<float>{out.data(), rows, s.output_width()}, control);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInterrupted);
  }
  for (float v : out) ASSERT_EQ(v, -1.0f) << "a cancelled call wrote rows";
}

TEST(SessionSmallTest, InlineRunRecordsItsOneTileLatency) {
  SessionOptions o = Options(1);
  o.record_tile_latency = true;
  Session s(MidLike(), o);
  const RowMatrix<float> in = RandomRows<float>(2, 64, 9);
  RunRows(s, in, 2);
  ASSERT_EQ(s.last_run().tile_latency_us.size(), 1u);
  EXPECT_GE(s.last_run().tile_latency_us[0], 0);
  RunRows(s, in, 0);
  EXPECT_EQ(s.last_run().tiles, 0);
  EXPECT_EQ(s.last_run().threads_used, 0);
}

// Callers on one Session, each many small calls (inline and split) while
// the others run theirs: every result equals the serial one, bit for bit.
TEST(SessionSmallTest, ConcurrentSmallCallsEqualSerialCallsBitwise) {
  Session s(MidLike(), Options(2));
  const RowMatrix<float> in = RandomRows<float>(300, 64, 10);
  const int64_t sizes[] = {1, 3, 16, 300};
  std::vector<std::vector<float>> serial;
  for (int64_t rows : sizes) serial.push_back(RunRows(s, in, rows));
  std::atomic<int> mismatches{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&, c] {
      for (int k = 0; k < 20; ++k) {
        const int i = (c + k) % 4;
        if (!SameBits(RunRows(s, in, sizes[i]), serial[i].data())) ++mismatches;
      }
    });
  }
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace rowflow
