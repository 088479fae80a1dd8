// The Session under many threads: at 1, 2, 4, 16 and 64 threads, 100
// repetitions each of a clean run (bitwise equal to the 1-thread output)
// and of a run with a throwing kernel (exactly one error, then a clean run),
// across limiter widths from 1 tile in flight; random graphs against the
// reference. Every test runs under a watchdog, so a hang (a tile whose
// limiter decrement never comes, a join waiting forever) fails instead of
// blocking. Built into the ASan+UBSan suite as well.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "graph/error.h"
#include "runtime/reference.h"
#include "runtime/row_io.h"
#include "runtime/session.h"
#include "tests/fault/fault_test_util.h"
#include "tests/random_graphs.h"

namespace rowflow {
namespace {

using testing::BranchyGraph;
using testing::ExpectedFaultMessage;
using testing::RandomGraph;
using testing::RandomRows;
using testing::Watchdog;

constexpr int kRepetitions = 100;
constexpr int64_t kRows = 3000;
constexpr int64_t kTile = 8;

// Holds tile 0 in the first stage until some other thread has entered a
// stage of another tile (at most 10 s), so a run at N > 1 threads really
// runs tiles on two threads at once: the graph's kernels are so quick that
// otherwise one thread may do all the work before a worker wakes up.
class Rendezvous {
 public:
  void OnStage(const StageInfo& stage, int64_t first) {
    const std::thread::id me = std::this_thread::get_id();
    std::unique_lock<std::mutex> lock(mutex_);
    if (first == 0 && stage.deps.empty()) {
      met_ = cv_.wait_for(lock, std::chrono::seconds(10), [&] {
        return std::any_of(others_.begin(), others_.end(),
                           [&](std::thread::id id) { return id != me; });
      });
    } else if (first != 0 && others_.insert(me).second) {
      cv_.notify_all();
    }
  }
  bool met() {
    std::lock_guard<std::mutex> lock(mutex_);
    return met_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::set<std::thread::id> others_;
  bool met_ = false;
};

class SessionConcurrencyTest : public ::testing::TestWithParam<int> {
 protected:
  int threads() const { return GetParam(); }

  // Limiter widths worth covering: one tile at a time (each tile waits for
  // the previous one's decrement), two, and the default.
  static int InFlight(int repetition) {
    constexpr int kWidths[] = {1, 2, 0};
    return kWidths[repetition % 3];
  }

  const ir::Graph graph_ = BranchyGraph();
  const RowMatrix<float> in_ = RandomRows<float>(kRows, 6, 5);
};

// The output every thread count must reproduce bit for bit.
const std::vector<float>& OneThreadOutput(const ir::Graph& graph,
                                          const RowMatrix<float>& in) {
  static const std::vector<float> out = [&] {
    SessionOptions options;
    options.threads = 1;
    options.tile_rows = kTile;
    return Session(graph, options).Run(in).data;
  }();
  return out;
}

TEST_P(SessionConcurrencyTest, RepeatedRunsAreBitwiseIdenticalToOneThread) {
  Watchdog watchdog(100,
                    "clean runs at " + std::to_string(threads()) + " threads");
  const std::vector<float>& want = OneThreadOutput(graph_, in_);
  for (int rep = 0; rep < kRepetitions; ++rep) {
    SessionOptions options;
    options.threads = threads();
    options.tile_rows = kTile;
    options.max_tiles_in_flight = InFlight(rep);
    // With one tile in flight, tile 0 held would hold everything.
    const bool hold = threads() > 1 && options.max_tiles_in_flight != 1;
    Rendezvous rendezvous;
    if (hold) {
      options.stage_hook = [&rendezvous](const StageInfo& stage, int64_t first,
                                         int64_t) {
        rendezvous.OnStage(stage, first);
      };
    }
    Session session(graph_, options);
    if (rep % 2 == 0) {
      ASSERT_EQ(session.Run(in_).data, want) << "repetition " << rep;
    } else {
      // The streaming path: its own tile buffers, the sink in the sequencer.
      MemorySource<float> source(in_.data.data(), kRows, in_.cols);
      std::vector<float> out;
      MemorySink<float> sink(&out, graph_.OutputWidth());
      session.Run<float>(source, sink);
      ASSERT_EQ(out, want) << "repetition " << rep << " (streaming)";
    }
    ASSERT_LE(session.last_run().threads_used, threads());
    if (hold) {
      ASSERT_TRUE(rendezvous.met())
          << "repetition " << rep
          << ": no second thread ran a tile within 10 s";
      ASSERT_GE(session.last_run().threads_used, 2) << "repetition " << rep;
    }
  }
}

TEST_P(SessionConcurrencyTest,
       RepeatedKernelFaultsGiveOneErrorAndLeaveTheSessionUsable) {
  Watchdog watchdog(100,
                    "faulty runs at " + std::to_string(threads()) + " threads");
  const std::vector<float>& want = OneThreadOutput(graph_, in_);
  std::mt19937 rng(threads());
  const StageInfo* fail_stage = nullptr;
  int64_t fail_row = 0;
  SessionOptions options;
  options.threads = threads();
  options.tile_rows = kTile;
  std::unique_ptr<Rendezvous> rendezvous;
  options.stage_hook = [&](const StageInfo& stage, int64_t first,
                           int64_t rows) {
    if (rendezvous) rendezvous->OnStage(stage, first);
    if (&stage == fail_stage && first <= fail_row && fail_row < first + rows) {
      throw Error(ErrorKind::kInput, "injected");
    }
  };
  for (int rep = 0; rep < kRepetitions; ++rep) {
    options.max_tiles_in_flight = InFlight(rep);
    const bool hold = threads() > 1 && options.max_tiles_in_flight != 1;
    rendezvous = hold ? std::make_unique<Rendezvous>() : nullptr;
    Session session(graph_, options);
    const std::vector<StageInfo>& stages = session.stages();
    fail_stage = &stages[rng() % stages.size()];
    fail_row = static_cast<int64_t>(rng() % kRows);
    try {
      if (rep % 2 == 0) {
        session.Run(in_);
      } else {
        MemorySource<float> source(in_.data.data(), kRows, in_.cols);
        std::vector<float> out;
        MemorySink<float> sink(&out, graph_.OutputWidth());
        session.Run<float>(source, sink);
      }
      FAIL() << "no error in repetition " << rep;
    } catch (const Error& e) {
      const int64_t first = fail_row / kTile * kTile;
      ASSERT_EQ(
          std::string(e.what()),
          ExpectedFaultMessage(graph_, *fail_stage, first,
                               std::min(kTile, kRows - first), "injected"))
          << "repetition " << rep;
    }
    fail_stage = nullptr;
    rendezvous.reset();
    ASSERT_EQ(session.Run(in_).data, want) << "clean run after fault " << rep;
  }
}

TEST_P(SessionConcurrencyTest, FaultsInSourceAndSinkNeverHang) {
  // The limiter is decremented by the sink: a source or sink failing with
  // one tile in flight must still end the run.
  Watchdog watchdog(
      100, "source/sink faults at " + std::to_string(threads()) + " threads");
  for (int rep = 0; rep < kRepetitions; ++rep) {
    SessionOptions options;
    options.threads = threads();
    options.tile_rows = kTile;
    options.max_tiles_in_flight = InFlight(rep);
    Session session(graph_, options);
    const int64_t fail_at = (rep * 37) % kRows;
    testing::FailingSource<float> source(&in_.data, in_.cols, fail_at);
    testing::FailingSink<float> sink(graph_.OutputWidth(),
                                     rep % 2 == 0 ? 0 : 1 + rep % 7);
    try {
      session.Run<float>(source, sink);
      FAIL() << "no error in repetition " << rep;
    } catch (const Error& e) {
      ASSERT_TRUE(e.kind() == ErrorKind::kInput || e.kind() == ErrorKind::kIo)
          << e.what();
    }
    ASSERT_FALSE(sink.committed());
  }
}

TEST_P(SessionConcurrencyTest, RandomGraphsMatchTheReference) {
  Watchdog watchdog(
      100, "random graphs at " + std::to_string(threads()) + " threads");
  for (uint32_t seed = 500; seed < 520; ++seed) {
    const ir::Graph g = RandomGraph(seed);
    const RowMatrix<float> in = RandomRows<float>(300, g.InputWidth(), seed);
    SessionOptions options;
    options.threads = threads();
    options.tile_rows = 1 + seed % 7;
    const RowMatrix<float> got = Session(g, options).Run(in);
    const RowMatrix<float> want = EvaluateReference(g, in);
    ASSERT_EQ(got.data.size(), want.data.size());
    for (size_t i = 0; i < got.data.size(); ++i) {
      // The tolerance of tests/session_test.cc: FMA and summation order.
      ASSERT_NEAR(got.data[i], want.data[i],
                  2e-4 * (1 + std::abs(want.data[i])))
          << "graph " << seed << " element " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Threads, SessionConcurrencyTest,
                         ::testing::Values(1, 2, 4, 16, 64),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::to_string(info.param);
                         });

}  // namespace
}  // namespace rowflow
