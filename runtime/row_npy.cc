// NPY row source and sink (rules in runtime/row_io.h and graph/npy_format.h).
#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "graph/atomic_file.h"
#include "graph/error.h"
#include "graph/npy_format.h"
#include "runtime/compress.h"
#include "runtime/input_file.h"
#include "runtime/row_io.h"

namespace rowflow {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the NPY reader assumes a little-endian host");

constexpr size_t kStageBytes = 1 << 16;

// Converts `count` elements of type Src (byte-swapped if kSwap) to T.
template <typename Src, typename Bits, bool kSwap, typename T>
void ConvertAs(const char* src, size_t count, T* dst) {
  for (size_t i = 0; i < count; ++i) {
    Bits bits;
    std::memcpy(&bits, src + i * sizeof(Bits), sizeof(Bits));
    if constexpr (kSwap) {
      if constexpr (sizeof(Bits) == 4)
        bits = __builtin_bswap32(bits);
      else
        bits = __builtin_bswap64(bits);
    }
    dst[i] = static_cast<T>(std::bit_cast<Src>(bits));
  }
}

template <typename T>
void Convert(const char* src, size_t count, int itemsize, bool swap, T* dst) {
  if (itemsize == 4) {
    swap ? ConvertAs<float, uint32_t, true>(src, count, dst)
         : ConvertAs<float, uint32_t, false>(src, count, dst);
  } else {
    swap ? ConvertAs<double, uint64_t, true>(src, count, dst)
         : ConvertAs<double, uint64_t, false>(src, count, dst);
  }
}

template <typename T>
class NpySource final : public RowSource<T> {
 public:
  NpySource(const std::string& path, int64_t cols, NpyPart* part)
      : in_(path, /*npy=*/true), cols_(cols) {
    ReadHeader();
    if (part != nullptr) SeekToPart(part);
  }

  int64_t cols() const override { return cols_; }
  int64_t total_rows() const override { return rows_; }
  double progress() const override {
    if (rows_ == 0) return 1;
    return static_cast<double>(rows_read_.load(std::memory_order_relaxed)) /
           static_cast<double>(rows_);
  }

  int64_t Read(T* out, int64_t max_rows) override {
    int64_t n = std::min(max_rows, rows_ - done_);
    if (n <= 0) {
      if (done_ == rows_) CheckEnd();
      return 0;
    }
    const size_t row_bytes = static_cast<size_t>(cols_) * itemsize_;
    const size_t want = static_cast<size_t>(n) * row_bytes;
    if (itemsize_ == sizeof(T) && !swap_) {
      size_t got = in_.ReadFull(reinterpret_cast<char*>(out), want);
      if (got < want) Truncated(done_ + static_cast<int64_t>(got / row_bytes));
    } else {
      if (!stage_) stage_.reset(new char[kStageBytes]);
      const size_t chunk = kStageBytes / itemsize_ * itemsize_;
      for (size_t done_bytes = 0; done_bytes < want;) {
        size_t bytes = std::min(chunk, want - done_bytes);
        size_t got = in_.ReadFull(stage_.get(), bytes);
        Convert(stage_.get(), got / itemsize_, itemsize_, swap_,
                out + done_bytes / itemsize_);
        done_bytes += got;
        if (got < bytes)
          Truncated(done_ + static_cast<int64_t>(done_bytes / row_bytes));
      }
    }
    done_ += n;
    rows_read_.store(done_, std::memory_order_relaxed);
    if (done_ == rows_) CheckEnd();
    return n;
  }

 private:
  void ReadHeader() {
    const std::string& name = in_.name();
    const NpyHeader h =
        ReadNpyHeader([&](char* dst, size_t n) { return in_.ReadFull(dst, n); },
                      name, ErrorKind::kInput);
    std::string shape = NpyShapeString(h.shape);
    if (h.shape.size() == 2 && h.shape[1] != cols_) {
      throw MakeError(ErrorKind::kInput,
                      "{}: expected {} columns, got {} (shape {})", name, cols_,
                      h.shape[1], shape);
    }
    if (h.shape.size() != 2 && !(h.shape.size() == 1 && cols_ == 1)) {
      throw MakeError(ErrorKind::kInput, "{}: expected shape (N, {}), got {}",
                      name, cols_, shape);
    }
    // Fortran order is the same bytes as C order unless both sides exceed 1.
    if (h.fortran_order && h.shape.size() == 2 && h.shape[0] > 1 &&
        h.shape[1] > 1) {
      throw MakeError(
          ErrorKind::kInput,
          "{}: Fortran-order array {} is not supported; expected C order "
          "(np.ascontiguousarray)",
          name, shape);
    }
    rows_ = total_ = h.shape[0];
    itemsize_ = h.itemsize;
    swap_ = h.big_endian;
    data_offset_ = h.data_offset;
  }

  // Narrows the rows to the part's, at their byte offsets; the last part
  // alone checks for bytes after the data.
  void SeekToPart(NpyPart* part) {
    const int64_t first = total_ * part->index / part->count;
    const int64_t end = total_ * (part->index + 1) / part->count;
    const int64_t row_bytes = cols_ * static_cast<int64_t>(itemsize_);
    const bool last = part->index + 1 == part->count;
    in_.SeekTo(data_offset_ + first * row_bytes,
               last ? -1 : data_offset_ + end * row_bytes);
    first_ = first;
    rows_ = end - first;
    checked_end_ = !last;
    part->first_row = first;
    part->total_rows = total_;
  }

  [[noreturn]] void Truncated(int64_t full_rows) {
    throw MakeError(
        ErrorKind::kInput,
        "{}: truncated .npy data: expected {} rows, data ends in row {}",
        in_.name(), total_, first_ + full_rows + 1);
  }

  // numpy never writes bytes after the data; extra bytes mean a wrong shape.
  void CheckEnd() {
    if (checked_end_) return;
    checked_end_ = true;
    char byte;
    if (in_.ReadSome(&byte, 1) != 0) {
      throw MakeError(ErrorKind::kInput,
                      "{}: unexpected bytes after the {} rows of .npy data",
                      in_.name(), total_);
    }
  }

  InputFile in_;
  int64_t cols_;
  int64_t rows_ = 0;   // to read: all, or the part's
  int64_t total_ = 0;  // in the file
  int64_t first_ = 0;  // file row of the first row read
  int64_t data_offset_ = 0;
  int64_t done_ = 0;
  std::atomic<int64_t> rows_read_{0};  // done_, for progress() on any thread
  size_t itemsize_ = 0;
  bool swap_ = false;
  bool checked_end_ = false;
  std::unique_ptr<char[]> stage_;
};

template <typename T>
class NpySink final : public RowSink<T> {
 public:
  NpySink(const std::string& path, int64_t cols) : file_(path), cols_(cols) {
    if (file_.seekable()) {
      std::string header = FormatNpyHeader(sizeof(T), 0, cols_);
      file_.Write(header.data(), header.size());
    } else {
      spool_ = std::tmpfile();  // anonymous: gone when closed, even on a crash
      if (spool_ == nullptr) SpoolFailed();
    }
  }

  ~NpySink() override {
    if (spool_ != nullptr) std::fclose(spool_);
  }

  void Write(const T* rows, int64_t n) override {
    size_t bytes = static_cast<size_t>(n * cols_) * sizeof(T);
    if (spool_ == nullptr) {
      file_.Write(rows, bytes);
    } else if (std::fwrite(rows, 1, bytes, spool_) != bytes) {
      SpoolFailed();
    }
    rows_ += n;
  }

  void Commit() override {
    std::string header = FormatNpyHeader(sizeof(T), rows_, cols_);
    if (spool_ == nullptr) {
      file_.WriteAt(0, header.data(), header.size());
    } else {
      file_.Write(header.data(), header.size());
      if (std::fflush(spool_) != 0 || std::fseek(spool_, 0, SEEK_SET) != 0)
        SpoolFailed();
      std::unique_ptr<char[]> buf(new char[1 << 16]);
      size_t got;
      while ((got = std::fread(buf.get(), 1, 1 << 16, spool_)) > 0)
        file_.Write(buf.get(), got);
      if (std::ferror(spool_)) SpoolFailed();
    }
    file_.Commit();
  }

 private:
  [[noreturn]] void SpoolFailed() {
    throw MakeError(ErrorKind::kIo, "{}: temporary spool file: {}",
                    file_.display_name(), std::strerror(errno));
  }

  OutputFile file_;
  int64_t cols_;
  int64_t rows_ = 0;
  std::FILE* spool_ =
      nullptr;  // rows waiting for the header, when not seekable
};

}  // namespace

template <typename T>
std::unique_ptr<RowSource<T>> OpenNpySource(const std::string& path,
                                            int64_t cols, NpyPart* part) {
  CheckCols(cols);
  return std::make_unique<NpySource<T>>(path, cols, part);
}

template <typename T>
std::unique_ptr<RowSink<T>> OpenNpySink(const std::string& path, int64_t cols) {
  CheckCols(cols);
  return std::make_unique<NpySink<T>>(path, cols);
}

template std::unique_ptr<RowSource<float>> OpenNpySource<float>(
    const std::string&, int64_t, NpyPart*);
template std::unique_ptr<RowSource<double>> OpenNpySource<double>(
    const std::string&, int64_t, NpyPart*);
template std::unique_ptr<RowSink<float>> OpenNpySink<float>(const std::string&,
                                                            int64_t);
template std::unique_ptr<RowSink<double>> OpenNpySink<double>(
    const std::string&, int64_t);

}  // namespace rowflow
