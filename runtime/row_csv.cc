// CSV row source and sink (rules in runtime/row_io.h).
//
// Speed (the `mid` workload reads ~650 bytes of CSV and writes 10 floats a
// row), with results bit for bit those of std::from_chars / std::to_chars:
// - The one reading thread only finds lines; the lines already in its
//   buffer are parsed as a batch by the threads of the calling task arena
//   (the Session's), in isolation. Errors are a serial parse's: the first
//   bad line in input order, then a scanning error (line too long, empty
//   row) that stopped the batch.
// - A line's commas come from 64-byte masks; each field that is a plain
//   "-"?digits(.digits)? is converted without a loop (FastField), f32
//   fields 4 at a time with AVX-512 (FastFields4). Other fields take
//   FastParse / FastParseGeneral, then std::from_chars, which also reports
//   errors. The number code is runtime/csv_number.h.
// - The sink formats a Write's rows in pieces on the arena's threads
//   (FormatValue).
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/partitioner.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "graph/atomic_file.h"
#include "graph/error.h"
#include "graph/text.h"
#include "runtime/compress.h"
#include "runtime/csv_number.h"
#include "runtime/input_file.h"
#include "runtime/row_io.h"

namespace rowflow {
namespace {

constexpr size_t kReadChunk = 1 << 18;
constexpr size_t kWriteChunk = 1 << 18;
constexpr int64_t kMaxLineLimit = int64_t{1} << 30;
// Readable bytes after the input buffer's data, for the loads of FastParse
// and FastField (16 bytes) and CommaMask (64) near the end of a line.
constexpr size_t kParsePadding = 64;
// Work below this many bytes (parse) or values (format) stays on the
// calling thread: splitting it costs more than it saves.
constexpr size_t kParallelParseBytes = 32 << 10;
constexpr int64_t kParallelFormatValues = 4096;
// Bytes a formatted value may take, its separator included: to_chars'
// shortest form is at most 24 characters ("-2.2250738585072014e-308").
constexpr int64_t kMaxValueChars = 32;

const char* TypeName(float) { return "f32"; }
const char* TypeName(double) { return "f64"; }

using csv::FastField;
using csv::FastFields4;
using csv::FastParse;
using csv::FastParseGeneral;
using csv::ForEachComma;
using csv::FormatValue;
using csv::IsBlank;
using csv::kFieldBatch;
using csv::kHaveFastFields;
using csv::ParseOutOfRange;

// Whether work of `amount` (at least `threshold`) should be spread over the
// threads of the current task arena.
bool Parallel(size_t amount, size_t threshold) {
  return amount >= threshold && tbb::this_task_arena::max_concurrency() > 1;
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
        buf_(new char[cap_ + kParsePadding]()) {}

  int64_t cols() const override { return cols_; }

  double progress() const override {
    const int64_t total = in_.size();
    if (total < 0) return -1;
    if (total == 0) return 1;
    return std::min(
        1.0, static_cast<double>(consumed_.load(std::memory_order_relaxed)) /
                 static_cast<double>(total));
  }

  // Collects lines while they are in the buffer, parses them as a batch
  // before the buffer moves (Refill) or the call ends. A scanning error
  // waits for the lines before it to be parsed, so that a bad field on an
  // earlier line is reported first, as a line-by-line parse would.
  int64_t Read(T* out, int64_t max_rows) override {
    int64_t n = 0;
    batch_.clear();
    try {
      while (n + static_cast<int64_t>(batch_.size()) < max_rows) {
        const char* b;
        const char* e;
        const Next next = NextLine(&b, &e);
        if (next == Next::kEnd) break;
        if (next == Next::kNeedData) {
          n += ParseBatch(out + n * cols_);
          Refill();
          continue;
        }
        if (b == e) {
          if (first_empty_line_ == 0) first_empty_line_ = line_;
          continue;
        }
        if (first_empty_line_ != 0) {
          throw MakeError(ErrorKind::kInput,
                          "{}:{}: empty row; expected {} columns", in_.name(),
                          first_empty_line_, cols_);
        }
        batch_.push_back({b, e, line_});
      }
    } catch (const Error&) {
      ParseBatch(out + n * cols_);
      throw;
    }
    n += ParseBatch(out + n * cols_);
    // The bytes of the lines returned so far; what the buffer holds beyond
    // them is read but not yet used.
    consumed_.store(read_bytes_ - static_cast<int64_t>(end_ - begin_),
                    std::memory_order_relaxed);
    return n;
  }

 private:
  struct Line {
    const char* begin;
    const char* end;  // without "\n" or "\r\n"
    int64_t number;   // 1-based
  };
  enum class Next { kLine, kEnd, kNeedData };

  // Finds the next line in the buffer; kNeedData when it is not all there.
  Next NextLine(const char** line_begin, const char** line_end) {
    for (;;) {
      const char* nl = static_cast<const char*>(
          std::memchr(buf_.get() + scanned_, '\n', end_ - scanned_));
      const char* start = buf_.get() + begin_;
      const char* stop;
      if (nl != nullptr) {
        stop = nl;
        begin_ = scanned_ = static_cast<size_t>(nl - buf_.get()) + 1;
      } else if (eof_) {
        if (begin_ == end_) return Next::kEnd;
        stop = buf_.get() + end_;
        begin_ = scanned_ = end_;
      } else {
        if (end_ - begin_ > max_line_ + 1) LineTooLong(line_ + 1);
        scanned_ = end_;  // everything before end_ is known to hold no '\n'
        return Next::kNeedData;
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
      return Next::kLine;
    }
  }

  void Refill() {
    if (begin_ > 0) {
      std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      scanned_ -= begin_;
      begin_ = 0;
    }
    size_t got = in_.ReadSome(buf_.get() + end_, cap_ - end_);
    end_ += got;
    read_bytes_ += static_cast<int64_t>(got);
    if (got == 0) {
      eof_ = true;
      // The last line may end at end_: FastParse needs a non-digit there.
      std::memset(buf_.get() + end_, 0, kParsePadding);
    }
  }

  [[noreturn]] void LineTooLong(int64_t line) {
    throw MakeError(ErrorKind::kInput,
                    "{}:{}: line too long; expected at most {} bytes",
                    in_.name(), line, max_line_);
  }

  // Parses the lines of batch_ into `out` (one row each) and empties it;
  // returns the rows parsed. Throws the first bad line's error.
  int64_t ParseBatch(T* out) {
    const size_t n = batch_.size();
    if (n == 0) return 0;
    struct Clear {  // also when a bad line throws: it is reported once
      std::vector<Line>& lines;
      ~Clear() { lines.clear(); }
    } clear{batch_};
    const size_t bytes =
        static_cast<size_t>(batch_.back().end - batch_.front().begin);
    if (!Parallel(bytes, kParallelParseBytes) || n < 2) {
      for (size_t i = 0; i < n; ++i)
        ParseLine<true>(batch_[i], out + i * cols_);
    } else {
      // Lines fail independently; the first in input order is reported.
      std::atomic<size_t> first_bad{n};
      const size_t grain = std::max<size_t>(
          1, kParallelParseBytes / 2 / std::max<size_t>(1, bytes / n));
      tbb::this_task_arena::isolate([&] {
        tbb::parallel_for(
            tbb::blocked_range<size_t>(0, n, grain),
            [&](const tbb::blocked_range<size_t>& r) {
              for (size_t i = r.begin(); i != r.end(); ++i) {
                if (!ParseLine<false>(batch_[i], out + i * cols_)) {
                  size_t seen = first_bad.load(std::memory_order_relaxed);
                  while (i < seen &&
                         !first_bad.compare_exchange_weak(seen, i)) {
                  }
                  return;
                }
              }
            },
            tbb::simple_partitioner());
      });
      const size_t bad = first_bad.load();
      if (bad < n) ParseLine<true>(batch_[bad], out + bad * cols_);
    }
    return static_cast<int64_t>(n);
  }

  // Parses one line into `row`. On a bad line throws its error when
  // kThrow, else returns false.
  template <bool kThrow>
  bool ParseLine(const Line& line, T* row) const {
    const char* const b = line.begin;
    const char* const e = line.end;
    const char* p = b;
    int64_t c = 0;
    if constexpr (kHaveFastFields) {
      // Fields between commas, each on its own (f32: 4 at a time where
      // AVX-512 is there); the loop below takes over at the first field
      // that is not a plain decimal, and reports errors. Fields [c, c +
      // pending) are found but not parsed; p is where field c starts.
      constexpr int kBatch = std::is_same_v<T, float> ? kFieldBatch : 1;
      const char* starts[4];
      const char* ends[4];
      int pending = 0;
      const char* next = b;  // where the field after them starts
      bool failed = false;
      auto one_by_one = [&] {
        for (int i = 0; i < pending && !failed; ++i) {
          failed = !FastField(starts[i], ends[i], &row[c]);
          if (!failed) {
            ++c;
            p = ends[i] + 1;
          }
        }
        pending = 0;
      };
      ForEachComma(b, e, [&](const char* comma) {
        if (c + pending + 1 == cols_) return false;  // too many: see below
        starts[pending] = next;
        ends[pending] = comma;
        next = comma + 1;
        if (++pending == kBatch) {
          if constexpr (kBatch == 4) {
            if (FastFields4(starts, ends, &row[c])) {
              c += 4;
              p = next;
              pending = 0;
              return true;
            }
          }
          one_by_one();
        }
        return !failed;
      });
      one_by_one();
      if (!failed && c + 1 == cols_ && FastField(p, e, &row[c])) return true;
    }
    for (; c < cols_; ++c) {
      const bool last = c + 1 == cols_;
      if (!IsBlank(*p) && *p != '+') {  // the common case, straight through
        const char* end = FastParse(p, e, &row[c]);
        if (end != nullptr && (last ? end == e : *end == ',')) {
          p = end + 1;
          continue;
        }
      }
      const char* field = p;
      while (p < e && IsBlank(*p)) ++p;
      const char* num = p;
      if (p + 1 < e && *p == '+' && p[1] != '-' && p[1] != '+') ++p;
      T value;
      const char* ptr = FastParseGeneral(p, e, &value);
      std::errc ec{};
      if (ptr == nullptr) {
        auto result = std::from_chars(p, e, value);
        ptr = result.ptr;
        ec = result.ec;
      }
      const char* q = ptr;
      while (q < e && IsBlank(*q)) ++q;
      const bool ends_well = last ? q == e : q < e && *q == ',';
      if (ec == std::errc::invalid_argument || !ends_well) {
        if constexpr (!kThrow) return false;
        FieldError(line, field, num, "", "");
      }
      if (ec == std::errc::result_out_of_range &&
          !ParseOutOfRange(p, ptr, &value)) {
        if constexpr (!kThrow) return false;
        FieldError(line, field, num, "number out of range for ", TypeName(T{}));
      }
      row[c] = value;
      if (!last) p = q + 1;
    }
    return true;
  }

  // Reports the line's column count if that is wrong, else the bad field.
  [[noreturn]] void FieldError(const Line& line, const char* field,
                               const char* num, const char* what,
                               const char* type) const {
    const char* const b = line.begin;
    const char* const e = line.end;
    int64_t got = 1;
    for (const char* q = b; q < e; ++q) got += (*q == ',');
    if (got != cols_) {
      throw MakeError(ErrorKind::kInput, "{}:{}: expected {} columns, got {}",
                      in_.name(), line.number, cols_, got);
    }
    const char* field_end =
        static_cast<const char*>(std::memchr(field, ',', e - field));
    if (field_end == nullptr) field_end = e;
    const char* trimmed_end = field_end;
    while (trimmed_end > num && IsBlank(trimmed_end[-1])) --trimmed_end;
    std::string text = EscapeForMessage(
        std::string_view(field, static_cast<size_t>(field_end - field)), 40);
    int64_t col = (num < trimmed_end ? num : field) - b + 1;
    if (*what == '\0')
      what = num == trimmed_end ? "empty field" : "not a number";
    throw MakeError(ErrorKind::kInput, "{}:{}:{}: {}{} '{}'", in_.name(),
                    line.number, col, what, type, text);
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
  int64_t read_bytes_ = 0;            // from the input, in all
  std::atomic<int64_t> consumed_{0};  // for progress(), on any thread
  int64_t line_ = 0;                  // number of the line last returned
  int64_t first_empty_line_ = 0;  // an empty line not yet known to be trailing
  std::vector<Line> batch_;       // lines found, not yet parsed
};

template <typename T>
class CsvSink final : public RowSink<T> {
 public:
  CsvSink(const std::string& path, int64_t cols)
      : file_(path), cols_(cols), buf_(new char[kWriteChunk]) {}

  // Formats blocks of rows in parallel, each piece into its own slot of
  // scratch_, then appends the pieces in order.
  void Write(const T* rows, int64_t n) override {
    if (!Parallel(static_cast<size_t>(n * cols_), kParallelFormatValues)) {
      WriteSerial(rows, n);
      return;
    }
    const int64_t slot_bytes_per_row = cols_ * kMaxValueChars;
    const int64_t block_rows =
        std::clamp<int64_t>(kScratchBytes / slot_bytes_per_row, 1, n);
    const int64_t piece_rows = std::max<int64_t>(
        1, std::min(block_rows, kParallelFormatValues / cols_) / 4);
    if (!scratch_) scratch_.reset(new char[kScratchBytes + slot_bytes_per_row]);
    for (int64_t first = 0; first < n; first += block_rows) {
      const int64_t count = std::min(block_rows, n - first);
      const int64_t pieces = (count + piece_rows - 1) / piece_rows;
      piece_ends_.resize(static_cast<size_t>(pieces));
      tbb::this_task_arena::isolate([&] {
        tbb::parallel_for(int64_t{0}, pieces, [&](int64_t k) {
          const int64_t r0 = k * piece_rows;
          const int64_t r1 = std::min(count, r0 + piece_rows);
          char* const begin = scratch_.get() + r0 * slot_bytes_per_row;
          piece_ends_[static_cast<size_t>(k)] =
              FormatRows(rows + (first + r0) * cols_, r1 - r0, begin,
                         scratch_.get() + r1 * slot_bytes_per_row) -
              begin;
        });
      });
      for (int64_t k = 0; k < pieces; ++k) {
        Append(scratch_.get() + k * piece_rows * slot_bytes_per_row,
               static_cast<size_t>(piece_ends_[static_cast<size_t>(k)]));
      }
    }
  }

  void Commit() override {
    Flush();
    file_.Commit();
  }

 private:
  static constexpr int64_t kScratchBytes = int64_t{1} << 20;

  // Writes `n` rows into [pos, limit), which has kMaxValueChars per value;
  // returns the end.
  char* FormatRows(const T* rows, int64_t n, char* pos, char* limit) const {
    for (int64_t i = 0; i < n * cols_; i += cols_) {
      for (int64_t c = 0; c < cols_; ++c) {
        pos = FormatValue(pos, limit, rows[i + c]);
        *pos++ = ',';
      }
      pos[-1] = '\n';
    }
    return pos;
  }

  void WriteSerial(const T* rows, int64_t n) {
    char* const limit =
        buf_.get() + kWriteChunk - 64;  // 64 > longest number + 1
    for (int64_t r = 0; r < n; ++r, rows += cols_) {
      for (int64_t c = 0; c < cols_; ++c) {
        if (pos_ > limit) Flush();
        pos_ = FormatValue(pos_, limit + 64, rows[c]);
        *pos_++ = ',';
      }
      pos_[-1] = '\n';
    }
  }

  void Append(const char* data, size_t bytes) {
    const size_t room = static_cast<size_t>(buf_.get() + kWriteChunk - pos_);
    if (bytes > room) {
      Flush();
      if (bytes >= kWriteChunk) {
        file_.Write(data, bytes);
        return;
      }
    }
    std::memcpy(pos_, data, bytes);
    pos_ += bytes;
  }

  void Flush() {
    file_.Write(buf_.get(), static_cast<size_t>(pos_ - buf_.get()));
    pos_ = buf_.get();
  }

  OutputFile file_;
  int64_t cols_;
  std::unique_ptr<char[]> buf_;
  char* pos_ = buf_.get();
  std::unique_ptr<char[]> scratch_;  // pieces being formatted in parallel
  std::vector<int64_t> piece_ends_;  // bytes each piece took
};

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
