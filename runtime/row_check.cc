#include "runtime/row_check.h"

#include <cmath>

#include "graph/error.h"
#include "graph/ir.h"

namespace rowflow {

std::string RowLocator::operator()(int64_t row) const {
  if (csv) return name + ":" + std::to_string(row + 1 + (header ? 1 : 0));
  return name + ": row " + std::to_string(row + 1);
}

template <typename T>
int64_t FiniteCheckSource<T>::Read(T* out, int64_t max_rows) {
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

template <typename T>
void FiniteCheckSink<T>::Write(const T* rows, int64_t n) {
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

template class FiniteCheckSource<float>;
template class FiniteCheckSource<double>;
template class FiniteCheckSink<float>;
template class FiniteCheckSink<double>;

}  // namespace rowflow
