// The CSV source's number parsing against std::from_chars, the reference
// its rules name (runtime/row_io.h), and its parallel batch parse against a
// serial one: same values bit for bit, same first error.
#include <gtest/gtest.h>
#include <oneapi/tbb/task_arena.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "runtime/row_io.h"
#include "tests/io_test_util.h"

namespace rowflow {
namespace {

using ::rowflow::testing::ErrorOf;
using ::rowflow::testing::ReadAll;

// Number texts of every shape the fast path takes or declines: shortest
// forms, fixed and scientific forms of every precision, float midpoints and
// their double neighbours, random digit strings with leading zeros, long
// mantissas and exponents.
template <typename T>
std::vector<std::string> NumberTexts(size_t n) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<uint64_t> bits;
  auto pick = [&](int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng);
  };
  auto digits = [&](int count) {
    std::string s;
    for (int i = 0; i < count; ++i) s += static_cast<char>('0' + pick(0, 9));
    return s;
  };
  std::vector<std::string> out;
  char buf[128];
  while (out.size() < n) {
    switch (pick(0, 5)) {
      case 0: {  // shortest form of a random value
        T x;
        uint64_t b = bits(rng);
        std::memcpy(&x, &b, sizeof(T));
        if (!std::isfinite(x)) break;
        out.emplace_back(buf, std::to_chars(buf, buf + sizeof(buf), x).ptr);
        break;
      }
      case 1: {  // a workload-like value in any precision and form
        double x = std::uniform_real_distribution<double>(-10, 10)(rng);
        if (pick(0, 1)) x = std::ldexp(x, pick(-80, 80));
        std::snprintf(buf, sizeof(buf), pick(0, 1) ? "%.*e" : "%.*f",
                      pick(0, 24), x);
        out.emplace_back(buf);
        break;
      }
      case 2: {  // near a midpoint of two floats: where rounding twice fails
        float f = std::uniform_real_distribution<float>(-10, 10)(rng);
        f = std::ldexp(f, pick(-40, 40));
        double m = (static_cast<double>(f) +
                    static_cast<double>(std::nextafter(f, INFINITY))) /
                   2;
        for (int k = pick(0, 3); k > 0; --k)
          m = std::nextafter(m, pick(0, 1) ? INFINITY : 0.0);
        std::snprintf(buf, sizeof(buf), "%.*g", pick(9, 25), m);
        out.emplace_back(buf);
        break;
      }
      case 3: {  // random digits
        std::string s = pick(0, 2) == 0 ? "-" : "";
        s += std::string(static_cast<size_t>(pick(0, 2) == 0 ? pick(1, 3) : 0),
                         '0');
        s += digits(pick(0, 22));
        if (pick(0, 2) > 0) s += "." + digits(pick(0, 22));
        if (s.find_first_of("0123456789") == std::string::npos) s += "0";
        if (pick(0, 2) == 0) {
          s += pick(0, 1) ? "e" : "E";
          int sign = pick(0, 2);
          if (sign == 1) s += "-";
          if (sign == 2) s += "+";
          s += digits(pick(1, 3));
        }
        out.push_back(s);
        break;
      }
      case 4: {  // exactly representable integers and powers of ten
        std::snprintf(buf, sizeof(buf), "%lld",
                      static_cast<long long>(bits(rng) >> pick(1, 63)));
        out.emplace_back(buf);
        if (pick(0, 1)) out.back() += "e" + std::to_string(pick(-30, 30));
        break;
      }
      case 5: {  // zeros
        static const char* const kZeros[] = {"0",    "-0",       "0.000",
                                             "-0e5", "000.0e-3", ".0"};
        out.emplace_back(kZeros[pick(0, 5)]);
        break;
      }
    }
  }
  return out;
}

class CsvParseTest : public ::rowflow::testing::ScratchDirTest {};

template <typename T>
void ExpectSameAsFromChars(const std::string& dir) {
  std::vector<std::string> texts = NumberTexts<T>(200000), lines;
  std::string file;
  std::vector<T> expected;
  for (const std::string& s : texts) {
    T value;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc() || ptr != s.data() + s.size())
      continue;  // errors elsewhere
    expected.push_back(value);
    lines.push_back(s);
    file += s + "\n";
  }
  ASSERT_GT(expected.size(), texts.size() / 2);
  const std::string path = dir + "/numbers.csv";
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(std::fwrite(file.data(), 1, file.size(), f), file.size());
    std::fclose(f);
  }
  // The same numbers one a line, and 8 a line (fields parsed in batches).
  std::string wide;
  const size_t n8 = lines.size() / 8 * 8;
  for (size_t i = 0; i < n8; ++i)
    wide += lines[i] + ((i + 1) % 8 == 0 ? "\n" : ",");
  const std::string wide_path = dir + "/numbers8.csv";
  {
    std::FILE* f = std::fopen(wide_path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(std::fwrite(wide.data(), 1, wide.size(), f), wide.size());
    std::fclose(f);
  }
  for (int64_t cols : {1, 8}) {
    for (int threads : {1, 2}) {
      tbb::task_arena arena(threads);
      std::vector<T> got;
      arena.execute([&] {
        auto source = OpenCsvSource<T>(cols == 1 ? path : wide_path, cols);
        got = ReadAll(*source, 5000);
      });
      ASSERT_EQ(got.size(), cols == 1 ? expected.size() : n8);
      for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(std::memcmp(&got[i], &expected[i], sizeof(T)), 0)
            << "number " << i + 1 << ": '" << lines[i] << "' parsed as "
            << got[i] << ", from_chars gives " << expected[i] << " (" << cols
            << " a line, threads " << threads << ")";
      }
    }
  }
}

TEST_F(CsvParseTest, F32MatchesFromCharsBitwise) {
  ExpectSameAsFromChars<float>(dir_);
}
TEST_F(CsvParseTest, F64MatchesFromCharsBitwise) {
  ExpectSameAsFromChars<double>(dir_);
}

// 64 columns (the mid workload's input) over 20 k lines: big batches, parsed
// in parallel when the arena has threads, into the same rows.
std::string WideCsv(int lines, std::vector<float>* values) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-10, 10);
  std::string text;
  char buf[64];
  for (int r = 0; r < lines; ++r) {
    for (int c = 0; c < 64; ++c) {
      const float x = dist(rng);
      values->push_back(x);
      text.append(buf, std::to_chars(buf, buf + sizeof(buf), x).ptr);
      text += c == 63 ? '\n' : ',';
    }
  }
  return text;
}

TEST_F(CsvParseTest, ParallelBatchesReadTheSameRows) {
  std::vector<float> values;
  const std::string path = WriteFile("wide.csv", WideCsv(20000, &values));
  for (int threads : {1, 2}) {
    tbb::task_arena arena(threads);
    std::vector<float> got;
    arena.execute([&] {
      auto source = OpenCsvSource<float>(path, 64);
      got = ReadAll(*source, 700);
    });
    EXPECT_EQ(got, values) << threads << " threads";
  }
}

// Several bad lines in one batch: the first one in the input is reported,
// however the batch was split; a scanning error after it comes second.
TEST_F(CsvParseTest, ParallelBatchesReportTheFirstBadLine) {
  std::vector<float> values;
  std::string text = WideCsv(6000, &values);
  auto line_start = [&](int line) {  // 1-based
    size_t pos = 0;
    for (int i = 1; i < line; ++i) pos = text.find('\n', pos) + 1;
    return pos;
  };
  std::string bad = text;
  bad.replace(line_start(5000), 1, "x");
  bad.replace(line_start(4000), 1, "y");
  bad.insert(line_start(5500), "\n");  // an empty row before data
  const std::string path = WriteFile("bad.csv", bad);
  for (int threads : {1, 2}) {
    tbb::task_arena arena(threads);
    const std::string message = ErrorOf(ErrorKind::kInput, [&] {
      arena.execute([&] {
        auto source = OpenCsvSource<float>(path, 64);
        ReadAll(*source, 4096);
      });
    });
    EXPECT_EQ(message.substr(path.size()),
              ":4000:1: not a number '" +
                  bad.substr(line_start(4000), bad.find(',', line_start(4000)) -
                                                   line_start(4000)) +
                  "'")
        << threads << " threads";
  }
  std::string empty_first = text;
  empty_first.insert(line_start(3000), "\n");
  empty_first.replace(line_start(3500), 1, "x");
  const std::string path2 = WriteFile("empty.csv", empty_first);
  tbb::task_arena arena(2);
  EXPECT_EQ(ErrorOf(ErrorKind::kInput,
                    [&] {
                      arena.execute([&] {
                        auto source = OpenCsvSource<float>(path2, 64);
                        ReadAll(*source, 4096);
                      });
                    })
                .substr(path2.size()),
            ":3000: empty row; expected 64 columns");
}

// The sink formats big writes in parallel: the same bytes as one thread.
TEST_F(CsvParseTest, ParallelFormatWritesTheSameBytes) {
  std::vector<float> values;
  WideCsv(5000, &values);
  std::vector<float> ten(values.begin(), values.begin() + 5000 * 10);
  std::string expected;
  char buf[64];
  for (size_t i = 0; i < ten.size(); ++i) {
    expected.append(buf, std::to_chars(buf, buf + sizeof(buf), ten[i]).ptr);
    expected += (i + 1) % 10 == 0 ? '\n' : ',';
  }
  for (int threads : {1, 2}) {
    for (int64_t chunk : {int64_t{1}, int64_t{700}, int64_t{5000}}) {
      tbb::task_arena arena(threads);
      arena.execute([&] {
        auto sink = OpenCsvSink<float>(Path("out.csv"), 10);
        for (int64_t r = 0; r < 5000; r += chunk) {
          sink->Write(ten.data() + r * 10, std::min<int64_t>(chunk, 5000 - r));
        }
        sink->Commit();
      });
      EXPECT_EQ(::rowflow::testing::ReadFile(Path("out.csv")), expected)
          << threads << " threads, " << chunk << " rows per write";
    }
  }
}

// The sink's own shortest-form printer for f32 against std::to_chars, the
// reference of runtime/row_io.h: random bit patterns, workload-like values
// of every magnitude, and the edges of its range (powers of ten and two).
TEST_F(CsvParseTest, F32FormatMatchesToChars) {
  std::mt19937 rng(11);
  std::vector<float> values;
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 300000; ++i) {
    const uint32_t b = bits(rng);
    float x;
    std::memcpy(&x, &b, sizeof(x));
    if (std::isfinite(x)) values.push_back(x);
  }
  std::uniform_real_distribution<float> unit(-10, 10);
  for (int i = 0; i < 300000; ++i)
    values.push_back(std::ldexp(unit(rng), i % 80 - 50));
  for (int k = -12; k <= 9; ++k) {
    const float p = static_cast<float>(std::pow(10.0, k));
    for (float x :
         {p, std::nextafter(p, 0.0f), std::nextafter(p, INFINITY), -p}) {
      values.push_back(x);
    }
  }
  for (int k = -45; k <= 30; ++k) {
    const float p = std::ldexp(1.0f, k);
    for (float x : {p, std::nextafter(p, 0.0f), std::nextafter(p, INFINITY)})
      values.push_back(x);
  }
  values.resize(values.size() / 4 * 4);
  std::string expected;
  char buf[64];
  for (size_t i = 0; i < values.size(); ++i) {
    expected.append(buf, std::to_chars(buf, buf + sizeof(buf), values[i]).ptr);
    expected += (i + 1) % 4 == 0 ? '\n' : ',';
  }
  for (int threads : {1, 2}) {
    tbb::task_arena arena(threads);
    arena.execute([&] {
      auto sink = OpenCsvSink<float>(Path("out.csv"), 4);
      sink->Write(values.data(), static_cast<int64_t>(values.size()) / 4);
      sink->Commit();
    });
    const std::string got = ::rowflow::testing::ReadFile(Path("out.csv"));
    ASSERT_EQ(got.size(), expected.size()) << threads << " threads";
    EXPECT_TRUE(got == expected) << threads << " threads";
  }
}

}  // namespace
}  // namespace rowflow
