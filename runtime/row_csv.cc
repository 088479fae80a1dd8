// CSV row source and sink (rules in runtime/row_io.h).
#include <locale.h>
#include <stdlib.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>

#include "graph/atomic_file.h"
#include "graph/error.h"
#include "runtime/input_file.h"
#include "runtime/row_io.h"

namespace rowflow {
namespace {

constexpr size_t kReadChunk = 1 << 18;
constexpr size_t kWriteChunk = 1 << 18;
constexpr int64_t kMaxLineLimit = int64_t{1} << 30;

const char* TypeName(float) { return "f32"; }
const char* TypeName(double) { return "f64"; }

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

// from_chars reports both overflow and underflow as out of range without a
// value; strtod tells them apart (HUGE_VAL vs. a tiny or zero result) and is
// also correctly rounded. Runs only on that rare path, in the "C" locale.
template <typename T>
bool ParseOutOfRange(const char* begin, const char* end, T* value) {
  static const locale_t c_locale = newlocale(LC_ALL_MASK, "C", nullptr);
  std::string text(begin, end);
  if constexpr (sizeof(T) == sizeof(float)) {
    *value = strtof_l(text.c_str(), nullptr, c_locale);
  } else {
    *value = strtod_l(text.c_str(), nullptr, c_locale);
  }
  return !std::isinf(*value);
}

template <typename T>
class CsvSource final : public RowSource<T> {
 public:
  CsvSource(const std::string& path, int64_t cols, const CsvOptions& options)
      : in_(path),
        cols_(cols),
        max_line_(static_cast<size_t>(options.max_line_bytes)),
        skip_header_(options.header),
        cap_(max_line_ + 2 + kReadChunk),
        buf_(new char[cap_]) {}

  int64_t cols() const override { return cols_; }

  int64_t Read(T* out, int64_t max_rows) override {
    int64_t n = 0;
    const char* b;
    const char* e;
    while (n < max_rows && NextLine(&b, &e)) {
      if (b == e) {
        if (first_empty_line_ == 0) first_empty_line_ = line_;
        continue;
      }
      if (first_empty_line_ != 0) {
        throw MakeError(ErrorKind::kInput,
                        "{}:{}: empty row; expected {} columns", in_.name(),
                        first_empty_line_, cols_);
      }
      ParseLine(b, e, out + n * cols_);
      ++n;
    }
    return n;
  }

 private:
  // Finds the next line, without its "\n" or "\r\n"; false at the end.
  bool NextLine(const char** line_begin, const char** line_end) {
    for (;;) {
      const char* nl = static_cast<const char*>(
          std::memchr(buf_.get() + scanned_, '\n', end_ - scanned_));
      const char* start = buf_.get() + begin_;
      const char* stop;
      if (nl != nullptr) {
        stop = nl;
        begin_ = scanned_ = static_cast<size_t>(nl - buf_.get()) + 1;
      } else if (eof_) {
        if (begin_ == end_) return false;
        stop = buf_.get() + end_;
        begin_ = scanned_ = end_;
      } else {
        if (end_ - begin_ > max_line_ + 1) LineTooLong(line_ + 1);
        Refill();
        continue;
      }
      ++line_;
      if (stop > start && stop[-1] == '\r') --stop;
      if (static_cast<size_t>(stop - start) > max_line_) LineTooLong(line_);
      if (line_ == 1 && stop - start >= 3 &&
          std::memcmp(start, "\xEF\xBB\xBF", 3) == 0) {
        start += 3;
      }
      if (line_ == 1 && skip_header_) continue;
      *line_begin = start;
      *line_end = stop;
      return true;
    }
  }

  void Refill() {
    if (begin_ > 0) {
      std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    scanned_ = end_;  // everything before end_ is known to hold no '\n'
    size_t got = in_.ReadSome(buf_.get() + end_, cap_ - end_);
    if (got == 0) eof_ = true;
    end_ += got;
  }

  [[noreturn]] void LineTooLong(int64_t line) {
    throw MakeError(ErrorKind::kInput,
                    "{}:{}: line too long; expected at most {} bytes",
                    in_.name(), line, max_line_);
  }

  void ParseLine(const char* b, const char* e, T* row) {
    const char* p = b;
    for (int64_t c = 0; c < cols_; ++c) {
      const char* field = p;
      while (p < e && IsBlank(*p)) ++p;
      const char* num = p;
      if (p + 1 < e && *p == '+' && p[1] != '-' && p[1] != '+') ++p;
      T value;
      auto [ptr, ec] = std::from_chars(p, e, value);
      const char* q = ptr;
      while (q < e && IsBlank(*q)) ++q;
      bool last = c + 1 == cols_;
      bool ends_well = last ? q == e : q < e && *q == ',';
      if (ec == std::errc::invalid_argument || !ends_well) {
        FieldError(b, e, field, num, "", "");
      }
      if (ec == std::errc::result_out_of_range &&
          !ParseOutOfRange(p, ptr, &value)) {
        FieldError(b, e, field, num, "number out of range for ", TypeName(T{}));
      }
      row[c] = value;
      if (!last) p = q + 1;
    }
  }

  // Reports the line's column count if that is wrong, else the bad field.
  [[noreturn]] void FieldError(const char* b, const char* e, const char* field,
                               const char* num, const char* what,
                               const char* type) {
    int64_t got = 1;
    for (const char* q = b; q < e; ++q) got += (*q == ',');
    if (got != cols_) {
      throw MakeError(ErrorKind::kInput, "{}:{}: expected {} columns, got {}",
                      in_.name(), line_, cols_, got);
    }
    const char* field_end =
        static_cast<const char*>(std::memchr(field, ',', e - field));
    if (field_end == nullptr) field_end = e;
    const char* trimmed_end = field_end;
    while (trimmed_end > num && IsBlank(trimmed_end[-1])) --trimmed_end;
    std::string text =
        QuoteForMessage(field, static_cast<size_t>(field_end - field));
    int64_t col = (num < trimmed_end ? num : field) - b + 1;
    if (*what == '\0')
      what = num == trimmed_end ? "empty field" : "not a number";
    throw MakeError(ErrorKind::kInput, "{}:{}:{}: {}{} '{}'", in_.name(), line_,
                    col, what, type, text);
  }

  InputFile in_;
  int64_t cols_;
  size_t max_line_;
  bool skip_header_;
  size_t cap_;
  std::unique_ptr<char[]> buf_;
  size_t begin_ = 0;    // start of the unread data
  size_t scanned_ = 0;  // bytes before this hold no '\n' after begin_
  size_t end_ = 0;      // end of the data read so far
  bool eof_ = false;
  int64_t line_ = 0;              // number of the line last returned
  int64_t first_empty_line_ = 0;  // an empty line not yet known to be trailing
};

template <typename T>
class CsvSink final : public RowSink<T> {
 public:
  CsvSink(const std::string& path, int64_t cols)
      : file_(path), cols_(cols), buf_(new char[kWriteChunk]) {}

  void Write(const T* rows, int64_t n) override {
    char* const limit =
        buf_.get() + kWriteChunk - 64;  // 64 > longest number + 1
    for (int64_t r = 0; r < n; ++r, rows += cols_) {
      for (int64_t c = 0; c < cols_; ++c) {
        if (pos_ > limit) Flush();
        pos_ = std::to_chars(pos_, limit + 64, rows[c]).ptr;
        *pos_++ = ',';
      }
      pos_[-1] = '\n';
    }
  }

  void Commit() override {
    Flush();
    file_.Commit();
  }

 private:
  void Flush() {
    file_.Write(buf_.get(), static_cast<size_t>(pos_ - buf_.get()));
    pos_ = buf_.get();
  }

  AtomicFile file_;
  int64_t cols_;
  std::unique_ptr<char[]> buf_;
  char* pos_ = buf_.get();
};

void CheckCols(int64_t cols) {
  if (cols < 1)
    throw MakeError(ErrorKind::kUsage, "rows need at least 1 column, got {}",
                    cols);
}

}  // namespace

template <typename T>
std::unique_ptr<RowSource<T>> OpenCsvSource(const std::string& path,
                                            int64_t cols,
                                            const CsvOptions& options) {
  CheckCols(cols);
  if (options.max_line_bytes < 1 || options.max_line_bytes > kMaxLineLimit) {
    throw MakeError(ErrorKind::kUsage,
                    "max line bytes must be in 1..{}, got {}", kMaxLineLimit,
                    options.max_line_bytes);
  }
  return std::make_unique<CsvSource<T>>(path, cols, options);
}

template <typename T>
std::unique_ptr<RowSink<T>> OpenCsvSink(const std::string& path, int64_t cols) {
  CheckCols(cols);
  return std::make_unique<CsvSink<T>>(path, cols);
}

template std::unique_ptr<RowSource<float>> OpenCsvSource<float>(
    const std::string&, int64_t, const CsvOptions&);
template std::unique_ptr<RowSource<double>> OpenCsvSource<double>(
    const std::string&, int64_t, const CsvOptions&);
template std::unique_ptr<RowSink<float>> OpenCsvSink<float>(const std::string&,
                                                            int64_t);
template std::unique_ptr<RowSink<double>> OpenCsvSink<double>(
    const std::string&, int64_t);

}  // namespace rowflow
