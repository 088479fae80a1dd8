// Pieces of `rowflow run` around the Session: the --check-finite wrappers
// of a row source and sink, and the progress line on a terminal.
//
// Thread-safety: each object is used by one thread at a time (the Session
// reads its source from one flow-graph node and writes its sink from one
// serial node).
#ifndef ROWFLOW_TOOLS_CLI_RUN_WRAPPERS_H_
#define ROWFLOW_TOOLS_CLI_RUN_WRAPPERS_H_

#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>

#include "graph/error.h"
#include "runtime/row_io.h"
#include "tools/cli/cli_util.h"

namespace rowflow::cli {

// Names input row `row` (0-based) in messages: "rows.csv:7" (1-based line,
// after the header line if any) for CSV, "rows.npy: row 7" for .npy.
struct RowLocator {
  std::string name;  // "<stdin>" for "-"
  bool csv = true;
  bool header = false;

  std::string operator()(int64_t row) const {
    if (csv) return name + ":" + std::to_string(row + 1 + (header ? 1 : 0));
    return name + ": row " + std::to_string(row + 1);
  }
};

// Passes rows through from `inner`, failing with Error(kInput) at the first
// NaN or infinity, named by its row and 1-based column.
template <typename T>
class FiniteCheckSource final : public RowSource<T> {
 public:
  FiniteCheckSource(RowSource<T>& inner, RowLocator where)
      : inner_(inner), where_(std::move(where)) {}

  int64_t cols() const override { return inner_.cols(); }
  int64_t total_rows() const override { return inner_.total_rows(); }
  double progress() const override { return inner_.progress(); }

  int64_t Read(T* out, int64_t max_rows) override {
    const int64_t n = inner_.Read(out, max_rows);
    const int64_t cols = inner_.cols();
    for (int64_t i = 0; i < n * cols; ++i) {
      if (!std::isfinite(out[i])) {
        throw MakeError(
            ErrorKind::kInput,
            "{}: column {} is {}; expected finite values (--check-finite)",
            where_(rows_ + i / cols), i % cols + 1, ir::NumberToString(out[i]));
      }
    }
    rows_ += n;
    return n;
  }

 private:
  RowSource<T>& inner_;
  RowLocator where_;
  int64_t rows_ = 0;
};

// Passes rows on to `inner`, failing with Error(kInput) at the first NaN or
// infinity, named by the input row that produced it.
template <typename T>
class FiniteCheckSink final : public RowSink<T> {
 public:
  FiniteCheckSink(RowSink<T>& inner, int64_t cols, RowLocator where)
      : inner_(inner), cols_(cols), where_(std::move(where)) {}

  void Write(const T* rows, int64_t n) override {
    for (int64_t i = 0; i < n * cols_; ++i) {
      if (!std::isfinite(rows[i])) {
        throw MakeError(ErrorKind::kInput,
                        "{}: output column {} is {}; expected finite values "
                        "(--check-finite)",
                        where_(rows_ + i / cols_), i % cols_ + 1,
                        ir::NumberToString(rows[i]));
      }
    }
    inner_.Write(rows, n);
    rows_ += n;
  }

  void Commit() override { inner_.Commit(); }

 private:
  RowSink<T>& inner_;
  int64_t cols_;
  RowLocator where_;
  int64_t rows_ = 0;
};

// A one-line progress report on stderr, redrawn at most 5 times a second:
// rows done, rows/s, and percent and ETA when the input's size is known.
class ProgressLine {
 public:
  // `fraction()` is the share of the input read so far, in [0, 1], or < 0
  // when unknown (RowSource::progress()); it is asked only when a line is
  // drawn. A disabled line prints nothing.
  ProgressLine(bool enabled, std::function<double()> fraction);
  // Erases the line, so that an error message starts on a clean line.
  ~ProgressLine() { Clear(); }

  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // Reports `rows_done`; cheap when nothing is printed.
  void Update(int64_t rows_done);

  // Erases the line if one was drawn.
  void Clear();

 private:
  using Clock = std::chrono::steady_clock;
  bool enabled_;
  bool drawn_ = false;
  std::function<double()> fraction_;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_ = start_;
};

}  // namespace rowflow::cli

#endif  // ROWFLOW_TOOLS_CLI_RUN_WRAPPERS_H_
