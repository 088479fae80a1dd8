// Row source and sink decorators that refuse NaN and infinity (`rowflow run
// --check-finite`): rows pass through unchanged until the first non-finite
// value, which throws Error(kInput) naming its input row and column.
//
// Thread-safety: as the source or sink they wrap, one thread at a time
// (RowSource::progress() from any thread).
#ifndef ROWFLOW_RUNTIME_ROW_CHECK_H_
#define ROWFLOW_RUNTIME_ROW_CHECK_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "runtime/row_io.h"

namespace rowflow {

// Names input row `row` (0-based) in messages: "rows.csv:7" (1-based line,
// after the header line if any) for CSV, "rows.npy: row 7" for .npy.
struct RowLocator {
  std::string name;  // "<stdin>" for "-"
  bool csv = true;
  bool header = false;
  // Lines (CSV) or rows (.npy) before row 0: a part of a file (mpirun).
  int64_t before = 0;

  std::string operator()(int64_t row) const;

  // Row `row` at 1-based line `line` of the file ("rows.csv:9"), as parse
  // errors name it; `line` < 1 (not known): operator()(row).
  std::string operator()(int64_t row, int64_t line) const;
};

// The input lines of rows a FiniteCheckSource has read and its
// FiniteCheckSink has not yet written (the Session may read tile k + 1 on
// one thread while another writes tile k), kept as runs of consecutive
// lines. Thread-safe.
class RowLines {
 public:
  // Rows [first_row, first_row + n) are at lines[0..n).
  void Add(int64_t first_row, const int64_t* lines, int64_t n);

  // The line of row `row`, or 0 when not known.
  int64_t LineOf(int64_t row);

  // Forgets the rows before `row`.
  void Forget(int64_t row);

 private:
  struct Run {
    int64_t first_row, first_line, rows;
  };
  std::mutex mu_;
  std::deque<Run> runs_;
};

// Throws Error(kInput) at the first NaN or infinity of `n` rows of `cols`
// numbers whose first is row `first_row` of the input: "<where>: column C
// is nan; expected finite values (<flag>)", with "output column" for output
// rows (output row i comes from input row i).
template <typename T>
void CheckFinite(const T* rows, int64_t n, int64_t cols, int64_t first_row,
                 const RowLocator& where, bool output,
                 std::string_view flag = "--check-finite");

// Passes rows through from `inner`, failing with Error(kInput) at the first
// NaN or infinity, named by its row and 1-based column.
template <typename T>
class FiniteCheckSource final : public RowSource<T> {
 public:
  // `inner` must outlive this source. A CSV source is asked for its rows'
  // lines (TrackLines), so that rows after comments, skipped blank lines
  // or a header are named by their real lines.
  // `flag` is what the message names as the check ("--check-finite" for
  // the CLI, "check_finite" for Python); kept as a view, so a literal.
  FiniteCheckSource(RowSource<T>& inner, RowLocator where,
                    std::string_view flag = "--check-finite");

  // The lines of the rows read, for the FiniteCheckSink of the same run.
  const std::shared_ptr<RowLines>& row_lines() const { return lines_; }

  int64_t cols() const override { return inner_.cols(); }
  int64_t total_rows() const override { return inner_.total_rows(); }
  double progress() const override { return inner_.progress(); }
  int64_t Read(T* out, int64_t max_rows) override;

 private:
  RowSource<T>& inner_;
  RowLocator where_;
  std::string_view flag_;
  std::shared_ptr<RowLines> lines_ = std::make_shared<RowLines>();
  int64_t rows_ = 0;
};

// Passes rows on to `inner`, failing with Error(kInput) at the first NaN or
// infinity, named by the input row that produced it (output row i comes
// from input row i).
template <typename T>
class FiniteCheckSink final : public RowSink<T> {
 public:
  // `inner` must outlive this sink; rows are `cols` numbers. `lines`
  // (FiniteCheckSource::row_lines() of the run's source, if any) names
  // rows by their input lines.
  FiniteCheckSink(RowSink<T>& inner, int64_t cols, RowLocator where,
                  std::shared_ptr<RowLines> lines = nullptr)
      : inner_(inner),
        cols_(cols),
        where_(std::move(where)),
        lines_(std::move(lines)) {}

  void Write(const T* rows, int64_t n) override;
  void Commit() override { inner_.Commit(); }

 private:
  RowSink<T>& inner_;
  int64_t cols_;
  RowLocator where_;
  std::shared_ptr<RowLines> lines_;
  int64_t rows_ = 0;
};

}  // namespace rowflow

#endif  // ROWFLOW_RUNTIME_ROW_CHECK_H_
