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
#include <oneapi/tbb/task_arena.h>
#include <unistd.h>

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "graph/npy_format.h"
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

}  // namespace
}  // namespace rowflow

BENCHMARK_MAIN();
