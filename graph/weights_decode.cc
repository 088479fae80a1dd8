// Decoding of .npy and CSV weight files (declared in graph/weights_file.h).
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "graph/error.h"
#include "graph/npy_format.h"
#include "graph/text.h"
#include "graph/weights_file.h"

namespace rowflow {
namespace {

template <typename T>
double LoadElement(const char* p, bool swap) {
  unsigned char raw[sizeof(T)];
  std::memcpy(raw, p, sizeof(T));
  if (swap) {
    for (size_t i = 0; i < sizeof(T) / 2; ++i) {
      std::swap(raw[i], raw[sizeof(T) - 1 - i]);
    }
  }
  T value;
  std::memcpy(&value, raw, sizeof(T));
  return static_cast<double>(value);
}

}  // namespace

std::vector<double> DecodeNpyWeights(std::string_view bytes,
                                     const std::string& path,
                                     const std::vector<int64_t>& shape) {
  size_t at = 0;  // the cursor ReadNpyHeader reads with
  const NpyHeader header = ReadNpyHeader(
      [&](char* dst, size_t n) {
        const size_t got = std::min(n, bytes.size() - at);
        std::memcpy(dst, bytes.data() + at, got);
        at += got;
        return got;
      },
      path, ErrorKind::kModel);
  const auto data_start = static_cast<size_t>(header.data_offset);
  if (header.shape != shape) {
    Fail("{}: expected shape {}, got {}", path, NpyShapeString(shape),
         NpyShapeString(header.shape));
  }
  int64_t count = 1;
  for (int64_t d : shape) count *= d;  // the caller bounded the product
  const size_t want = static_cast<size_t>(count) * header.itemsize;
  const size_t got = bytes.size() - data_start;
  if (got != want) {
    Fail("{}: expected {} data bytes for shape {} of f{}, got {}", path, want,
         NpyShapeString(shape), header.itemsize, got);
  }
  const bool swap =
      header.big_endian != (std::endian::native == std::endian::big);
  const char* data = bytes.data() + data_start;
  std::vector<double> out(static_cast<size_t>(count));
  // Fortran order stores a 2-D array column by column: convert, so that
  // out is row-major whichever way the file was written.
  const bool transpose = header.fortran_order && shape.size() == 2;
  const int64_t rows = shape.empty() ? 1 : shape[0];
  const int64_t cols = shape.size() == 2 ? shape[1] : 1;
  for (int64_t i = 0; i < count; ++i) {
    const char* p = data + i * header.itemsize;
    const double v = header.itemsize == 4 ? LoadElement<float>(p, swap)
                                          : LoadElement<double>(p, swap);
    const int64_t at = transpose ? (i % rows) * cols + i / rows : i;
    out[static_cast<size_t>(at)] = v;
  }
  return out;
}

std::vector<double> DecodeCsvWeights(std::string_view bytes,
                                     const std::string& path, int64_t rows,
                                     int64_t cols, bool vector_ok) {
  const int64_t count = rows * cols;  // the caller bounded the product
  std::vector<double> values;
  std::vector<int64_t> row_lengths, row_lines;
  int64_t line_no = 0;
  // A UTF-8 BOM (spreadsheets write one) is ignored, as in row CSV.
  constexpr std::string_view kBom = "\xEF\xBB\xBF";
  size_t pos = bytes.starts_with(kBom) ? kBom.size() : 0;
  while (pos < bytes.size()) {
    ++line_no;
    size_t end = bytes.find('\n', pos);
    if (end == std::string_view::npos) end = bytes.size();
    std::string_view line = bytes.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const size_t first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') continue;
    int64_t fields = 0;
    size_t f = 0;
    for (;;) {
      size_t comma = std::min(line.find(',', f), line.size());
      size_t a = f, b = comma;
      while (a < b && (line[a] == ' ' || line[a] == '\t')) ++a;
      while (b > a && (line[b - 1] == ' ' || line[b - 1] == '\t')) --b;
      const size_t col = a + 1;
      if (a == b)
        Fail("{}:{}:{}: empty field; expected a number", path, line_no, col);
      const char* s = line.data() + a;
      const char* e = line.data() + b;
      if (*s == '+' && e - s > 1 && s[1] != '-' && s[1] != '+') ++s;
      double v = 0;
      auto [ptr, ec] = std::from_chars(s, e, v);
      if (ec == std::errc::result_out_of_range) {
        Fail("{}:{}:{}: number out of range: '{}'", path, line_no, col,
             EscapeForMessage(line.substr(a, b - a), 40));
      }
      if (ec != std::errc() || ptr != e) {
        Fail("{}:{}:{}: not a number: '{}'", path, line_no, col,
             EscapeForMessage(line.substr(a, b - a), 40));
      }
      // Stop storing past the declared count: the shape check fails anyway.
      if (static_cast<int64_t>(values.size()) < count) values.push_back(v);
      ++fields;
      if (comma == line.size()) break;
      f = comma + 1;
    }
    row_lengths.push_back(fields);
    row_lines.push_back(line_no);
  }
  const auto n_rows = static_cast<int64_t>(row_lengths.size());
  int64_t total = 0;
  bool all_one = true;
  for (int64_t n : row_lengths) {
    total += n;
    all_one = all_one && n == 1;
  }
  if (vector_ok && total == count &&
      (n_rows == 1 || (all_one && n_rows == count))) {
    return values;
  }
  const std::string want =
      vector_ok ? fmt::format("one row or one column of {} values", count)
                : fmt::format("({}, {}): {} rows of {} values", rows, cols,
                              rows, cols);
  if (vector_ok || n_rows != rows) {
    Fail("{}: expected {}, got {} rows and {} values", path, want, n_rows,
         total);
  }
  for (size_t i = 0; i < row_lengths.size(); ++i) {
    if (row_lengths[i] != cols) {
      Fail("{}:{}: expected {} values in each row ({}), got {}", path,
           row_lines[i], cols, want, row_lengths[i]);
    }
  }
  return values;
}

}  // namespace rowflow
