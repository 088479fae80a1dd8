// Fuzz target: bytes as a CSV row file -> OpenCsvSource, read to the end in
// small chunks; what was read is written with OpenCsvSink and read back
// (tests/fuzz/row_round_trip.h), bit for bit through the sink's
// shortest-form printing.
//
// Four passes per input: f32 with the column count of the first line and a
// 4 KiB line limit; f64 with --header, the second line's column count and a
// 64-byte line limit; then the dialect path (csv_fields.h): f64 with a
// header, a delimiter picked by the first byte (sniffed, ';', tab or '|'),
// a decimal comma when the first byte says so, NA tokens, '#' comments and
// blank lines skipped; and f32 quoted fields with NA tokens, no header.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "graph/error.h"
#include "runtime/row_io.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/fuzz/row_round_trip.h"

namespace rowflow::fuzz {
namespace {

constexpr int64_t kMaxCols = 64;

// Fields on line `index` (0-based) of `text` split at `delimiter`, within
// 1..kMaxCols.
int64_t ColumnsOfLine(std::string_view text, int index, char delimiter = ',') {
  size_t begin = 0;
  for (int i = 0; i < index && begin < text.size(); ++i) {
    const size_t nl = text.find('\n', begin);
    begin = nl == std::string_view::npos ? text.size() : nl + 1;
  }
  const size_t end = std::min(text.find('\n', begin), text.size());
  const int64_t commas =
      std::count(text.begin() + begin, text.begin() + end, delimiter);
  return std::clamp<int64_t>(commas + 1, 1, kMaxCols);
}

template <typename T>
void Pass(const std::string& path, int64_t cols, const CsvOptions& options) {
  ReadWriteReadBack<T>(
      path, cols,
      [&](const std::string& in) {
        return OpenCsvSource<T>(in, cols, options);
      },
      [&](const std::string& out) { return OpenCsvSink<T>(out, cols); },
      [&](const std::string& out) { return OpenCsvSource<T>(out, cols); },
      ScratchDir() + "/rows.csv", Match::kBitsAnyNan);
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

  const unsigned char first = size > 0 ? data[0] : 0;
  constexpr char kDelimiters[] = {'\0', ';', '\t', '|'};
  CsvOptions dialect;
  dialect.header = true;
  dialect.max_line_bytes = 4096;
  dialect.delimiter = kDelimiters[first % 4];
  if ((first & 4) && dialect.delimiter != '\0') dialect.decimal = ',';
  dialect.na = {"NA", "", "null", "NaN"};
  dialect.comment = '#';
  dialect.skip_blank = true;
  fuzz::Pass<double>(
      path,
      fuzz::ColumnsOfLine(text, 1, dialect.delimiter ? dialect.delimiter : ','),
      dialect);

  CsvOptions quoted;
  quoted.max_line_bytes = 64;
  quoted.na = {"NA"};
  fuzz::Pass<float>(path, fuzz::ColumnsOfLine(text, 0), quoted);
  return 0;
}
