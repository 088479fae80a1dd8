// Fuzz target: bytes as a CSV row file -> OpenCsvSource, read to the end in
// small chunks; what was read is written with OpenCsvSink and read back.
//
// Two passes per input: f32 with the column count of the first line and a
// 4 KiB line limit; f64 with --header, the second line's column count and a
// 64-byte line limit. Beyond "only rowflow::Error(kInput)": Read returns
// 0..max_rows, stays at 0 after the end, and the values read survive the
// sink's shortest-form printing bit for bit.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "graph/error.h"
#include "runtime/row_io.h"
#include "tests/fuzz/fuzz_util.h"

namespace rowflow::fuzz {
namespace {

constexpr int64_t kMaxCols = 64;
constexpr int64_t kChunkRows = 3;

// Fields on line `index` (0-based) of `text`, within 1..kMaxCols.
int64_t ColumnsOfLine(std::string_view text, int index) {
  size_t begin = 0;
  for (int i = 0; i < index && begin < text.size(); ++i) {
    const size_t nl = text.find('\n', begin);
    begin = nl == std::string_view::npos ? text.size() : nl + 1;
  }
  const size_t end = std::min(text.find('\n', begin), text.size());
  const int64_t commas =
      std::count(text.begin() + begin, text.begin() + end, ',');
  return std::clamp<int64_t>(commas + 1, 1, kMaxCols);
}

// Reads every row of `source`; checks the Read contract on the way.
template <typename T>
std::vector<T> ReadAll(RowSource<T>& source, int64_t cols) {
  if (source.cols() != cols) Fail("source reports another column count");
  std::vector<T> values, chunk(kChunkRows * cols);
  for (;;) {
    const int64_t n = source.Read(chunk.data(), kChunkRows);
    if (n < 0 || n > kChunkRows)
      Fail("Read returned a row count out of 0..max_rows");
    if (n == 0) break;
    values.insert(values.end(), chunk.begin(), chunk.begin() + n * cols);
  }
  if (source.Read(chunk.data(), kChunkRows) != 0)
    Fail("Read returned rows after the end");
  return values;
}

// Same bits, except that any NaN matches any NaN (printing keeps no payload).
template <typename T>
bool SameValues(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) && std::isnan(b[i])) continue;
    if (std::memcmp(&a[i], &b[i], sizeof(T)) != 0) return false;
  }
  return true;
}

template <typename T>
void Pass(const std::string& path, int64_t cols, const CsvOptions& options) {
  std::vector<T> values;
  try {
    auto source = OpenCsvSource<T>(path, cols, options);
    values = ReadAll(*source, cols);
  } catch (const Error& e) {
    CheckError(e, ErrorKind::kInput);
    return;
  }
  const std::string out = ScratchDir() + "/rows.csv";
  try {
    auto sink = OpenCsvSink<T>(out, cols);
    sink->Write(values.data(), static_cast<int64_t>(values.size()) / cols);
    sink->Commit();
    auto again = OpenCsvSource<T>(out, cols);
    if (!SameValues(ReadAll(*again, cols), values))
      Fail("CSV write -> read changed the values");
  } catch (const Error& e) {
    Fail("rows that were read could not be written and read back", e.what());
  }
}

}  // namespace
}  // namespace rowflow::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rowflow;
  static fuzz::MemFile* file =
      new fuzz::MemFile();  // one per process, never freed
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string& path = file->Set(text);

  CsvOptions plain;
  plain.max_line_bytes = 4096;
  fuzz::Pass<float>(path, fuzz::ColumnsOfLine(text, 0), plain);

  CsvOptions header;
  header.header = true;
  header.max_line_bytes = 64;
  fuzz::Pass<double>(path, fuzz::ColumnsOfLine(text, 1), header);
  return 0;
}
