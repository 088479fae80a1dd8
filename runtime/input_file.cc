#include "runtime/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "graph/error.h"

namespace rowflow {
namespace {

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

InputFile::InputFile(const std::string& path)
    : name_(path == "-" ? "<stdin>" : path) {
  struct stat st;
  if (path == "-") {
    fd_ = STDIN_FILENO;
    if (fstat(fd_, &st) == 0) size_ = RegularFileBytesLeft(fd_, st);
    return;
  }
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

InputFile::~InputFile() {
  if (fd_ > STDIN_FILENO) close(fd_);
}

size_t InputFile::ReadSome(char* dst, size_t n) {
  for (;;) {
    ssize_t r = read(fd_, dst, n);
    if (r >= 0) return static_cast<size_t>(r);
    if (errno != EINTR) ThrowErrno(name_, errno);
  }
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
