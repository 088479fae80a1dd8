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
#include <fast_float/fast_float.h>
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/partitioner.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "graph/atomic_file.h"
#include "graph/error.h"
#include "graph/text.h"
#include "runtime/compress.h"
#include "runtime/csv_fields.h"
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

using csv::AppendForCommaOutput;
using csv::FastField;
using csv::FastFields4;
using csv::FastParseGeneral;
using csv::FieldText;
using csv::ForEachComma;
using csv::FormatValue;
using csv::IsBlank;
using csv::IsDigit;
using csv::kFieldBatch;
using csv::kHaveFastFields;
using csv::MatchInputNames;
using csv::ParseOutOfRange;
using csv::RawField;
using csv::ResolveColumns;
using csv::Scan;
using csv::ScanRecord;
using csv::SniffDelimiter;

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
        cap_(max_line_ + 2 + kReadChunk),
        buf_(new char[cap_ + kParsePadding]()),
        delimiter_(options.delimiter),
        decimal_(options.decimal),
        comment_(options.comment),
        skip_blank_(options.skip_blank),
        na_(options.na),
        pass_(options.pass_through),
        part_(options.part) {
    // Part 0 starts at the file's start: only its end moves.
    if (part_ != nullptr && part_->begin == 0) in_.SeekTo(0, part_->end);
    Open(options);
    if (part_ != nullptr && part_->begin > 0) StartPart();
  }

  int64_t cols() const override { return cols_; }

  void TrackLines() override { track_lines_ = true; }
  const int64_t* lines() const override {
    return track_lines_ ? lines_.data() : nullptr;
  }

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
    lines_.clear();
    if (!fast_) return ReadGeneral(out, max_rows);
    int64_t n = 0;
    batch_.clear();
    try {
      while (n + static_cast<int64_t>(batch_.size()) < max_rows) {
        const char* b;
        const char* e;
        const Next next = NextLine(&b, &e);
        if (next == Next::kEnd) {
          if (first_empty_line_ != 0 && part_ != nullptr && part_->data_after)
            EmptyRow("");
          break;
        }
        if (next == Next::kNeedData) {
          n += ParseBatch(out + n * cols_);
          // A filter's writer may wait for these rows before sending more.
          if (n > 0 && in_.WouldBlock()) break;
          Refill();
          continue;
        }
        if (b == e) {
          if (first_empty_line_ == 0) first_empty_line_ = line_;
          continue;
        }
        if (first_empty_line_ != 0) EmptyRow("");
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
      *line_begin = start;
      *line_end = stop;
      return Next::kLine;
    }
  }

  // Reads more input after the data, keeping the bytes from `keep` on
  // (begin_ unless a record is being peeked at).
  void Refill() { Refill(begin_); }
  void Refill(size_t keep) {
    if (keep > 0) {
      std::memmove(buf_.get(), buf_.get() + keep, end_ - keep);
      end_ -= keep;
      scanned_ -= std::min(scanned_, keep);
      begin_ -= keep;
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
    if (track_lines_) {
      for (const Line& line : batch_) lines_.push_back(line.number);
    }
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
        // fast_float: std::from_chars' values; inf, nan and out-of-range
        // text take the path below, which reports errors.
        const auto r = fast_float::from_chars(p, e, row[c]);
        const char* end = r.ptr;
        if (r.ec == std::errc() && std::isfinite(row[c]) &&
            (last ? end == e : *end == ',')) {
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
        if (std::memchr(b, '"', static_cast<size_t>(e - b)) != nullptr)
          return ParseQuotedLine<kThrow>(line, row);
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
    std::string hint;
    if (*what == '\0') {
      what = num == trimmed_end ? "empty field" : "not a number";
      hint = NaHint(std::string_view(
          num, static_cast<size_t>(std::max<ptrdiff_t>(trimmed_end - num, 0))));
    }
    throw MakeError(ErrorKind::kInput, "{}:{}:{}: {}{}{} '{}'{}", in_.name(),
                    line.number, col, ColumnName(std::count(b, field, ',')),
                    what, type, text, hint);
  }

  // --- The general path: dialects, quotes, NA, column selection. ---

  // Reads the BOM, the header and (for the column count) the first record;
  // picks the columns and whether the fast path applies.
  void Open(const CsvOptions& options) {
    Refill();
    if (end_ >= 3 && std::memcmp(buf_.get(), "\xEF\xBB\xBF", 3) == 0) {
      begin_ = scanned_ = 3;
    }
    if (delimiter_ == '\0') delimiter_ = SniffDelimiter(FirstLine(), decimal_);
    if (decimal_ == delimiter_) {
      throw MakeError(ErrorKind::kUsage,
                      "--decimal '{}' is also the delimiter; pass "
                      "--delimiter too",
                      std::string(1, decimal_));
    }
    if (options.header) {
      // A blank first line names nothing: the rows' rules apply as without
      // a header.
      Record header;
      if (NextRecordFilled(&header) == Next::kLine && !header.blank) {
        std::string scratch;
        for (const RawField& f : fields_) {
          header_.emplace_back(FieldText(f, &scratch));
          std::string raw;
          AppendForCommaOutput(f, &raw);
          header_raw_.push_back(std::move(raw));
        }
      }
    }
    const bool has_header = !header_.empty();
    int64_t width = static_cast<int64_t>(header_.size());
    if (!has_header) {
      width = options.keep.empty() && options.columns.empty()
                  ? cols_
                  : PeekFieldCount();
    }
    if (!options.keep.empty()) {
      kept_ = ResolveColumns(options.keep, header_, width, "--keep");
      if (pass_ != nullptr) {
        for (int64_t k : kept_) {
          pass_->names.push_back(has_header
                                     ? header_raw_[static_cast<size_t>(k)]
                                     : "col" + std::to_string(k + 1));
        }
      }
    }
    if (!options.columns.empty()) {
      selected_ = ResolveColumns(options.columns, header_, width, "--columns");
      if (static_cast<int64_t>(selected_.size()) != cols_) {
        throw MakeError(ErrorKind::kUsage,
                        "--columns picks {} columns; the model takes {}",
                        selected_.size(), cols_);
      }
    } else if (has_header) {
      selected_ = MatchInputNames(options.inputs, header_);
    }
    if (selected_.empty() && (has_header || !kept_.empty())) {
      for (int64_t c = 0; c < width; ++c) {
        if (std::find(kept_.begin(), kept_.end(), c) == kept_.end())
          selected_.push_back(c);
      }
      // pandas' to_csv() and R's write.csv() write the row index first,
      // under an empty name.
      if (has_header && static_cast<int64_t>(selected_.size()) == cols_ + 1 &&
          header_[static_cast<size_t>(selected_[0])].empty()) {
        selected_.erase(selected_.begin());
      }
      if (static_cast<int64_t>(selected_.size()) != cols_ && width > 0) {
        throw MakeError(
            ErrorKind::kInput,
            "{}:{}: {} columns{}, {} kept; the model takes {} and its input "
            "names are not all in the header; expected --columns naming them",
            in_.name(), line_, width, has_header ? " in the header" : "",
            kept_.size(), cols_);
      }
    }
    if (selected_.empty()) {
      for (int64_t c = 0; c < cols_; ++c) selected_.push_back(c);
    }
    if (has_header) {
      fields_expected_ = width;
    } else if (options.columns.empty()) {
      fields_expected_ = kept_.empty() ? cols_ : width;
    }
    for (int64_t c : selected_)
      fields_needed_ = std::max(fields_needed_, c + 1);
    for (int64_t c : kept_) fields_needed_ = std::max(fields_needed_, c + 1);
    bool identity = static_cast<int64_t>(selected_.size()) == cols_ &&
                    (!has_header || width == cols_);
    for (int64_t c = 0; identity && c < cols_; ++c)
      identity = selected_[static_cast<size_t>(c)] == c;
    fast_ = identity && kept_.empty() && delimiter_ == ',' && decimal_ == '.' &&
            comment_ == '\0' && !skip_blank_ && na_.empty();
    scanned_ = begin_;
  }

  // Leaves the header (read by Open from the file's start) for the part's
  // first byte, numbering its lines after the lines before it.
  void StartPart() {
    in_.SeekTo(part_->begin, part_->end);
    begin_ = scanned_ = end_ = 0;
    eof_ = false;
    read_bytes_ = 0;
    line_ = part_->lines_before;
    Refill();
    scanned_ = begin_;
  }

  static constexpr const char* kSkipBlankHint =
      " (--skip-blank skips blank lines)";

  // An empty line with rows after it (the general path adds `hint`).
  [[noreturn]] void EmptyRow(const char* hint) const {
    throw MakeError(ErrorKind::kInput,
                    "{}:{}: empty row; expected {} columns{}", in_.name(),
                    first_empty_line_, cols_, hint);
  }

  // A part's edge may fall inside a quoted newline: such records are
  // refused in parts, whichever part holds them.
  [[noreturn]] void SpansLines(int64_t line) const {
    throw MakeError(ErrorKind::kInput,
                    "{}:{}: a quoted field holds a newline; under mpirun each "
                    "record must be one line",
                    in_.name(), line);
  }

  // The first line in the buffer (reading up to max_line_ for it).
  std::string_view FirstLine() {
    for (;;) {
      const char* p = buf_.get() + begin_;
      const char* nl =
          static_cast<const char*>(std::memchr(p, '\n', end_ - begin_));
      if (nl != nullptr || eof_ || end_ - begin_ > max_line_) {
        return std::string_view(p, nl ? static_cast<size_t>(nl - p)
                                      : std::min(end_ - begin_, max_line_));
      }
      Refill();
    }
  }

  struct Record {
    Line line;  // begin, end (past its newline) and first line number
    bool blank = false;
  };

  // Like NextRecord, refilling the buffer as needed.
  Next NextRecordFilled(Record* record) {
    for (;;) {
      const Next next = NextRecord(record);
      if (next != Next::kNeedData) return next;
      Refill();
    }
  }

  // The fields of the first data record, without reading it (0 at the end).
  int64_t PeekFieldCount() {
    size_t keep = begin_;
    const int64_t line = line_;
    int64_t count = 0;
    for (;;) {
      Record record;
      const Next next = NextRecord(&record);
      if (next == Next::kNeedData) {
        Refill(keep);
        keep = 0;
        continue;
      }
      if (next == Next::kLine && record.blank) continue;
      if (next == Next::kLine) count = static_cast<int64_t>(fields_.size());
      break;
    }
    begin_ = keep;
    line_ = line;
    return count;
  }

  // Splits the next record into fields_, skipping comment lines.
  Next NextRecord(Record* record) {
    for (;;) {
      const char* p = buf_.get() + begin_;
      const char* e = buf_.get() + end_;
      if (p == e) return eof_ ? Next::kEnd : Next::kNeedData;
      if (comment_ != '\0' && *p == comment_) {
        const char* nl = static_cast<const char*>(std::memchr(p, '\n', e - p));
        if (nl == nullptr && !eof_) {
          if (static_cast<size_t>(e - p) > max_line_ + 1)
            LineTooLong(line_ + 1);
          return Next::kNeedData;
        }
        begin_ =
            nl == nullptr ? end_ : static_cast<size_t>(nl + 1 - buf_.get());
        ++line_;
        continue;
      }
      const char* next;
      int64_t newlines;
      const Scan scan =
          ScanRecord(p, e, eof_, delimiter_, &fields_, &next, &newlines);
      if (scan == Scan::kNeedData) {
        if (static_cast<size_t>(e - p) > max_line_ + 1) LineTooLong(line_ + 1);
        return Next::kNeedData;
      }
      record->line = {p, next, line_ + 1};
      if (part_ != nullptr) {
        if (scan == Scan::kRecord && newlines > 0) SpansLines(line_ + 1);
        // Unclosed at the part's end: the rest of it is in the next part.
        const char* open = next;
        while (open < e && IsBlank(*open)) ++open;
        if (scan == Scan::kBadQuote && open < e && *open == '"' &&
            std::memchr(open + 1, '"', e - open - 1) == nullptr &&
            std::memchr(open, '\n', e - open) != nullptr) {
          SpansLines(line_ + 1);
        }
      }
      if (scan == Scan::kBadQuote) {
        const auto [line, col] = Where(record->line, next);
        throw MakeError(ErrorKind::kInput,
                        "{}:{}:{}: bad quoted field; expected a closing '\"' "
                        "and then '{}' or the line end",
                        in_.name(), line, col, Printable(delimiter_));
      }
      if (static_cast<size_t>(next - p) > max_line_ + 2) LineTooLong(line_ + 1);
      line_ += 1 + newlines;
      begin_ = static_cast<size_t>(next - buf_.get());
      record->blank = fields_.size() == 1 && !fields_[0].quoted &&
                      std::all_of(fields_[0].begin, fields_[0].end,
                                  [](char c) { return IsBlank(c); }) &&
                      (fields_[0].begin == fields_[0].end || skip_blank_);
      return Next::kLine;
    }
  }

  static std::string Printable(char c) {
    return c == '\t' ? std::string("tab") : std::string(1, c);
  }

  // Line and 1-based byte column of `at` in a record starting at line.begin.
  static std::pair<int64_t, int64_t> Where(const Line& line, const char* at) {
    int64_t number = line.number;
    const char* start = line.begin;
    for (const char* q = line.begin; q < at; ++q) {
      if (*q == '\n') {
        ++number;
        start = q + 1;
      }
    }
    return {number, at - start + 1};
  }

  int64_t ReadGeneral(T* out, int64_t max_rows) {
    int64_t n = 0;
    std::string kept_text;
    std::vector<size_t> kept_ends;
    while (n < max_rows) {
      Record record;
      const Next next = NextRecord(&record);
      if (next == Next::kEnd) {
        if (first_empty_line_ != 0 && part_ != nullptr && part_->data_after)
          EmptyRow(kSkipBlankHint);
        break;
      }
      if (next == Next::kNeedData) {
        if (n > 0 && in_.WouldBlock()) break;
        Refill();
        continue;
      }
      if (record.blank) {
        if (!skip_blank_ && first_empty_line_ == 0)
          first_empty_line_ = record.line.number;
        continue;
      }
      if (first_empty_line_ != 0) EmptyRow(kSkipBlankHint);
      const int64_t got = static_cast<int64_t>(fields_.size());
      if (fields_expected_ >= 0 ? got != fields_expected_
                                : got < fields_needed_) {
        throw MakeError(
            ErrorKind::kInput, "{}:{}: expected {}{} columns, got {}",
            in_.name(), record.line.number,
            fields_expected_ >= 0 ? "" : "at least ",
            fields_expected_ >= 0 ? fields_expected_ : fields_needed_, got);
      }
      if (track_lines_) lines_.push_back(record.line.number);
      T* row = out + n * cols_;
      for (int64_t c = 0; c < cols_; ++c) {
        const int64_t col = selected_[static_cast<size_t>(c)];
        ParseField<true>(fields_[static_cast<size_t>(col)], record.line, col,
                         &row[c]);
      }
      if (!kept_.empty()) {
        for (size_t k = 0; k < kept_.size(); ++k) {
          if (k > 0) kept_text.push_back(',');
          AppendForCommaOutput(fields_[static_cast<size_t>(kept_[k])],
                               &kept_text);
        }
        kept_ends.push_back(kept_text.size());
      }
      ++n;
    }
    if (pass_ != nullptr && !kept_.empty() && n > 0)
      pass_->Push(std::move(kept_text), std::move(kept_ends));
    consumed_.store(read_bytes_ - static_cast<int64_t>(end_ - begin_),
                    std::memory_order_relaxed);
    return n;
  }

  // Parses field `col` of a record (general rules: quotes, NA tokens, the
  // decimal option). On a bad field throws when kThrow, else returns false.
  template <bool kThrow>
  bool ParseField(const RawField& field, const Line& line, int64_t col,
                  T* value) const {
    std::string scratch;
    const std::string_view text = FieldText(field, &scratch);
    for (const std::string& token : na_) {
      if (text == token) {
        *value = std::numeric_limits<T>::quiet_NaN();
        return true;
      }
    }
    // A padded copy: the number parsers load past the end.
    constexpr size_t kShort = 128;
    char local[kShort + kParsePadding];
    std::string long_copy;
    char* b = local;
    if (text.size() > kShort) {
      long_copy.assign(text.size() + kParsePadding, '\0');
      b = long_copy.data();
    } else {
      std::memset(local + text.size(), 0, kParsePadding);
    }
    std::memcpy(b, text.data(), text.size());
    char* const e = b + text.size();
    bool ok = true;
    if (decimal_ != '.') {
      for (char* q = b; q < e; ++q) {
        if (*q == '.') ok = false;  // never read "1.234,5" as 1.234
        if (*q == decimal_) *q = '.';
      }
    }
    const char* p = b;
    if (p + 1 < e && *p == '+' && p[1] != '-' && p[1] != '+') ++p;
    const char* ptr = ok ? FastParseGeneral(p, e, value) : nullptr;
    std::errc ec{};
    if (ok && ptr == nullptr) {
      auto result = std::from_chars(p, e, *value);
      ptr = result.ptr;
      ec = result.ec;
    }
    if (ok && ptr == e && ec == std::errc()) return true;
    if (ok && ptr == e && ec == std::errc::result_out_of_range &&
        ParseOutOfRange(p, ptr, value)) {
      return true;
    }
    if constexpr (!kThrow) return false;
    const char* at = field.begin;
    while (at < field.end && IsBlank(*at)) ++at;
    const auto [number, column] = Where(line, at);
    const bool range = ok && ptr == e && ec == std::errc::result_out_of_range;
    throw MakeError(ErrorKind::kInput, "{}:{}:{}: {}{}{} '{}'{}", in_.name(),
                    number, column, ColumnName(col),
                    range ? "number out of range for "
                          : (text.empty() ? "empty field" : "not a number"),
                    range ? TypeName(T{}) : "", EscapeForMessage(text, 40),
                    range ? std::string() : NaHint(text));
  }

  // For a field that looks like a missing-value token (no digits): how to
  // read it as NaN.
  std::string NaHint(std::string_view text) const {
    if (!na_.empty() || std::any_of(text.begin(), text.end(), [](char c) {
          return IsDigit(c) || c < ' ' || c > '~';
        })) {
      return "";
    }
    return fmt::format("; --na '{}' reads it as NaN",
                       EscapeForMessage(text, 40));
  }

  // "column 'x2': " for messages, when the header names column `col`.
  std::string ColumnName(int64_t col) const {
    if (col < 0 || col >= static_cast<int64_t>(header_.size())) return "";
    return fmt::format("column '{}': ",
                       EscapeForMessage(header_[static_cast<size_t>(col)], 40));
  }

  // A fast-path line with a '"': the general rules for that line alone.
  template <bool kThrow>
  bool ParseQuotedLine(const Line& line, T* row) const {
    std::vector<RawField> fields;
    const char* next;
    int64_t newlines;
    if (ScanRecord(line.begin, line.end, true, ',', &fields, &next,
                   &newlines) != Scan::kRecord) {
      if constexpr (!kThrow) return false;
      const auto [number, col] = Where(line, next);
      throw MakeError(ErrorKind::kInput,
                      "{}:{}:{}: bad quoted field; expected a closing '\"' "
                      "and then ',' or the line end",
                      in_.name(), number, col);
    }
    if (static_cast<int64_t>(fields.size()) != cols_) {
      if constexpr (!kThrow) return false;
      throw MakeError(ErrorKind::kInput, "{}:{}: expected {} columns, got {}",
                      in_.name(), line.number, cols_, fields.size());
    }
    for (int64_t c = 0; c < cols_; ++c) {
      if (!ParseField<kThrow>(fields[static_cast<size_t>(c)], line, c, &row[c]))
        return false;
    }
    return true;
  }

  InputFile in_;
  int64_t cols_;
  size_t max_line_;
  size_t cap_;
  std::unique_ptr<char[]> buf_;
  char delimiter_;
  char decimal_;
  char comment_;
  bool skip_blank_;
  std::vector<std::string> na_;
  std::shared_ptr<CsvPassThrough> pass_;
  std::shared_ptr<CsvPart> part_;        // when reading a part of the file
  bool fast_ = true;                     // plain rows: ParseLine's path
  std::vector<std::string> header_;      // names, unquoted
  std::vector<std::string> header_raw_;  // as read, for the output header
  std::vector<int64_t> selected_;        // the model's columns, 0-based
  std::vector<int64_t> kept_;            // --keep columns, 0-based
  int64_t fields_expected_ = -1;         // per record, when fixed
  int64_t fields_needed_ = 0;            // else at least this many
  std::vector<RawField> fields_;         // of the record last scanned
  size_t begin_ = 0;                     // start of the unread data
  size_t scanned_ = 0;  // bytes before this hold no '\n' after begin_
  size_t end_ = 0;      // end of the data read so far
  bool eof_ = false;
  int64_t read_bytes_ = 0;            // from the input, in all
  std::atomic<int64_t> consumed_{0};  // for progress(), on any thread
  int64_t line_ = 0;                  // number of the line last returned
  int64_t first_empty_line_ = 0;  // an empty line not yet known to be trailing
  std::vector<Line> batch_;       // lines found, not yet parsed
  bool track_lines_ = false;      // TrackLines() was called
  std::vector<int64_t> lines_;    // of the rows the last Read returned
};

template <typename T>
class CsvSink final : public RowSink<T> {
 public:
  CsvSink(const std::string& path, int64_t cols, const CsvSinkOptions& options)
      : file_(path),
        cols_(cols),
        buf_(new char[kWriteChunk]),
        pass_(options.pass_through) {
    if (!options.header.empty()) {
      Append(options.header.data(), options.header.size());
      Append("\n", 1);
    }
  }

  // Formats blocks of rows in parallel, each piece into its own slot of
  // scratch_, then appends the pieces in order.
  // To a stream, each Write (a tile) is flushed: a filter's reader (Spark's
  // RDD.pipe, Hadoop streaming) gets a partition's rows without waiting
  // for the input to end.
  void Write(const T* rows, int64_t n) override {
    WriteRows(rows, n);
    if (file_.streaming()) {
      Flush();
      file_.Flush();
    }
  }

  void Commit() override {
    Flush();
    file_.Commit();
  }

 private:
  static constexpr int64_t kScratchBytes = int64_t{1} << 20;

  void WriteRows(const T* rows, int64_t n) {
    if (pass_ != nullptr) {
      WriteWithKept(rows, n);
      return;
    }
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

  // Each row after its kept columns; serial, as the kept text is.
  void WriteWithKept(const T* rows, int64_t n) {
    char* const limit = buf_.get() + kWriteChunk - 64;
    for (int64_t r = 0; r < n; ++r, rows += cols_) {
      const std::string_view kept = pass_->NextRow();
      Append(kept.data(), kept.size());
      for (int64_t c = 0; c < cols_; ++c) {
        if (pos_ > limit) Flush();
        *pos_++ = ',';
        pos_ = FormatValue(pos_, limit + 64, rows[c]);
      }
      if (pos_ > limit) Flush();
      *pos_++ = '\n';
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
  std::shared_ptr<CsvPassThrough> pass_;
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
std::unique_ptr<RowSink<T>> OpenCsvSink(const std::string& path, int64_t cols,
                                        const CsvSinkOptions& options) {
  CheckCols(cols);
  return std::make_unique<CsvSink<T>>(path, cols, options);
}

void CsvPassThrough::Push(std::string text, std::vector<size_t> ends) {
  std::lock_guard<std::mutex> lock(mu_);
  blocks_.push_back({std::move(text), std::move(ends)});
}

std::string_view CsvPassThrough::NextRow() {
  std::lock_guard<std::mutex> lock(mu_);
  while (!blocks_.empty() && next_ == blocks_.front().ends.size()) {
    blocks_.pop_front();
    next_ = 0;
  }
  if (blocks_.empty()) {
    throw MakeError(ErrorKind::kInternal,
                    "kept columns: a row was written before it was read");
  }
  const Block& block = blocks_.front();
  const size_t begin = next_ == 0 ? 0 : block.ends[next_ - 1];
  const size_t end = block.ends[next_++];
  return std::string_view(block.text).substr(begin, end - begin);
}

std::string CsvHeaderLine(
    const std::vector<std::string>& kept,
    const std::vector<std::pair<std::string, int64_t>>& outputs) {
  std::string line;
  bool first = true;
  auto comma = [&] {
    if (!first) line.push_back(',');
    first = false;
  };
  auto add = [&](const std::string& name) {
    comma();
    if (name.find_first_of(",\"\r\n") == std::string::npos) {
      line += name;
      return;
    }
    line.push_back('"');
    for (char c : name) {
      if (c == '"') line.push_back('"');
      line.push_back(c);
    }
    line.push_back('"');
  };
  for (const std::string& name : kept) {
    comma();
    line += name;  // as read, quoted already where it needs to be
  }
  for (const auto& [name, width] : outputs) {
    const std::string base = outputs.size() == 1 ? "y" : name;
    if (width == 1) {
      add(base);
      continue;
    }
    for (int64_t j = 0; j < width; ++j) add(base + "_" + std::to_string(j));
  }
  return line;
}

template std::unique_ptr<RowSource<float>> OpenCsvSource<float>(
    const std::string&, int64_t, const CsvOptions&);
template std::unique_ptr<RowSource<double>> OpenCsvSource<double>(
    const std::string&, int64_t, const CsvOptions&);
template std::unique_ptr<RowSink<float>> OpenCsvSink<float>(
    const std::string&, int64_t, const CsvSinkOptions&);
template std::unique_ptr<RowSink<double>> OpenCsvSink<double>(
    const std::string&, int64_t, const CsvSinkOptions&);

}  // namespace rowflow
