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

// The registry of pending temp files, for RemovePendingTempFiles. A slot is
// free, busy (one thread or the signal handler owns its bytes) or pending
// (`path` names a temp file). The release store of kPending publishes the
// path to the handler's acquire load; nothing here allocates or locks.
enum SlotState : int { kFree = 0, kBusy = 1, kPending = 2 };
struct PendingSlot {
  std::atomic<int> state{kFree};
  char path[kMaxPendingTempPath];
};
static_assert(std::atomic<int>::is_always_lock_free,
              "the signal handler needs lock-free atomics");
PendingSlot g_pending[kMaxPendingTempFiles];

// Lists `path` as pending; returns its slot, or -1 when it does not fit
// (then only the destructor removes the file, not a signal handler).
int RegisterPending(const std::string& path) {
  if (path.size() >= kMaxPendingTempPath) return -1;
  for (int i = 0; i < kMaxPendingTempFiles; ++i) {
    int expected = kFree;
    if (g_pending[i].state.compare_exchange_strong(expected, kBusy,
                                                   std::memory_order_acquire)) {
      std::memcpy(g_pending[i].path, path.c_str(), path.size() + 1);
      g_pending[i].state.store(kPending, std::memory_order_release);
      return i;
    }
  }
  return -1;
}

// Frees a slot of RegisterPending. When the handler has claimed it (busy),
// it is left alone: the handler is unlinking it and the process is ending.
void UnregisterPending(int slot) {
  if (slot < 0) return;
  int expected = kPending;
  g_pending[slot].state.compare_exchange_strong(expected, kFree,
                                                std::memory_order_release);
}

// Follows `path` through symlinks to the name a rename must replace, so that
// writing through a link writes its target and keeps the link. A relative
// link is read from the link's folder; a dangling link yields its missing
// target (created like any new file). Gives up, as the kernel, after 40
// links (ELOOP); a path lstat cannot see is left to the caller's stat.
std::string ResolveLinks(std::string path, int* err) {
  *err = 0;
  for (int hops = 0;; ++hops) {
    struct stat st;
    if (lstat(path.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return path;
    if (hops == 40) {
      *err = ELOOP;
      return path;
    }
    std::string target(4096, '\0');
    ssize_t n = readlink(path.c_str(), target.data(), target.size());
    if (n < 0 || static_cast<size_t>(n) >= target.size()) {
      *err = n < 0 ? errno : ENAMETOOLONG;
      return path;
    }
    target.resize(static_cast<size_t>(n));
    size_t slash = path.rfind('/');
    if (target.empty() || target[0] == '/' || slash == std::string::npos) {
      path = target;
    } else {
      path = path.substr(0, slash + 1) + target;
    }
  }
}

// The descriptor a path names when it is one of the process's own streams:
// "-" and /dev/stdout are 1, /dev/stderr 2, /dev/fd/N and /proc/self/fd/N
// are N; -1 for any other path. These are written through the descriptor
// the process already has, at its current position: resolving them as
// links would reach a pipe that has no path, or a file the shell opened
// (rename would replace it, and the shell's other output with it).
int OwnStream(const std::string& path) {
  if (path == "-" || path == "/dev/stdout") return STDOUT_FILENO;
  if (path == "/dev/stderr") return STDERR_FILENO;
  for (const std::string_view prefix : {"/dev/fd/", "/proc/self/fd/"}) {
    if (path.size() <= prefix.size() ||
        path.compare(0, prefix.size(), prefix) != 0)
      continue;
    int fd = 0;
    for (size_t i = prefix.size(); i < path.size(); ++i) {
      if (path[i] < '0' || path[i] > '9' || fd > 100000000) return -1;
      fd = fd * 10 + (path[i] - '0');
    }
    return fd;
  }
  return -1;
}

}  // namespace

void RemovePendingTempFiles() noexcept {
  for (PendingSlot& slot : g_pending) {
    int expected = kPending;
    if (slot.state.compare_exchange_strong(expected, kBusy,
                                           std::memory_order_acquire)) {
      unlink(slot.path);  // async-signal-safe; kBusy keeps the slot ours
    }
  }
}

AtomicFile::AtomicFile(const std::string& path)
    : path_(path), name_(path == "-" ? "<stdout>" : path) {
  if (path.empty()) throw MakeError(ErrorKind::kIo, "empty output path");
  if (const int stream = OwnStream(path); stream >= 0) {
    fd_ = stream;
    if (fcntl(fd_, F_GETFD) < 0) Fail(errno);  // not open: EBADF
  } else {
    int link_err = 0;
    target_ = ResolveLinks(path, &link_err);
    if (link_err != 0) Fail(link_err);
    bool keep_mode = false;
    mode_t mode = 0;
    struct stat st;
    if (stat(target_.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) Fail(EISDIR);
      if (!S_ISREG(st.st_mode)) {
        // A device or FIFO: renaming over it would replace the node itself.
        do {
          fd_ = open(target_.c_str(), O_WRONLY | O_CLOEXEC);
        } while (fd_ < 0 && errno == EINTR);
        if (fd_ < 0) Fail(errno);
        own_fd_ = true;
      } else {
        keep_mode = true;
        mode = st.st_mode & 0777;
      }
    } else if (errno != ENOENT) {
      Fail(errno);
    }
    if (fd_ < 0) {
      size_t slash = target_.rfind('/');
      std::string dir =
          slash == std::string::npos ? "" : target_.substr(0, slash + 1);
      std::string base =
          target_.substr(slash == std::string::npos ? 0 : slash + 1);
      if (base.empty()) Fail(EISDIR);
      base.resize(std::min(base.size(), kMaxTempBase));
      for (int attempt = 0; fd_ < 0; ++attempt) {
        temp_ = dir + "." + base + ".rowflow-" + RandomSuffix();
        // Listed before it exists, so that no signal can come between the
        // file appearing and the handler knowing it. (A signal during an
        // O_EXCL clash would unlink the other file of this random name:
        // one chance in 62^6, against a leak on every unlucky signal.)
        slot_ = RegisterPending(temp_);
        // 0666 so the umask applies as for any new file (mkstemp forces 0600).
        fd_ =
            open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd_ < 0) {
          const int err = errno;
          UnregisterPending(slot_);
          slot_ = -1;
          if (!(err == EEXIST || err == EINTR) || attempt > 100) {
            temp_.clear();
            Fail(err);
          }
        }
      }
      own_fd_ = true;
      // The replaced file's permissions, not the umask's: an output kept
      // private (0600, 0640) stays private after a rerun.
      if (keep_mode && fchmod(fd_, mode) != 0) Fail(errno);
    }
  }
  buf_.reset(new char[kBufferBytes]);
}

AtomicFile::~AtomicFile() { Abort(); }

void AtomicFile::Abort() {
  if (own_fd_ && fd_ >= 0) close(fd_);
  fd_ = -1;
  if (!temp_.empty() && !done_) unlink(temp_.c_str());
  UnregisterPending(slot_);
  slot_ = -1;
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
    if (rename(temp_.c_str(), target_.c_str()) != 0) Fail(errno);
    // Only after the rename: a signal in between unlinks a name that is
    // already gone, rather than leaving the temp file behind.
    UnregisterPending(slot_);
    slot_ = -1;
  }
  done_ = true;
}

}  // namespace rowflow
