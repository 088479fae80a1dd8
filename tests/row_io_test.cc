// CSV and memory row sources and sinks.
#include "runtime/row_io.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "tests/io_test_util.h"

namespace rowflow {
namespace {

using ::rowflow::testing::ErrorOf;
using ::rowflow::testing::ReadAll;
using ::rowflow::testing::ReadFile;

class CsvTest : public ::rowflow::testing::ScratchDirTest {
 protected:
  // Parses `text` as CSV of `cols` columns of T.
  template <typename T = double>
  std::vector<T> Parse(const std::string& text, int64_t cols,
                       CsvOptions options = {}) {
    auto source = OpenCsvSource<T>(WriteFile("in.csv", text), cols, options);
    return ReadAll(*source);
  }
  // The message of the kInput error parsing `text` throws; "in.csv" stands
  // for the file's full path.
  std::string ParseError(const std::string& text, int64_t cols,
                         CsvOptions options = {}) {
    std::string message =
        ErrorOf(ErrorKind::kInput, [&] { Parse(text, cols, options); });
    std::string path = Path("in.csv");
    if (message.rfind(path, 0) == 0)
      message = "in.csv" + message.substr(path.size());
    return message;
  }
  template <typename T>
  std::string Format(const std::vector<T>& values, int64_t cols) {
    auto sink = OpenCsvSink<T>(Path("out.csv"), cols);
    sink->Write(values.data(), static_cast<int64_t>(values.size()) / cols);
    sink->Commit();
    return ReadFile(Path("out.csv"));
  }
  // Random values of every kind: normal, huge, tiny, denormal, signed zero.
  template <typename T>
  static std::vector<T> AwkwardValues(size_t n) {
    std::mt19937_64 rng(42);
    std::vector<T> v = {T(0),
                        -T(0),
                        T(182),
                        T(0.1),
                        std::numeric_limits<T>::max(),
                        std::numeric_limits<T>::lowest(),
                        std::numeric_limits<T>::min(),
                        std::numeric_limits<T>::denorm_min(),
                        std::numeric_limits<T>::infinity(),
                        -std::numeric_limits<T>::infinity()};
    std::uniform_int_distribution<uint64_t> bits;
    while (v.size() < n) {
      T x;
      uint64_t b = bits(rng);
      std::memcpy(&x, &b, sizeof(T));
      if (std::isfinite(x)) v.push_back(x);
    }
    return v;
  }
};

template <typename T>
void ExpectBitwiseEqual(const std::vector<T>& a, const std::vector<T>& b) {
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(T)), 0);
}

TEST_F(CsvTest, RoundTripsF64Bitwise) {
  auto values = AwkwardValues<double>(4000);
  Format(values, 4);
  auto source = OpenCsvSource<double>(Path("out.csv"), 4);
  ExpectBitwiseEqual(ReadAll(*source), values);
}

TEST_F(CsvTest, RoundTripsF32Bitwise) {
  auto values = AwkwardValues<float>(4000);
  Format(values, 5);
  auto source = OpenCsvSource<float>(Path("out.csv"), 5);
  ExpectBitwiseEqual(ReadAll(*source, 1000), values);
}

// NaNs of either sign bit and any payload, as T.
template <typename T>
std::vector<T> Nans() {
  using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  const Bits sign = Bits{1} << (sizeof(T) * 8 - 1);
  const Bits quiet = std::bit_cast<Bits>(std::numeric_limits<T>::quiet_NaN());
  const Bits signaling =
      std::bit_cast<Bits>(std::numeric_limits<T>::signaling_NaN());
  std::vector<T> out;
  for (Bits b : {quiet, quiet | 1, quiet | 0x155, signaling, signaling | 2}) {
    out.push_back(std::bit_cast<T>(b));
    out.push_back(std::bit_cast<T>(static_cast<Bits>(b | sign)));
  }
  return out;
}

TEST_F(CsvTest, WritesEveryNanAsNan) {
  // README: non-finite values print nan, inf, -inf; to_chars alone writes
  // "-nan" for a NaN whose sign bit is set (inf * 0 gives one).
  const std::vector<double> nans = Nans<double>();
  EXPECT_EQ(Format(nans, 2), "nan,nan\nnan,nan\nnan,nan\nnan,nan\nnan,nan\n");
  const std::vector<float> fnans = Nans<float>();
  EXPECT_EQ(Format(fnans, 5), "nan,nan,nan,nan,nan\nnan,nan,nan,nan,nan\n");
  // The parallel path of a large write prints them the same way.
  std::vector<float> many(8192, 1.5f);
  for (size_t i = 0; i < many.size(); i += 3) many[i] = fnans[i % fnans.size()];
  const std::string text = Format(many, 4);
  EXPECT_EQ(text.find("-nan"), std::string::npos);
  auto back = Parse<float>(text, 4);
  ASSERT_EQ(back.size(), many.size());
  for (size_t i = 0; i < many.size(); ++i) {
    EXPECT_EQ(std::isnan(back[i]), i % 3 == 0) << i;
  }
}

TEST_F(CsvTest, ReadsNanOfEitherSign) {
  auto back = Parse("nan,-nan,+nan\n", 3);
  ASSERT_EQ(back.size(), 3u);
  EXPECT_TRUE(std::isnan(back[0]) && !std::signbit(back[0]));
  EXPECT_TRUE(std::isnan(back[1]) && std::signbit(back[1]));
  EXPECT_TRUE(std::isnan(back[2]));
}

TEST_F(CsvTest, WritesShortestForm) {
  EXPECT_EQ(
      Format(std::vector<double>{182.0, 0.9901095378334199, -0.0, 1e21, 2.5e-8},
             5),
      "182,0.9901095378334199,-0,1e+21,2.5e-08\n");
  EXPECT_EQ(Format(std::vector<float>{0.1f, 182.0f, 1.0f / 3, 5.0f}, 2),
            "0.1,182\n0.33333334,5\n");
  EXPECT_EQ(Format(std::vector<double>{INFINITY, -INFINITY, 7}, 1),
            "inf\n-inf\n7\n");
}

TEST_F(CsvTest, AcceptsSignsSpacesSpecialsAndExponents) {
  auto v = Parse(" +1.5e3 ,\t-2E-2, nan,inf ,-inf, .5, 7., -0\n", 8);
  ASSERT_EQ(v.size(), 8u);
  EXPECT_EQ(v[0], 1500.0);
  EXPECT_EQ(v[1], -0.02);
  EXPECT_TRUE(std::isnan(v[2]));
  EXPECT_EQ(v[3], INFINITY);
  EXPECT_EQ(v[4], -INFINITY);
  EXPECT_EQ(v[5], 0.5);
  EXPECT_EQ(v[6], 7.0);
  EXPECT_TRUE(v[7] == 0 && std::signbit(v[7]));
}

TEST_F(CsvTest, ParsesF32DirectlyNotThroughDouble) {
  // Just above the midpoint of 1 and the next float; rounding through double
  // would land on the midpoint and then round down to 1.
  auto v = Parse<float>("1.0000000596046447753906251\n", 1);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0], std::nextafter(1.0f, 2.0f));
}

TEST_F(CsvTest, UnderflowBecomesZeroOrDenormal) {
  EXPECT_EQ(Parse("1e-400,-1e-400\n", 2), (std::vector<double>{0.0, -0.0}));
  auto f = Parse<float>("1e-50,1e-40\n", 2);
  EXPECT_EQ(f[0], 0.0f);
  EXPECT_EQ(f[1], 1e-40f);  // a float denormal
}

TEST_F(CsvTest, AcceptsCrlfMissingFinalNewlineBomAndTrailingBlankLines) {
  std::vector<double> expected = {1, 2, 3, 4};
  EXPECT_EQ(Parse("1,2\r\n3,4\r\n", 2), expected);
  EXPECT_EQ(Parse("1,2\n3,4", 2), expected);
  EXPECT_EQ(Parse("1,2\r\n3,4\r", 2), expected);
  EXPECT_EQ(Parse("\xEF\xBB\xBF"
                  "1,2\n3,4\n",
                  2),
            expected);
  EXPECT_EQ(Parse("1,2\n3,4\n\n\r\n\n", 2), expected);
  EXPECT_TRUE(Parse("", 2).empty());
  EXPECT_TRUE(Parse("\n\n", 2).empty());
}

TEST_F(CsvTest, HeaderOptionSkipsFirstLine) {
  CsvOptions header;
  header.header = true;
  EXPECT_EQ(Parse("a,b\n1,2\n", 2, header), (std::vector<double>{1, 2}));
  EXPECT_TRUE(Parse("a,b", 2, header).empty());
  EXPECT_EQ(ParseError("a,b\n1,x\n", 2, header),
            "in.csv:2:3: column 'b': not a number 'x'; --na 'x' reads it as "
            "NaN");
}

TEST_F(CsvTest, WrongColumnCountNamesLine) {
  EXPECT_EQ(ParseError("1,2,3\n4,5\n", 3),
            "in.csv:2: expected 3 columns, got 2");
  EXPECT_EQ(ParseError("1,2,3\n4,5,6,7\n", 3),
            "in.csv:2: expected 3 columns, got 4");
  EXPECT_EQ(ParseError("1,2\n", 1), "in.csv:1: expected 1 columns, got 2");
  // The column count wins over a bad field on the same line.
  EXPECT_EQ(ParseError("x,2\n", 3), "in.csv:1: expected 3 columns, got 2");
  EXPECT_EQ(ParseError(std::string(15, '1') + "\n", 16),
            "in.csv:1: expected 16 columns, got 1");
}

TEST_F(CsvTest, BadFieldNamesLineAndColumn) {
  EXPECT_EQ(ParseError("1,2\n3,abc\n", 2),
            "in.csv:2:3: not a number 'abc'; --na 'abc' reads it as NaN");
  EXPECT_EQ(ParseError("1, 2x ,3\n", 3), "in.csv:1:4: not a number ' 2x '");
  EXPECT_EQ(ParseError("1e,2\n", 2), "in.csv:1:1: not a number '1e'");
  EXPECT_EQ(ParseError("+-1\n", 1), "in.csv:1:1: not a number '+-1'");
  EXPECT_EQ(ParseError("0x10\n", 1), "in.csv:1:1: not a number '0x10'");
  EXPECT_EQ(ParseError("1 2\n", 1), "in.csv:1:1: not a number '1 2'");
  EXPECT_EQ(ParseError("\x01\xff\n", 1),
            "in.csv:1:1: not a number '\\x01\\xff'");
  EXPECT_EQ(ParseError("1," + std::string(50, '9') + "z\n", 2),
            "in.csv:1:3: not a number '" + std::string(40, '9') + "...'");
}

TEST_F(CsvTest, EmptyFieldNamesLineAndColumn) {
  EXPECT_EQ(ParseError("1,,3\n", 3),
            "in.csv:1:3: empty field ''; --na '' reads it as NaN");
  EXPECT_EQ(ParseError("1,2,  \n", 3),
            "in.csv:1:5: empty field '  '; --na '' reads it as NaN");
  EXPECT_EQ(ParseError(",2\n", 2),
            "in.csv:1:1: empty field ''; --na '' reads it as NaN");
}

TEST_F(CsvTest, OverflowNamesLineColumnAndType) {
  EXPECT_EQ(ParseError("1,1e400\n", 2),
            "in.csv:1:3: number out of range for f64 '1e400'");
  EXPECT_EQ(ParseError("-1e309\n", 1),
            "in.csv:1:1: number out of range for f64 '-1e309'");
  std::string message =
      ErrorOf(ErrorKind::kInput, [&] { Parse<float>("1e39\n", 1); });
  EXPECT_EQ(message,
            Path("in.csv") + ":1:1: number out of range for f32 '1e39'");
}

TEST_F(CsvTest, EmptyRowBeforeDataIsAnError) {
  EXPECT_EQ(ParseError("1,2\n\n3,4\n", 2),
            "in.csv:2: empty row; expected 2 columns");
  EXPECT_EQ(ParseError("\n\r\n1,2\n", 2),
            "in.csv:1: empty row; expected 2 columns");
}

TEST_F(CsvTest, OverlongLineIsAnError) {
  CsvOptions small;
  small.max_line_bytes = 16;
  std::string ok = "1234567,12345678";  // exactly 16 bytes
  EXPECT_EQ(Parse(ok + "\r\n" + ok, 2, small).size(), 4u);
  EXPECT_EQ(ParseError(ok + "\n" + ok + "9\n", 2, small),
            "in.csv:2: line too long; expected at most 16 bytes");
  EXPECT_EQ(ParseError(ok + "9", 2, small),
            "in.csv:1: line too long; expected at most 16 bytes");
  // A long line in a big input: found without buffering the whole input.
  std::string big;
  for (int i = 0; i < 300000; ++i) big += "1,2\n";
  EXPECT_EQ(ParseError(big + std::string(2 << 20, '1') + "\n", 2),
            "in.csv:300001: line too long; expected at most 1048576 bytes");
  EXPECT_EQ(ErrorOf(ErrorKind::kUsage,
                    [&] {
                      CsvOptions zero;
                      zero.max_line_bytes = 0;
                      OpenCsvSource<double>(Path("x"), 1, zero);
                    }),
            "max line bytes must be in 1..1073741824, got 0");
}

TEST_F(CsvTest, StreamsLongInputAcrossBufferBoundaries) {
  std::string text;
  std::vector<double> expected;
  for (int i = 0; i < 200000; ++i) {
    text += std::to_string(i) + ", -" + std::to_string(i) + ".5\r\n";
    expected.push_back(i);
    expected.push_back(-i - 0.5);
  }
  auto source = OpenCsvSource<double>(WriteFile("in.csv", text), 2);
  EXPECT_EQ(source->total_rows(), -1);
  EXPECT_EQ(ReadAll(*source, 333), expected);
  std::vector<double> none(2);
  EXPECT_EQ(source->Read(none.data(), 1), 0);
}

TEST_F(CsvTest, StdinIsNamedInMessages) {
  WriteFile("in.csv", "1,2\n3\n");
  ::rowflow::testing::RedirectFd redirect(STDIN_FILENO, Path("in.csv"),
                                          O_RDONLY);
  EXPECT_EQ(ErrorOf(ErrorKind::kInput,
                    [] {
                      auto source = OpenCsvSource<double>("-", 2);
                      ReadAll(*source);
                    }),
            "<stdin>:2: expected 2 columns, got 1");
}

TEST_F(CsvTest, UnreadableInputThrowsInput) {
  EXPECT_EQ(ErrorOf(ErrorKind::kInput,
                    [&] { OpenCsvSource<double>(Path("none.csv"), 2); }),
            Path("none.csv") + ": No such file or directory");
  EXPECT_EQ(ErrorOf(ErrorKind::kInput, [&] { OpenCsvSource<double>(dir_, 2); }),
            dir_ + ": Is a directory");
  EXPECT_EQ(
      ErrorOf(ErrorKind::kUsage, [&] { OpenCsvSource<double>(Path("x"), 0); }),
      "rows need at least 1 column, got 0");
}

TEST_F(CsvTest, SinkWithoutCommitLeavesNoFile) {
  {
    auto sink = OpenCsvSink<double>(Path("out.csv"), 2);
    std::vector<double> rows(2000, 1.0);
    sink->Write(rows.data(), 1000);
  }
  EXPECT_TRUE(Listing().empty());
  EXPECT_EQ(ErrorOf(ErrorKind::kIo,
                    [&] { OpenCsvSink<float>(Path("no/out.csv"), 2); }),
            Path("no/out.csv") + ": No such file or directory");
}

TEST_F(CsvTest, SinkToFullDiskThrowsIo) {
  EXPECT_EQ(ErrorOf(ErrorKind::kIo,
                    [] {
                      auto sink = OpenCsvSink<double>("/dev/full", 1);
                      double x = 1;
                      sink->Write(&x, 1);
                      sink->Commit();
                    }),
            "/dev/full: No space left on device");
}

TEST(MemoryRowsTest, SourceReadsInChunks) {
  std::vector<float> data = {1, 2, 3, 4, 5, 6};
  MemorySource<float> source(data.data(), 3, 2);
  EXPECT_EQ(source.total_rows(), 3);
  EXPECT_EQ(ReadAll<float>(source, 2), data);
  float row[2];
  EXPECT_EQ(source.Read(row, 5), 0);
}

TEST(MemoryRowsTest, SinkAppendsOnlyWhenCommitted) {
  std::vector<double> out = {9};
  std::vector<double> rows = {1, 2, 3, 4};
  {
    MemorySink<double> sink(&out, 2);
    sink.Write(rows.data(), 2);
  }
  EXPECT_EQ(out, std::vector<double>{9});
  {
    MemorySink<double> sink(&out, 2);
    sink.Write(rows.data(), 1);
    sink.Write(rows.data() + 2, 1);
    sink.Commit();
  }
  EXPECT_EQ(out, (std::vector<double>{9, 1, 2, 3, 4}));
}

}  // namespace
}  // namespace rowflow
