// The throughput suite (ctest label `throughput`): every built-in workload
// at reduced size with 1 and 2 threads, checked for correctness against the
// reference evaluator and for bitwise determinism. It asserts nothing about
// time; `rowflow bench` measures speed.
#include <gtest/gtest.h>

#include <cmath>

#include "graph/error.h"
#include "runtime/reference.h"
#include "runtime/session.h"
#include "tools/cli/workloads.h"

namespace rowflow {
namespace {

class ThroughputTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ThroughputTest, OneAndTwoThreadsAgreeBitwiseAndMatchReference) {
  const Workload w = MakeWorkload(GetParam());
  // About 1/100 of the workload's rows, enough for many tiles per thread.
  const int64_t rows = std::max<int64_t>(2000, w.default_rows / 100);
  const RowMatrix<float> in = WorkloadRows(w.graph, rows);
  std::vector<float> first;
  for (int threads : {1, 2}) {
    SessionOptions options;
    options.threads = threads;
    Session session(w.graph, options);
    const RowMatrix<float> out = session.Run(in);
    EXPECT_EQ(session.last_run().rows, rows);
    if (first.empty()) {
      first = out.data;
    } else {
      EXPECT_TRUE(out.data == first) << "2 threads differ from 1 thread";
    }
  }
  // The reference is slow on big layers: compare a sample of rows.
  RowMatrix<float> sample(0, in.cols);
  std::vector<int64_t> picked;
  for (int64_t r = 0; r < rows; r += rows / 50 + 1) {
    picked.push_back(r);
    sample.data.insert(sample.data.end(), in.row(r), in.row(r) + in.cols);
    ++sample.rows;
  }
  const RowMatrix<float> want = EvaluateReference(w.graph, sample);
  const int64_t cols = want.cols;
  for (size_t i = 0; i < picked.size(); ++i) {
    for (int64_t c = 0; c < cols; ++c) {
      const double g = first[picked[i] * cols + c],
                   e = want.at(static_cast<int64_t>(i), c);
      ASSERT_NEAR(g, e, 2e-4 * (1 + std::abs(e)))
          << "row " << picked[i] << " col " << c;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Workloads, ThroughputTest,
                         ::testing::Values("seed", "mid", "wide", "tanh"),
                         [](const auto& info) { return info.param; });

TEST(WorkloadTest, UnknownWorkloadIsAUsageError) {
  try {
    MakeWorkload("huge");
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUsage);
  }
}

TEST(WorkloadTest, SeedWorkloadIsTheSeedNetwork) {
  const Workload w = MakeWorkload("seed");
  EXPECT_EQ(Session(w.graph).Run(RowMatrix<float>{{3, 5}}).data,
            std::vector<float>{182});
}

}  // namespace
}  // namespace rowflow
