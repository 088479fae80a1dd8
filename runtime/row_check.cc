#include "runtime/row_check.h"

#include <cmath>

#include "graph/error.h"
#include "graph/ir.h"

namespace rowflow {

std::string RowLocator::operator()(int64_t row) const {
  if (csv)
    return name + ":" + std::to_string(before + row + 1 + (header ? 1 : 0));
  return name + ": row " + std::to_string(before + row + 1);
}

std::string RowLocator::operator()(int64_t row, int64_t line) const {
  if (csv && line >= 1) return name + ":" + std::to_string(line);
  return (*this)(row);
}

void RowLines::Add(int64_t first_row, const int64_t* lines, int64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t row = first_row + i;
    if (!runs_.empty()) {
      Run& last = runs_.back();
      if (last.first_row + last.rows == row &&
          last.first_line + last.rows == lines[i]) {
        ++last.rows;
        continue;
      }
    }
    runs_.push_back({row, lines[i], 1});
  }
}

int64_t RowLines::LineOf(int64_t row) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const Run& run : runs_) {
    if (row >= run.first_row && row < run.first_row + run.rows)
      return run.first_line + (row - run.first_row);
  }
  return 0;
}

void RowLines::Forget(int64_t row) {
  std::lock_guard<std::mutex> lock(mu_);
  while (!runs_.empty() && runs_.front().first_row + runs_.front().rows <= row)
    runs_.pop_front();
}

namespace {

// Index of the first NaN or infinity of rows[0..count), or -1.
template <typename T>
int64_t FirstNonFinite(const T* rows, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    if (!std::isfinite(rows[i])) return i;
  }
  return -1;
}

template <typename T>
[[noreturn]] void ThrowNonFinite(const std::string& where, bool output,
                                 int64_t col, T value, std::string_view flag) {
  throw MakeError(
      ErrorKind::kInput, "{}: {}column {} is {}; expected finite values ({})",
      where, output ? "output " : "", col + 1, ir::NumberToString(value), flag);
}

}  // namespace

template <typename T>
void CheckFinite(const T* rows, int64_t n, int64_t cols, int64_t first_row,
                 const RowLocator& where, bool output, std::string_view flag) {
  const int64_t i = FirstNonFinite(rows, n * cols);
  if (i >= 0)
    ThrowNonFinite(where(first_row + i / cols), output, i % cols, rows[i],
                   flag);
}

template <typename T>
FiniteCheckSource<T>::FiniteCheckSource(RowSource<T>& inner, RowLocator where,
                                        std::string_view flag)
    : inner_(inner), where_(std::move(where)), flag_(flag) {
  inner_.TrackLines();
}

template <typename T>
int64_t FiniteCheckSource<T>::Read(T* out, int64_t max_rows) {
  const int64_t n = inner_.Read(out, max_rows);
  const int64_t* lines = inner_.lines();
  const int64_t cols = inner_.cols();
  const int64_t i = FirstNonFinite(out, n * cols);
  if (i >= 0) {
    const int64_t row = i / cols;
    ThrowNonFinite(where_(rows_ + row, lines != nullptr ? lines[row] : 0),
                   false, i % cols, out[i], flag_);
  }
  if (lines != nullptr) lines_->Add(rows_, lines, n);
  rows_ += n;
  return n;
}

template <typename T>
void FiniteCheckSink<T>::Write(const T* rows, int64_t n) {
  const int64_t i = FirstNonFinite(rows, n * cols_);
  if (i >= 0) {
    const int64_t row = rows_ + i / cols_;
    ThrowNonFinite(where_(row, lines_ != nullptr ? lines_->LineOf(row) : 0),
                   true, i % cols_, rows[i], "--check-finite");
  }
  inner_.Write(rows, n);
  rows_ += n;
  if (lines_ != nullptr) lines_->Forget(rows_);
}

template void CheckFinite(const float*, int64_t, int64_t, int64_t,
                          const RowLocator&, bool, std::string_view);
template void CheckFinite(const double*, int64_t, int64_t, int64_t,
                          const RowLocator&, bool, std::string_view);
template class FiniteCheckSource<float>;
template class FiniteCheckSource<double>;
template class FiniteCheckSink<float>;
template class FiniteCheckSink<double>;

}  // namespace rowflow
