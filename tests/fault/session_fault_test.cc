// Fault injection into a running Session (RELIABILITY.md class 23): a
// kernel throwing at a chosen row of each stage, foreign exceptions, many
// tiles failing at once, a failing source and a failing sink. Each must end
// in exactly one error naming node and rows, leave no output file, and
// leave the Session usable.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <new>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "graph/error.h"
#include "runtime/reference.h"
#include "runtime/row_io.h"
#include "runtime/session.h"
#include "tests/fault/fault_test_util.h"
#include "tests/random_graphs.h"

namespace rowflow {
namespace {

namespace fs = std::filesystem;
using testing::BranchyGraph;
using testing::ExpectedFaultMessage;
using testing::FailingSink;
using testing::FailingSource;
using testing::RandomRows;
using testing::Watchdog;

constexpr int64_t kRows = 5000;
constexpr int64_t kTile = 64;

// The error `run` throws, or a test failure when it throws none.
template <typename Run>
Error CatchError(Run&& run) {
  try {
    run();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no error";
  return Error(ErrorKind::kInternal, "<none>");
}

// A fault planted in one stage on the tile holding one row; the hook
// compares stage identity, so every stage can be targeted.
struct Fault {
  const StageInfo* stage = nullptr;  // nullptr: no fault
  int64_t row = 0;
  std::function<void()> raise = [] {
    throw Error(ErrorKind::kInput, "injected");
  };
};

SessionOptions OptionsWithFault(int threads, const Fault* fault) {
  SessionOptions options;
  options.threads = threads;
  options.tile_rows = kTile;
  options.stage_hook = [fault](const StageInfo& stage, int64_t first,
                               int64_t rows) {
    if (&stage == fault->stage && first <= fault->row &&
        fault->row < first + rows) {
      fault->raise();
    }
  };
  return options;
}

// The tile [first, first + rows) holding `row` of kRows rows.
int64_t TileFirst(int64_t row) { return row / kTile * kTile; }
int64_t TileRows(int64_t row) {
  return std::min(kTile, kRows - TileFirst(row));
}

class SessionFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (fs::temp_directory_path() / "rowflow-fault-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<std::string> Listing() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_))
      names.push_back(e.path().filename());
    return names;
  }

  const ir::Graph graph_ = BranchyGraph();
  const RowMatrix<float> in_ = RandomRows<float>(kRows, 6, 11);
  fs::path dir_;
};

TEST_F(SessionFaultTest, PlanHasDenseElementwiseAndJoinStages) {
  // The fault tests below are only as good as the stages they can target.
  Session session(graph_);
  std::set<StageKind> kinds;
  int joins = 0;
  for (const StageInfo& s : session.stages()) {
    kinds.insert(s.kind);
    joins += s.deps.size() > 1 ? 1 : 0;
  }
  EXPECT_TRUE(kinds.count(StageKind::kDense)) << "no dense stage";
  EXPECT_GE(session.stages().size(), 4u);
  EXPECT_GE(joins, 1) << "no stage reads two others (no join)";
}

TEST_F(SessionFaultTest,
       KernelThrowingAtAChosenRowOfEveryStageGivesOneExactError) {
  Watchdog watchdog(120, "fault at every stage");
  const RowMatrix<float> want = Session(graph_).Run(in_);
  for (int threads : {1, 3}) {
    Fault fault;
    Session session(graph_, OptionsWithFault(threads, &fault));
    for (const StageInfo& stage : session.stages()) {
      for (int64_t row : {int64_t{0}, int64_t{1234}, kRows - 1}) {
        fault.stage = &stage;
        fault.row = row;
        const Error e = CatchError([&] { session.Run(in_); });
        EXPECT_EQ(e.kind(), ErrorKind::kInput);
        // Exact: one error, this node, this tile's rows, nothing appended.
        EXPECT_EQ(std::string(e.what()),
                  ExpectedFaultMessage(graph_, stage, TileFirst(row),
                                       TileRows(row), "injected"))
            << "threads " << threads << " stage " << stage.label << " row "
            << row;
        fault.stage = nullptr;
        // Usable again, and bitwise the same as a fresh Session.
        EXPECT_EQ(session.Run(in_).data, want.data)
            << "after a fault in " << stage.label;
      }
    }
  }
}

TEST_F(SessionFaultTest,
       ForeignExceptionsBecomeOneInternalErrorNamingNodeAndRows) {
  Watchdog watchdog(60, "foreign exceptions");
  Fault fault;
  Session session(graph_, OptionsWithFault(2, &fault));
  const StageInfo& stage = session.stages()[1];
  fault.stage = &stage;
  fault.row = 700;
  const std::vector<std::pair<std::function<void()>, std::string>> faults = {
      {[] { throw std::bad_alloc(); }, "std::bad_alloc"},
      {[] { throw std::logic_error("kernel bug"); }, "kernel bug"},
      {[] { throw Error(ErrorKind::kIo, "disk gone"); }, "disk gone"},
  };
  for (const auto& [raise, what] : faults) {
    fault.raise = raise;
    const Error e = CatchError([&] { session.Run(in_); });
    EXPECT_EQ(e.kind(),
              what == "disk gone" ? ErrorKind::kIo : ErrorKind::kInternal)
        << what;
    EXPECT_EQ(std::string(e.what()),
              ExpectedFaultMessage(graph_, stage, TileFirst(700), kTile, what));
  }
  fault.stage = nullptr;
  EXPECT_EQ(session.Run(in_).rows, kRows);
}

TEST_F(SessionFaultTest, EveryTileFailingAtOnceStillGivesOneError) {
  Watchdog watchdog(60, "every tile failing");
  SessionOptions options;
  options.threads = 4;
  options.tile_rows = 16;
  options.max_tiles_in_flight = 16;
  std::atomic<bool> fail{true};
  std::atomic<int> raised{0};
  options.stage_hook = [&](const StageInfo&, int64_t, int64_t) {
    if (fail) {
      raised.fetch_add(1);
      throw Error(ErrorKind::kInput, "injected");
    }
  };
  Session session(graph_, options);
  const Error e = CatchError([&] { session.Run(in_); });
  EXPECT_GE(raised.load(), 1);
  // Whichever tile lost the race, the message is one well-formed error:
  // "node '<name>' (<label>): rows <a>-<b>: injected", b - a + 1 = 16.
  // (Parsed by hand: GCC 12 warns inside <regex> under ASan.)
  const std::string what = e.what();
  const size_t rows_at = what.find("): rows ");
  ASSERT_TRUE(what.starts_with("node '") && rows_at != std::string::npos)
      << what;
  long long first = -1, last = -1;
  char rest[16] = {};
  ASSERT_EQ(std::sscanf(what.c_str() + rows_at, "): rows %lld-%lld: %15s",
                        &first, &last, rest),
            3)
      << what;
  EXPECT_EQ(std::string(rest), "injected") << what;
  EXPECT_TRUE(what.ends_with(": injected")) << what;
  EXPECT_EQ(what.find("injected"), what.size() - 8)
      << "more than one error: " << what;
  EXPECT_EQ(first % 16, 0);
  EXPECT_EQ(last - first, 15);
  fail = false;
  EXPECT_EQ(session.Run(in_).data, Session(graph_).Run(in_).data);
}

TEST_F(SessionFaultTest, StreamingFaultLeavesNoOutputFileAndRunsAgain) {
  Watchdog watchdog(60, "streaming fault");
  Fault fault;
  Session session(graph_, OptionsWithFault(2, &fault));
  const std::string in_path = (dir_ / "in.csv").string();
  {
    auto sink = OpenCsvSink<float>(in_path, 6);
    sink->Write(in_.data.data(), kRows);
    sink->Commit();
  }
  const std::string out_path = (dir_ / "out.csv").string();
  for (const StageInfo& stage : session.stages()) {
    fault.stage = &stage;
    fault.row = 4321;
    const Error e = CatchError([&] {
      auto source = OpenCsvSource<float>(in_path, 6);
      auto sink = OpenCsvSink<float>(out_path, graph_.OutputWidth());
      session.Run(*source, *sink);
    });
    EXPECT_EQ(std::string(e.what()),
              ExpectedFaultMessage(graph_, stage, TileFirst(4321), kTile,
                                   "injected"));
    // Neither out.csv nor its temp file: only the input is left.
    EXPECT_EQ(Listing(), std::vector<std::string>{"in.csv"}) << stage.label;
  }
  fault.stage = nullptr;
  auto source = OpenCsvSource<float>(in_path, 6);
  auto sink = OpenCsvSink<float>(out_path, graph_.OutputWidth());
  session.Run(*source, *sink);
  EXPECT_TRUE(fs::exists(out_path));
  EXPECT_EQ(session.last_run().rows, kRows);
}

TEST_F(SessionFaultTest,
       FailingSourceStopsTheRunUncommittedAndSessionRunsAgain) {
  Watchdog watchdog(60, "failing source");
  SessionOptions options;
  options.threads = 3;
  options.tile_rows = kTile;
  options.max_tiles_in_flight = 1;  // the limiter at its tightest
  Session session(graph_, options);
  for (int64_t fail_at : {int64_t{0}, int64_t{1}, int64_t{3000}, kRows - 1}) {
    FailingSource<float> source(&in_.data, 6, fail_at);
    FailingSink<float> sink(graph_.OutputWidth(), 0);
    const Error e = CatchError([&] { session.Run<float>(source, sink); });
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_EQ(std::string(e.what()),
              fmt::format("source: row {}: injected", fail_at));
    EXPECT_FALSE(sink.committed()) << "fail_at " << fail_at;
  }
  FailingSource<float> source(&in_.data, 6, kRows + 1);
  FailingSink<float> sink(graph_.OutputWidth(), 0);
  session.Run<float>(source, sink);
  EXPECT_TRUE(sink.committed());
  EXPECT_EQ(sink.rows(), session.Run(in_).data);
}

TEST_F(SessionFaultTest, FailingSinkStopsTheRunUncommittedAndSessionRunsAgain) {
  Watchdog watchdog(60, "failing sink");
  for (int in_flight : {1, 2, 8}) {
    SessionOptions options;
    options.threads = 4;
    options.tile_rows = kTile;
    options.max_tiles_in_flight = in_flight;
    Session session(graph_, options);
    for (int fail_write : {1, 2, 40}) {
      MemorySource<float> source(in_.data.data(), kRows, 6);
      FailingSink<float> sink(graph_.OutputWidth(), fail_write);
      const Error e = CatchError([&] { session.Run<float>(source, sink); });
      EXPECT_EQ(e.kind(), ErrorKind::kIo);
      EXPECT_STREQ(e.what(), "sink: injected");
      EXPECT_FALSE(sink.committed());
      // The sink got exactly the tiles before the failing write, in order.
      EXPECT_EQ(
          sink.rows().size(),
          static_cast<size_t>((fail_write - 1) * kTile * graph_.OutputWidth()));
    }
    MemorySource<float> source(in_.data.data(), kRows, 6);
    FailingSink<float> sink(graph_.OutputWidth(), 0);
    session.Run<float>(source, sink);
    EXPECT_TRUE(sink.committed()) << "in flight " << in_flight;
  }
}

TEST_F(SessionFaultTest, AlternatingFailedAndGoodRunsGiveTheSameOutput) {
  Watchdog watchdog(60, "alternating runs");
  const RowMatrix<float> reference = EvaluateReference(graph_, in_);
  Fault fault;
  Session session(graph_, OptionsWithFault(4, &fault));
  const std::vector<float> first = session.Run(in_).data;
  ASSERT_EQ(first.size(), reference.data.size());
  for (size_t i = 0; i < first.size(); ++i) {
    ASSERT_NEAR(first[i], reference.data[i],
                2e-4 * (1 + std::abs(reference.data[i])));
  }
  for (int i = 0; i < 30; ++i) {
    fault.stage = &session.stages()[i % session.stages().size()];
    fault.row = (i * 977) % kRows;
    EXPECT_THROW(session.Run(in_), Error);
    fault.stage = nullptr;
    ASSERT_EQ(session.Run(in_).data, first)
        << "good run after failed run " << i;
  }
}

}  // namespace
}  // namespace rowflow
