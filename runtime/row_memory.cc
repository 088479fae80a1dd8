// Memory row source and sink.
#include <algorithm>
#include <cstring>

#include "graph/error.h"
#include "runtime/row_io.h"

namespace rowflow {

template <typename T>
MemorySource<T>::MemorySource(const void* data, int64_t rows, int64_t cols)
    : data_(static_cast<const unsigned char*>(data)), rows_(rows), cols_(cols) {
  if (cols < 1 || rows < 0) {
    throw MakeError(
        ErrorKind::kUsage,
        "memory rows: expected rows >= 0 and cols >= 1, got ({}, {})", rows,
        cols);
  }
}

template <typename T>
int64_t MemorySource<T>::Read(T* out, int64_t max_rows) {
  const int64_t next = next_.load(std::memory_order_relaxed);
  int64_t n = std::max<int64_t>(0, std::min(max_rows, rows_ - next));
  if (n > 0) {
    const size_t row_bytes = static_cast<size_t>(cols_) * sizeof(T);
    std::memcpy(out, data_ + static_cast<size_t>(next) * row_bytes,
                static_cast<size_t>(n) * row_bytes);
  }
  next_.store(next + n, std::memory_order_relaxed);
  return n;
}

template <typename T>
double MemorySource<T>::progress() const {
  if (rows_ == 0) return 1;
  return static_cast<double>(next_.load(std::memory_order_relaxed)) /
         static_cast<double>(rows_);
}

template <typename T>
MemorySink<T>::MemorySink(std::vector<T>* out, int64_t cols)
    : out_(out), cols_(cols), initial_size_(out->size()) {
  if (cols < 1)
    throw MakeError(ErrorKind::kUsage, "rows need at least 1 column, got {}",
                    cols);
}

template <typename T>
MemorySink<T>::~MemorySink() {
  if (!committed_) out_->resize(initial_size_);
}

template <typename T>
void MemorySink<T>::Write(const T* rows, int64_t n) {
  out_->insert(out_->end(), rows, rows + n * cols_);
}

template class MemorySource<float>;
template class MemorySource<double>;
template class MemorySink<float>;
template class MemorySink<double>;

}  // namespace rowflow
