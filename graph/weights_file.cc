#include "graph/weights_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <system_error>
#include <utility>

#include "graph/error.h"
#include "graph/text.h"

namespace rowflow {
namespace {

std::string ErrnoText(int err) {
  return std::error_code(err, std::generic_category()).message();
}

// The canonical absolute path of `path`, or "" with errno set.
std::string RealPath(const std::string& path) {
  std::unique_ptr<char, decltype(&std::free)> real(
      ::realpath(path.c_str(), nullptr), &std::free);
  return real ? std::string(real.get()) : std::string();
}

bool IsInside(const std::string& root, const std::string& path) {
  if (root == "/") return true;
  return path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
         path[root.size()] == '/';
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string ReadFromFolder(const std::string& dir, const std::string& path,
                           int64_t max_bytes) {
  const std::string shown = EscapeForMessage(path);
  const std::string folder = dir.empty() ? "." : dir;
  const std::string root = RealPath(folder);
  if (root.empty()) {
    Fail("{}: cannot resolve the spec's folder '{}': {}", shown,
         EscapeForMessage(folder), ErrnoText(errno));
  }
  const std::string real = RealPath(folder + "/" + path);
  if (real.empty()) Fail("{}: cannot open: {}", shown, ErrnoText(errno));
  if (!IsInside(root, real)) {
    Fail(
        "{}: resolves to '{}', outside the spec's folder '{}'; expected a "
        "file inside it",
        shown, EscapeForMessage(real), EscapeForMessage(root));
  }
  // O_NOFOLLOW: the checked path has no symlinks left, so one appearing
  // after the check is refused.
  return ReadRegularFile(real, shown, max_bytes, /*no_follow=*/true);
}

}  // namespace

std::string ReadRegularFile(const std::string& path, const std::string& shown,
                            int64_t max_bytes, bool no_follow) {
  // O_NONBLOCK: opening a FIFO without a writer cannot hang.
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK |
                                 (no_follow ? O_NOFOLLOW : 0)));
  if (fd.get() < 0) Fail("{}: cannot open: {}", shown, ErrnoText(errno));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) {
    Fail("{}: cannot stat: {}", shown, ErrnoText(errno));
  }
  if (S_ISDIR(st.st_mode)) Fail("{}: is a directory; expected a file", shown);
  if (!S_ISREG(st.st_mode)) Fail("{}: not a regular file", shown);
  if (st.st_size > max_bytes) {
    Fail("{}: file is {} bytes; expected at most {}", shown, st.st_size,
         max_bytes);
  }
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::read(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) Fail("{}: cannot read: {}", shown, ErrnoText(errno));
    if (n == 0) break;  // shrank since fstat: decoding reports the shortfall
    done += static_cast<size_t>(n);
  }
  bytes.resize(done);
  return bytes;
}

void CheckWeightPath(const std::string& path) {
  if (path.empty()) {
    Fail("empty path; expected a file relative to the spec's folder");
  }
  const std::string shown = EscapeForMessage(path);
  if (path.find('\0') != std::string::npos) {
    Fail("{}: path contains a NUL byte", shown);
  }
  if (path.size() >= PATH_MAX) {
    Fail("{}...: path is {} bytes; expected under {}", shown.substr(0, 40),
         path.size(), PATH_MAX);
  }
  if (path.front() == '/') {
    Fail("{}: absolute path; expected a path relative to the spec's folder",
         shown);
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = std::min(path.find('/', start), path.size());
    if (path.compare(start, end - start, "..") == 0) {
      Fail(
          "{}: path has a '..' component; expected a path inside the "
          "spec's folder",
          shown);
    }
    start = end + 1;
  }
}

WeightFileReader FolderWeightReader(const std::string& dir) {
  return [dir](const std::string& path, int64_t max_bytes) {
    return ReadFromFolder(dir, path, max_bytes);
  };
}

WeightFileReader MemoryWeightReader(std::map<std::string, std::string> files) {
  return [files = std::move(files)](const std::string& path,
                                    int64_t max_bytes) {
    auto it = files.find(path);
    if (it == files.end()) {
      Fail("{}: cannot open: {}", EscapeForMessage(path), ErrnoText(ENOENT));
    }
    if (static_cast<int64_t>(it->second.size()) > max_bytes) {
      Fail("{}: file is {} bytes; expected at most {} for the declared shape",
           EscapeForMessage(path), it->second.size(), max_bytes);
    }
    return it->second;
  };
}

int64_t WeightFileByteBound(std::string_view format, int64_t count) {
  // npy: the largest header numpy reads plus 8 bytes a value. csv: 64 bytes
  // a value is far more than "%.18e," needs, so only hostile or mistaken
  // files are refused by the bound.
  const int64_t per_value = format == "npy" ? 8 : 64;
  const int64_t fixed = format == "npy" ? 10000 + 16 : 4096;
  if (count > (kMaxWeightFileBytes - fixed) / per_value) {
    return kMaxWeightFileBytes;
  }
  return fixed + count * per_value;
}

}  // namespace rowflow
