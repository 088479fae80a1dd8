#include "runtime/input_file.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <utility>

#include "graph/error.h"

namespace rowflow {
namespace {

// The first bytes of every .npy file (graph/npy_format.h).
constexpr std::string_view kNpyMagic = "\x93NUMPY";

[[noreturn]] void ThrowErrno(const std::string& name, int err) {
  char buf[256];
  throw Error(ErrorKind::kInput,
              name + ": " + strerror_r(err, buf, sizeof(buf)));
}

// The bytes left to read in `fd` when it is a regular file; else -1.
int64_t RegularFileBytesLeft(int fd, const struct stat& st) {
  if (!S_ISREG(st.st_mode)) return -1;
  // stdin redirected from a file may start past its beginning.
  const off_t at = lseek(fd, 0, SEEK_CUR);
  if (at < 0) return -1;
  return std::max<int64_t>(0, static_cast<int64_t>(st.st_size) - at);
}

}  // namespace

InputFile::InputFile(const std::string& path, bool npy)
    : name_(path == "-" ? "<stdin>" : path) {
  struct stat st;
  if (path == "-") {
    fd_ = STDIN_FILENO;
    if (fstat(fd_, &st) == 0) size_ = RegularFileBytesLeft(fd_, st);
  } else {
    Open(path);
  }
  // A destructor does not run for a constructor that throws.
  try {
    std::string head;  // not raw_head_ yet: ReadRaw returns that first
    Peek([this](char* d, size_t n) { return ReadRaw(d, n); },
         kCompressionMagicBytes, &head);
    raw_head_ = std::move(head);
    compression_ = DetectCompression(raw_head_);
    if (compression_ != Compression::kNone) {
      size_ = -1;  // the plain size is not known up front
      decoder_ = Decompressor::Create(
          compression_, [this](char* d, size_t n) { return ReadRaw(d, n); },
          name_);
    }
    if (!npy) CheckNotNpy();
  } catch (...) {
    if (fd_ > STDIN_FILENO) close(fd_);
    throw;
  }
}

void InputFile::Open(const std::string& path) {
  struct stat st;
  do {
    fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  } while (fd_ < 0 && errno == EINTR);
  if (fd_ < 0) ThrowErrno(name_, errno);
  if (fstat(fd_, &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      close(fd_);
      fd_ = -1;
      ThrowErrno(name_, EISDIR);
    }
    size_ = RegularFileBytesLeft(fd_, st);
  }
  // Advice only: sequential read-ahead; failure changes nothing.
  posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
}

template <typename Read>
void InputFile::Peek(Read read, size_t n, std::string* head) {
  head->resize(n);
  size_t done = 0;
  while (done < n) {
    const size_t r = read(head->data() + done, n - done);
    if (r == 0) break;
    done += r;
  }
  head->resize(done);
}

void InputFile::CheckNotNpy() {
  std::string head;
  Peek([this](char* d, size_t n) { return ReadPlain(d, n); }, kNpyMagic.size(),
       &head);
  plain_head_ = std::move(head);
  if (plain_head_ == kNpyMagic) {
    throw MakeError(ErrorKind::kInput,
                    "{}: holds .npy data, not CSV rows; read it as .npy (a "
                    "name ending in .npy, or --format npy for stdin)",
                    name_);
  }
}

size_t InputFile::ReadRaw(char* dst, size_t n) {
  if (!raw_head_.empty()) {
    const size_t k = std::min(n, raw_head_.size());
    std::memcpy(dst, raw_head_.data(), k);
    raw_head_.erase(0, k);
    return k;
  }
  if (left_ >= 0) n = std::min(n, static_cast<size_t>(left_));
  if (n == 0) return 0;
  for (;;) {
    ssize_t r = read(fd_, dst, n);
    if (r >= 0) {
      if (left_ >= 0) left_ -= r;
      return static_cast<size_t>(r);
    }
    if (errno != EINTR) ThrowErrno(name_, errno);
  }
}

bool InputFile::WouldBlock() const {
  if (decoder_ || !raw_head_.empty() || !plain_head_.empty() || size_ >= 0)
    return false;
  struct pollfd p = {fd_, POLLIN, 0};
  return poll(&p, 1, 0) == 0;
}

void InputFile::SeekTo(int64_t begin, int64_t end) {
  if (fd_ <= STDIN_FILENO || compression_ != Compression::kNone) {
    throw MakeError(ErrorKind::kUsage,
                    "{}: {} input cannot be read in parts (mpirun); give an "
                    "uncompressed file",
                    name_, fd_ <= STDIN_FILENO ? "standard" : "compressed");
  }
  struct stat st;
  if (fstat(fd_, &st) != 0) ThrowErrno(name_, errno);
  if (!S_ISREG(st.st_mode)) {
    throw MakeError(ErrorKind::kUsage,
                    "{}: not a regular file; mpirun needs one to read in parts",
                    name_);
  }
  if (lseek(fd_, static_cast<off_t>(begin), SEEK_SET) < 0)
    ThrowErrno(name_, errno);
  raw_head_.clear();
  plain_head_.clear();
  const int64_t file_end = static_cast<int64_t>(st.st_size);
  const int64_t stop = end < 0 ? file_end : std::min(end, file_end);
  left_ = std::max<int64_t>(0, stop - begin);
  size_ = left_;
}

size_t InputFile::ReadPlain(char* dst, size_t n) {
  return decoder_ ? decoder_->Read(dst, n) : ReadRaw(dst, n);
}

InputFile::~InputFile() {
  if (fd_ > STDIN_FILENO) close(fd_);
}

size_t InputFile::ReadSome(char* dst, size_t n) {
  if (n == 0) return 0;
  if (!plain_head_.empty()) {
    const size_t k = std::min(n, plain_head_.size());
    std::memcpy(dst, plain_head_.data(), k);
    plain_head_.erase(0, k);
    return k;
  }
  return ReadPlain(dst, n);
}

size_t InputFile::ReadFull(char* dst, size_t n) {
  size_t done = 0;
  while (done < n) {
    size_t r = ReadSome(dst + done, n - done);
    if (r == 0) break;
    done += r;
  }
  return done;
}

void CheckCols(int64_t cols) {
  if (cols < 1)
    throw MakeError(ErrorKind::kUsage, "rows need at least 1 column, got {}",
                    cols);
}

}  // namespace rowflow
