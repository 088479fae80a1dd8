// The --check-finite row decorators: rows pass unchanged until the first
// NaN or infinity, which is named by its input row and column.
#include "runtime/row_check.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "tests/io_test_util.h"

namespace rowflow {
namespace {

using ::rowflow::testing::ErrorOf;
using ::rowflow::testing::ReadAll;

TEST(RowCheckTest, FiniteRowsPassThroughUnchanged) {
  const std::vector<double> rows = {1, -0.0, 1e308, 5e-324, 3, 4};
  MemorySource<double> inner(rows.data(), 3, 2);
  FiniteCheckSource<double> source(inner, {"in.csv", true, false});
  EXPECT_EQ(source.cols(), 2);
  EXPECT_EQ(source.total_rows(), 3);
  const std::vector<double> got = ReadAll(source, 2);
  ASSERT_EQ(got.size(), rows.size());
  EXPECT_TRUE(std::signbit(got[1]));  // -0 stays -0
  EXPECT_EQ(got, rows);
  std::vector<double> out;
  MemorySink<double> sink_inner(&out, 2);
  FiniteCheckSink<double> sink(sink_inner, 2, {"in.csv", true, false});
  sink.Write(rows.data(), 3);
  sink.Commit();
  EXPECT_EQ(out, rows);
}

TEST(RowCheckTest, SourceNamesTheCsvLineAndColumnOfTheFirstNan) {
  const float nan = std::copysign(std::numeric_limits<float>::quiet_NaN(), -1);
  const std::vector<float> rows = {1, 2, 3, 4, 5, nan, 7, 8};
  MemorySource<float> inner(rows.data(), 4, 2);
  FiniteCheckSource<float> source(inner, {"rows.csv", true, true});
  // Row 2 (0-based) is line 4 after the header; a negative NaN prints "nan".
  EXPECT_EQ(ErrorOf(ErrorKind::kInput, [&] { ReadAll(source, 1); }),
            "rows.csv:4: column 2 is nan; expected finite values "
            "(--check-finite)");
}

TEST(RowCheckTest, SinkNamesTheNpyRowOfTheFirstInfinity) {
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> first = {1, 2, 3};
  const std::vector<double> second = {4, -inf, 6};
  std::vector<double> out;
  MemorySink<double> inner(&out, 1);
  FiniteCheckSink<double> sink(inner, 1, {"rows.npy", false, false});
  sink.Write(first.data(), 3);
  EXPECT_EQ(ErrorOf(ErrorKind::kInput, [&] { sink.Write(second.data(), 3); }),
            "rows.npy: row 5: output column 1 is -inf; expected finite values "
            "(--check-finite)");
  EXPECT_EQ(out, first);  // nothing of the refused batch reached the sink
}

}  // namespace
}  // namespace rowflow
