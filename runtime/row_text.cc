// ParseCsvRow (runtime/row_io.h): one row typed on a command line, with the
// CSV source's field rules but whole-row messages.
#include <charconv>
#include <system_error>

#include "graph/error.h"
#include "runtime/csv_number.h"
#include "runtime/row_io.h"

namespace rowflow {

template <typename T>
std::vector<T> ParseCsvRow(std::string_view text, int64_t cols) {
  std::vector<std::string_view> fields;
  for (size_t start = 0;;) {
    const size_t comma = text.find(',', start);
    fields.push_back(text.substr(start, comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (static_cast<int64_t>(fields.size()) != cols) {
    throw MakeError(ErrorKind::kInput, "expected {} values, got {}", cols,
                    fields.size());
  }
  std::vector<T> row(fields.size());
  for (size_t i = 0; i < fields.size(); ++i) {
    std::string_view f = fields[i];
    while (!f.empty() && csv::IsBlank(f.front())) f.remove_prefix(1);
    while (!f.empty() && csv::IsBlank(f.back())) f.remove_suffix(1);
    if (f.size() > 1 && f[0] == '+' && f[1] != '-' && f[1] != '+')
      f.remove_prefix(1);
    const char* end = f.data() + f.size();
    auto [ptr, ec] = std::from_chars(f.data(), end, row[i]);
    if (f.empty() || ec == std::errc::invalid_argument || ptr != end) {
      throw MakeError(ErrorKind::kInput, "value {} is not a number: '{}'",
                      i + 1, fields[i]);
    }
    // Underflow gives the nearest denormal or zero, as in CSV rows.
    if (ec == std::errc::result_out_of_range &&
        !csv::ParseOutOfRange(f.data(), end, &row[i])) {
      throw MakeError(ErrorKind::kInput,
                      "value {} is out of range for f{}: '{}'", i + 1,
                      sizeof(T) * 8, fields[i]);
    }
  }
  return row;
}

template std::vector<float> ParseCsvRow(std::string_view, int64_t);
template std::vector<double> ParseCsvRow(std::string_view, int64_t);

}  // namespace rowflow
