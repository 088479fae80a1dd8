// RowMatrix: rows of numbers in memory, row-major, the unit the Session and
// the reference evaluator take and return; ConstRowSpan / RowSpan: the same
// over memory the caller owns (numpy arrays, mapped files).
//
// Thread-safety: plain data.
#ifndef ROWFLOW_RUNTIME_ROWS_H_
#define ROWFLOW_RUNTIME_ROWS_H_

#include <cstdint>
#include <initializer_list>
#include <vector>

namespace rowflow {

template <typename T>
struct RowMatrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<T> data;  // rows * cols, row-major

  RowMatrix() = default;
  // A zero-filled (rows, cols) matrix.
  RowMatrix(int64_t r, int64_t c) : rows(r), cols(c), data(r * c) {}
  // From literal rows, e.g. {{3, 5}, {1, -1}}; all rows the same length.
  RowMatrix(std::initializer_list<std::initializer_list<T>> literal)
      : rows(static_cast<int64_t>(literal.size())),
        cols(literal.size() ? static_cast<int64_t>(literal.begin()->size())
                            : 0) {
    for (const auto& r : literal) data.insert(data.end(), r.begin(), r.end());
  }

  T* row(int64_t r) { return data.data() + r * cols; }
  const T* row(int64_t r) const { return data.data() + r * cols; }
  T& at(int64_t r, int64_t c) { return data[r * cols + c]; }
  const T& at(int64_t r, int64_t c) const { return data[r * cols + c]; }
};

// Rows in memory the caller owns: `rows` x `cols` numbers, row-major, the
// rows `cols` apart (C-contiguous).
template <typename T>
struct ConstRowSpan {
  const T* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
};

template <typename T>
struct RowSpan {
  T* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
};

}  // namespace rowflow

#endif  // ROWFLOW_RUNTIME_ROWS_H_
