// Google Benchmark of the streaming row I/O of `rowflow run`
// (runtime/row_io.h): CSV parse (OpenCsvSource) and format (OpenCsvSink,
// shortest round-trip form), and the .npy reader and writer, at the shapes of
// the `mid` workload: 64 numbers in per row, 10 out. Values are uniform in
// [-10, 10] as the workload's inputs, so a CSV row of 64 f32 is ~680 bytes.
//
// Counters: bytes_per_second (of the file read or written) and rows/s.
// Sources read a file in the page cache in tiles of 512 rows, as the Session
// does; sinks write to /dev/null (AtomicFile writes in place there), so the
// figures are parse/format plus the read()/write() calls, without disk.
// Each runs inside a task arena of `threads` threads: the CSV source and
// sink spread big batches over the arena's threads, as in `rowflow run`
// (threads:1 is the cost per core).
//
//   bench_io --benchmark_filter=Csv --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <fast_float/fast_float.h>
#include <fmt/compile.h>
#include <fmt/format.h>
#include <oneapi/tbb/task_arena.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "graph/ir.h"
#include "graph/npy_format.h"
#include "runtime/csv_number.h"
#include "runtime/row_io.h"

namespace rowflow {
namespace {

constexpr int64_t kTileRows = 512;  // rows per Read, about the Session's tile

template <typename T>
std::vector<T> Random(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(-10, 10);
  std::vector<T> v(n);
  for (T& x : v) x = static_cast<T>(dist(rng));
  return v;
}

// The CSV text the sink writes for `v` (rows, cols).
template <typename T>
std::string CsvText(const std::vector<T>& v, int64_t cols) {
  std::string text;
  char buf[64];
  for (size_t i = 0; i < v.size(); ++i) {
    text.append(buf, std::to_chars(buf, buf + sizeof(buf), v[i]).ptr);
    text += (static_cast<int64_t>(i) + 1) % cols == 0 ? '\n' : ',';
  }
  return text;
}

// A file in the temp folder, removed when this goes away.
class TempFile {
 public:
  TempFile(const std::string& suffix, const std::string& bytes) {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "rowflow-bench-io-XXXXXX")
            .string() +
        suffix;
    const int fd = mkstemps(tmpl.data(), static_cast<int>(suffix.size()));
    if (fd < 0) std::abort();
    path_ = tmpl;
    for (size_t done = 0; done < bytes.size();) {
      const ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
      if (n <= 0) std::abort();
      done += static_cast<size_t>(n);
    }
    close(fd);
  }
  ~TempFile() { std::remove(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void SetCounters(benchmark::State& state, int64_t rows, size_t bytes) {
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes));
  state.counters["rows/s"] = benchmark::Counter(
      static_cast<double>(rows), benchmark::Counter::kIsIterationInvariantRate);
}

// Reads every row of `path` through `open()`'s source, a tile at a time,
// in an arena of state.range(2) threads.
template <typename T, typename Open>
void ReadAll(benchmark::State& state, Open&& open, int64_t rows, int64_t cols) {
  std::vector<T> tile(kTileRows * cols);
  tbb::task_arena arena(static_cast<int>(state.range(2)));
  arena.execute([&] {
    for (auto _ : state) {
      std::unique_ptr<RowSource<T>> source = open();
      int64_t got = 0;
      while (int64_t n = source->Read(tile.data(), kTileRows)) got += n;
      if (got != rows) state.SkipWithError("wrong row count");
      benchmark::DoNotOptimize(tile.data());
    }
  });
}

// Writes `v` (rows, cols) through `open()`'s sink, a tile at a time, in an
// arena of state.range(2) threads.
template <typename T, typename Open>
void WriteAll(benchmark::State& state, Open&& open, const std::vector<T>& v,
              int64_t rows, int64_t cols) {
  tbb::task_arena arena(static_cast<int>(state.range(2)));
  arena.execute([&] {
    for (auto _ : state) {
      std::unique_ptr<RowSink<T>> sink = open();
      for (int64_t r = 0; r < rows; r += kTileRows) {
        sink->Write(v.data() + r * cols, std::min(kTileRows, rows - r));
      }
      sink->Commit();
    }
  });
}

// Args: rows, cols, threads.
template <typename T>
void BM_CsvParse(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1);
  const std::string text = CsvText(Random<T>(rows * cols, 1), cols);
  const TempFile file(".csv", text);
  ReadAll<T>(
      state, [&] { return OpenCsvSource<T>(file.path(), cols); }, rows, cols);
  SetCounters(state, rows, text.size());
}

template <typename T>
void BM_CsvFormat(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1);
  const std::vector<T> v = Random<T>(rows * cols, 2);
  WriteAll<T>(
      state, [&] { return OpenCsvSink<T>("/dev/null", cols); }, v, rows, cols);
  SetCounters(state, rows, CsvText(v, cols).size());
}

template <typename T>
void BM_NpyRead(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1);
  const std::vector<T> v = Random<T>(rows * cols, 3);
  std::string bytes = FormatNpyHeader(sizeof(T), rows, cols);
  const size_t header = bytes.size();
  bytes.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
  const TempFile file(".npy", bytes);
  ReadAll<T>(
      state, [&] { return OpenNpySource<T>(file.path(), cols); }, rows, cols);
  SetCounters(state, rows, bytes.size() - header);
}

template <typename T>
void BM_NpyWrite(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1);
  const std::vector<T> v = Random<T>(rows * cols, 4);
  // A real file: to /dev/null (not seekable) the sink would spool to a temp
  // file and copy it, which `rowflow run -o out.npy` never does.
  const TempFile dir_marker(".npy", "");
  const std::string path = dir_marker.path() + ".out.npy";
  WriteAll<T>(
      state, [&] { return OpenNpySink<T>(path, cols); }, v, rows, cols);
  std::remove(path.c_str());
  SetCounters(state, rows, v.size() * sizeof(T));
}

// The mid workload's shapes (64 in, 10 out) at 16 k rows, on 1 and 2
// threads; rows:8/cols:2/threads:1 is the smoke test's case.
void Shapes(benchmark::internal::Benchmark* b,
            std::initializer_list<int64_t> cols) {
  for (int64_t c : cols) {
    for (int64_t threads : {1, 2}) b->Args({16384, c, threads});
  }
  b->Args({8, 2, 1})->ArgNames({"rows", "cols", "threads"})->UseRealTime();
}
void InShapes(benchmark::internal::Benchmark* b) { Shapes(b, {64}); }
void OutShapes(benchmark::internal::Benchmark* b) { Shapes(b, {10, 64}); }

BENCHMARK_TEMPLATE(BM_CsvParse, float)->Apply(InShapes);
BENCHMARK_TEMPLATE(BM_CsvParse, double)->Apply(InShapes);
BENCHMARK_TEMPLATE(BM_CsvFormat, float)->Apply(OutShapes);
BENCHMARK_TEMPLATE(BM_CsvFormat, double)->Apply(OutShapes);
BENCHMARK_TEMPLATE(BM_NpyRead, float)->Apply(InShapes);
BENCHMARK_TEMPLATE(BM_NpyWrite, float)->Apply(OutShapes);

// --- The number code alone, candidate against candidate, on the same text:
// the fields of 64-column rows (parse) and the values of 10-column rows
// (print), as the CSV source and sink see them. Each candidate is checked
// first against the reference: a parser that reads a value other than
// std::from_chars' reports an error instead of a time; a printer shows how
// many values' text differs from std::to_chars' (counter "differ").

// The text of `v` as CSV rows of `cols` (shortest forms), zero padded as
// the source's buffer is, with each field's [begin, end).
template <typename T>
struct FieldText {
  std::string text;
  std::vector<std::pair<size_t, size_t>> fields;
  std::vector<size_t> line_ends;
  FieldText(const std::vector<T>& v, int64_t cols) {
    text = CsvText(v, cols);
    size_t b = 0;
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == ',' || text[i] == '\n') {
        fields.emplace_back(b, i);
        b = i + 1;
      }
      if (text[i] == '\n') line_ends.push_back(i);
    }
    text.append(64, '\0');
  }
};

enum class Parser { kStd, kHand, kFastFloat, kFieldThenFastFloat, kFastParse };

template <typename T>
bool ParseOne(Parser parser, const char* b, const char* e, T* value) {
  switch (parser) {
    case Parser::kStd:
      return std::from_chars(b, e, *value).ptr == e;
    case Parser::kHand:
      if constexpr (csv::kHaveFastFields) {
        if (csv::FastField(b, e, value)) return true;
      }
      {
        // nullptr: the source's fallback, std::from_chars.
        const char* end = csv::FastParse(b, e, value);
        if (end == nullptr) end = std::from_chars(b, e, *value).ptr;
        return end == e;
      }
    case Parser::kFastFloat:
      return fast_float::from_chars(b, e, *value).ptr == e;
    case Parser::kFieldThenFastFloat:
      if constexpr (csv::kHaveFastFields) {
        if (csv::FastField(b, e, value)) return true;
      }
      return fast_float::from_chars(b, e, *value).ptr == e;
    case Parser::kFastParse: {
      const char* end = csv::FastParse(b, e, value);
      if (end == nullptr) end = std::from_chars(b, e, *value).ptr;
      return end == e;
    }
  }
  return false;
}

// Args: parser; 1 M fields of 64-column rows, values in [-10, 10].
template <typename T>
void BM_NumberParse(benchmark::State& state) {
  const auto parser = static_cast<Parser>(state.range(0));
  static const FieldText<T> ft(Random<T>(int64_t{1} << 20, 5), 64);
  const char* const text = ft.text.data();
  std::vector<T> out(ft.fields.size());
  for (size_t i = 0; i < ft.fields.size(); ++i) {
    T want, got;
    std::from_chars(text + ft.fields[i].first, text + ft.fields[i].second,
                    want);
    if (!ParseOne(parser, text + ft.fields[i].first, text + ft.fields[i].second,
                  &got) ||
        std::memcmp(&want, &got, sizeof(T)) != 0) {
      state.SkipWithError("differs from std::from_chars");
      return;
    }
  }
  for (auto _ : state) {
    for (size_t i = 0; i < ft.fields.size(); ++i) {
      ParseOne(parser, text + ft.fields[i].first, text + ft.fields[i].second,
               &out[i]);
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() *
                          static_cast<int64_t>(ft.fields.size()));
}

enum class Printer { kStd, kHand, kFmt, kFmtCompiled, kDragonbox };

// The shortest digits from {fmt}'s Dragonbox, laid out as std::to_chars
// does: fixed unless scientific is shorter.
template <typename T>
char* DragonboxToChars(char* out, T value) {
  if (!std::isfinite(value) || value == 0)
    return ir::WriteNumber(out, out + 32, value);
  const auto dec = fmt::detail::dragonbox::to_decimal(value);
  char digits[24];
  char* const d_end =
      fmt::format_to(digits, FMT_COMPILE("{}"), dec.significand);
  const int n = static_cast<int>(d_end - digits);
  const int x = dec.exponent;
  char* o = out;
  if (std::signbit(value)) *o++ = '-';
  const int sci = x + n - 1;
  const int abs_sci = sci < 0 ? -sci : sci;
  const int sci_len = n + (n > 1) + 2 + (abs_sci >= 100 ? 3 : 2);
  const int fixed_len = x >= 0 ? n + x : std::max(n + 1, 2 - x);
  if (fixed_len <= sci_len) {
    if (x >= 0) {
      std::memcpy(o, digits, n);
      std::memset(o + n, '0', x);
    } else if (n + x > 0) {
      std::memcpy(o, digits, n + x);
      o[n + x] = '.';
      std::memcpy(o + n + x + 1, digits + n + x, -x);
    } else {
      o[0] = '0';
      o[1] = '.';
      std::memset(o + 2, '0', -x - n);
      std::memcpy(o + 2 - x - n, digits, n);
    }
    return o + fixed_len;
  }
  o[0] = digits[0];
  o[1] = '.';
  std::memcpy(o + 2, digits + 1, n - 1);
  o += n + (n > 1);
  *o++ = 'e';
  *o++ = sci < 0 ? '-' : '+';
  if (abs_sci >= 100) *o++ = static_cast<char>('0' + abs_sci / 100);
  *o++ = static_cast<char>('0' + abs_sci / 10 % 10);
  *o++ = static_cast<char>('0' + abs_sci % 10);
  return o;
}

template <typename T>
char* PrintOne(Printer printer, char* out, T value) {
  switch (printer) {
    case Printer::kStd:
      return std::to_chars(out, out + 32, value).ptr;
    case Printer::kHand:
      return csv::FormatValue(out, out + 32, value);
    case Printer::kFmt:
      return fmt::format_to(out, "{}", value);
    case Printer::kFmtCompiled:
      return fmt::format_to(out, FMT_COMPILE("{}"), value);
    case Printer::kDragonbox:
      return DragonboxToChars(out, value);
  }
  return out;
}

// Args: printer; 1 M values as 10-column rows, uniform in [-10, 10] (the
// first argument) or of every magnitude (random finite bit patterns).
template <typename T>
void BM_NumberPrint(benchmark::State& state) {
  const auto printer = static_cast<Printer>(state.range(0));
  std::vector<T> v = Random<T>(int64_t{1} << 20, 6);
  if (state.range(1) == 1) {
    std::mt19937_64 rng(6);
    for (T& x : v) {
      do {
        const uint64_t bits = rng();
        std::memcpy(&x, &bits, sizeof(T));
      } while (!std::isfinite(x));
    }
  }
  std::string want(v.size() * 32, '\0'), got(v.size() * 32, '\0');
  auto print_all = [&](Printer p, std::string& s) {
    char* o = s.data();
    for (size_t i = 0; i < v.size(); ++i) {
      o = PrintOne(p, o, v[i]);
      *o++ = (i + 1) % 10 == 0 ? '\n' : ',';
    }
    return static_cast<size_t>(o - s.data());
  };
  // Values whose text differs from std::to_chars': a printer with any is
  // not a candidate (its time is still shown).
  int64_t differ = 0;
  for (T x : v) {
    char a[32], b[32];
    const std::string_view sa(a, std::to_chars(a, a + 32, x).ptr - a);
    const std::string_view sb(b, PrintOne(printer, b, x) - b);
    differ += sa != sb;
  }
  state.counters["differ"] = static_cast<double>(differ);
  const size_t n = print_all(Printer::kStd, want);
  for (auto _ : state) {
    benchmark::DoNotOptimize(print_all(printer, got));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(v.size()));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(n));
}

void Parsers(benchmark::internal::Benchmark* b) {
  b->ArgNames({"parser"});
  for (int p : {0, 1, 2, 3, 4}) b->Arg(p);
}
void Printers(benchmark::internal::Benchmark* b) {
  b->ArgNames({"printer", "any_magnitude"});
  for (int m : {0, 1}) {
    for (int p : {0, 1, 2, 3, 4}) b->Args({p, m});
  }
}

BENCHMARK_TEMPLATE(BM_NumberParse, float)->Apply(Parsers);
BENCHMARK_TEMPLATE(BM_NumberParse, double)->Apply(Parsers);
BENCHMARK_TEMPLATE(BM_NumberPrint, float)->Apply(Printers);
BENCHMARK_TEMPLATE(BM_NumberPrint, double)->Apply(Printers);

}  // namespace
}  // namespace rowflow

BENCHMARK_MAIN();
