#include "graph/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace rowflow {
namespace {

constexpr size_t kBufferBytes = 1 << 16;
constexpr size_t kMaxTempBase = 200;  // keeps the temp name under NAME_MAX

std::string ErrnoText(int err) {
  char buf[256];
  // GNU strerror_r may return a static string instead of filling buf.
  return strerror_r(err, buf, sizeof(buf));
}

// Six characters that differ per call and per process; O_EXCL handles the
// rare collision, so this needs no cryptographic quality.
std::string RandomSuffix() {
  static std::atomic<uint64_t> counter{0};
  uint64_t x =
      static_cast<uint64_t>(
          std::chrono::steady_clock::now().time_since_epoch().count()) ^
      (static_cast<uint64_t>(getpid()) << 32) ^
      (counter.fetch_add(1) * 0x9E3779B97F4A7C15ull);
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 29;
  static constexpr char kChars[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string s(6, 'x');
  for (char& c : s) {
    c = kChars[x % 62];
    x /= 62;
  }
  return s;
}

}  // namespace

AtomicFile::AtomicFile(const std::string& path)
    : path_(path), name_(path == "-" ? "<stdout>" : path) {
  if (path.empty()) throw MakeError(ErrorKind::kIo, "empty output path");
  if (path == "-") {
    fd_ = STDOUT_FILENO;
  } else {
    struct stat st;
    if (stat(path.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) Fail(EISDIR);
      if (!S_ISREG(st.st_mode)) {
        // A device or FIFO: renaming over it would replace the node itself.
        do {
          fd_ = open(path.c_str(), O_WRONLY | O_CLOEXEC);
        } while (fd_ < 0 && errno == EINTR);
        if (fd_ < 0) Fail(errno);
        own_fd_ = true;
      }
    } else if (errno != ENOENT) {
      Fail(errno);
    }
    if (fd_ < 0) {
      size_t slash = path.rfind('/');
      std::string dir =
          slash == std::string::npos ? "" : path.substr(0, slash + 1);
      std::string base =
          path.substr(slash == std::string::npos ? 0 : slash + 1);
      if (base.empty()) Fail(EISDIR);
      base.resize(std::min(base.size(), kMaxTempBase));
      for (int attempt = 0; fd_ < 0; ++attempt) {
        temp_ = dir + "." + base + ".rowflow-" + RandomSuffix();
        // 0666 so the umask applies as for any new file (mkstemp forces 0600).
        fd_ =
            open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd_ < 0 && !(errno == EEXIST || errno == EINTR)) {
          int err = errno;
          temp_.clear();
          Fail(err);
        }
        if (fd_ < 0 && attempt > 100) {
          temp_.clear();
          Fail(EEXIST);
        }
      }
      own_fd_ = true;
    }
  }
  buf_.reset(new char[kBufferBytes]);
}

AtomicFile::~AtomicFile() { Abort(); }

void AtomicFile::Abort() {
  if (own_fd_ && fd_ >= 0) close(fd_);
  fd_ = -1;
  if (!temp_.empty() && !done_) unlink(temp_.c_str());
  done_ = true;
}

void AtomicFile::Fail(int err) {
  Abort();
  if (err == EPIPE) throw BrokenPipeError(name_);
  throw Error(ErrorKind::kIo, name_ + ": " + ErrnoText(err));
}

void AtomicFile::WriteFd(const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd_, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      Fail(errno);
    }
    if (w == 0) Fail(EIO);
    data += w;
    n -= static_cast<size_t>(w);
  }
}

void AtomicFile::Flush() {
  if (used_ == 0) return;
  size_t n = used_;
  used_ = 0;
  WriteFd(buf_.get(), n);
}

void AtomicFile::Write(const void* data, size_t n) {
  if (done_) throw Error(ErrorKind::kIo, name_ + ": write after close");
  if (n == 0) return;  // `data` may be null then; memcpy must not see it
  const char* p = static_cast<const char*>(data);
  size_ += static_cast<int64_t>(n);
  if (used_ + n <= kBufferBytes) {
    std::memcpy(buf_.get() + used_, p, n);
    used_ += n;
    return;
  }
  Flush();
  if (n >= kBufferBytes) {
    WriteFd(p, n);
  } else {
    std::memcpy(buf_.get(), p, n);
    used_ = n;
  }
}

void AtomicFile::WriteAt(int64_t offset, const void* data, size_t n) {
  RF_CHECK(seekable());
  RF_CHECK(offset >= 0 && offset + static_cast<int64_t>(n) <= size_);
  if (done_) throw Error(ErrorKind::kIo, name_ + ": write after close");
  Flush();
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = pwrite(fd_, p, n, offset);
    if (w < 0) {
      if (errno == EINTR) continue;
      Fail(errno);
    }
    if (w == 0) Fail(EIO);
    p += w;
    n -= static_cast<size_t>(w);
    offset += w;
  }
}

void AtomicFile::Commit() {
  if (done_) throw Error(ErrorKind::kIo, name_ + ": commit after close");
  Flush();
  if (!own_fd_) {  // stdout stays open for others; its errors surfaced above
    done_ = true;
    return;
  }
  // fsync before rename: after a crash the path holds old or new, never a
  // hole. Devices and pipes may not support it (EINVAL), which is fine.
  if (fsync(fd_) != 0 && !temp_.empty()) Fail(errno);
  int fd = fd_;
  fd_ = -1;
  if (close(fd) != 0 && errno != EINTR) Fail(errno);
  if (!temp_.empty()) {
    if (rename(temp_.c_str(), path_.c_str()) != 0) Fail(errno);
  }
  done_ = true;
}

}  // namespace rowflow
