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

template <typename T>
void CheckFinite(const T* rows, int64_t n, int64_t cols, int64_t first_row,
                 const RowLocator& where, bool output, std::string_view flag) {
  for (int64_t i = 0; i < n * cols; ++i) {
    if (!std::isfinite(rows[i])) {
      throw MakeError(ErrorKind::kInput,
                      "{}: {}column {} is {}; expected finite values ({})",
                      where(first_row + i / cols), output ? "output " : "",
                      i % cols + 1, ir::NumberToString(rows[i]), flag);
    }
  }
}

template <typename T>
int64_t FiniteCheckSource<T>::Read(T* out, int64_t max_rows) {
  const int64_t n = inner_.Read(out, max_rows);
  CheckFinite(out, n, inner_.cols(), rows_, where_, false);
  rows_ += n;
  return n;
}

template <typename T>
void FiniteCheckSink<T>::Write(const T* rows, int64_t n) {
  CheckFinite(rows, n, cols_, rows_, where_, true);
  inner_.Write(rows, n);
  rows_ += n;
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
