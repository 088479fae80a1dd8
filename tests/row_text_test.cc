// ParseCsvRow: one row typed as text, by the CSV source's field rules.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "runtime/row_io.h"
#include "tests/io_test_util.h"

namespace rowflow {
namespace {

using ::rowflow::testing::ErrorOf;

TEST(ParseCsvRowTest, ReadsFieldsAsTheCsvSourceDoes) {
  EXPECT_EQ(ParseCsvRow<double>("3,5", 2), (std::vector<double>{3, 5}));
  EXPECT_EQ(ParseCsvRow<double>(" +3 ,\t-0.5e1 ", 2),
            (std::vector<double>{3, -5}));
  EXPECT_EQ(ParseCsvRow<float>("0.1", 1), std::vector<float>{0.1f});
  const std::vector<double> special = ParseCsvRow<double>("nan,-inf,-0", 3);
  EXPECT_TRUE(std::isnan(special[0]));
  EXPECT_EQ(special[1], -std::numeric_limits<double>::infinity());
  EXPECT_EQ(std::bit_cast<uint64_t>(special[2]), uint64_t{1} << 63);
}

TEST(ParseCsvRowTest, UnderflowGivesTheNearestDenormalOrZero) {
  const std::vector<float> f = ParseCsvRow<float>("1e-50,1e-45", 2);
  EXPECT_EQ(std::bit_cast<uint32_t>(f[0]), 0u);
  EXPECT_EQ(std::bit_cast<uint32_t>(f[1]), 1u);  // the smallest denormal
  EXPECT_EQ(ParseCsvRow<double>("1e-400", 1), std::vector<double>{0.0});
}

TEST(ParseCsvRowTest, RefusalsNameTheValue) {
  EXPECT_EQ(ErrorOf(ErrorKind::kInput, [] { ParseCsvRow<double>("1,2", 3); }),
            "expected 3 values, got 2");
  EXPECT_EQ(ErrorOf(ErrorKind::kInput, [] { ParseCsvRow<double>("1,,2", 2); }),
            "expected 2 values, got 3");
  EXPECT_EQ(ErrorOf(ErrorKind::kInput, [] { ParseCsvRow<double>("1, x", 2); }),
            "value 2 is not a number: ' x'");
  EXPECT_EQ(ErrorOf(ErrorKind::kInput, [] { ParseCsvRow<double>("+-1", 1); }),
            "value 1 is not a number: '+-1'");
  EXPECT_EQ(ErrorOf(ErrorKind::kInput, [] { ParseCsvRow<double>("", 1); }),
            "value 1 is not a number: ''");
  EXPECT_EQ(ErrorOf(ErrorKind::kInput, [] { ParseCsvRow<float>("1e39", 1); }),
            "value 1 is out of range for f32: '1e39'");
  EXPECT_EQ(
      ErrorOf(ErrorKind::kInput, [] { ParseCsvRow<double>("2,-1e309", 2); }),
      "value 2 is out of range for f64: '-1e309'");
}

}  // namespace
}  // namespace rowflow
