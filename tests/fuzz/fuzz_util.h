// Shared by the libFuzzer targets in tests/fuzz: the limits every target
// runs under, the check an escaping rowflow::Error must pass, and an
// in-memory file whose path the path-based readers can open.
//
// The rule of every target: for any bytes, the only acceptable outcome
// besides success is a rowflow::Error of the target's kind whose message is
// one non-empty line. Anything else (another exception, std::bad_alloc, a
// sanitizer report, a broken property) aborts and is a finding.
//
// Thread-safety: a target runs one input at a time; so does this.
#ifndef ROWFLOW_TESTS_FUZZ_FUZZ_UTIL_H_
#define ROWFLOW_TESTS_FUZZ_FUZZ_UTIL_H_

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>

#include "graph/error.h"
#include "graph/serialize.h"

namespace rowflow::fuzz {

// libFuzzer runs with -malloc_limit_mb=256 -rss_limit_mb=1024; rowflow's
// own limits sit well below, so an over-large model is refused by rowflow
// before the fuzzer's allocator limit could trip.
inline constexpr int64_t kMaxModelBytes = int64_t{1} << 20;
inline constexpr int64_t kLoadBudgetBytes = int64_t{64} << 20;
// A spec's init {} weights are generated, not read: the budget bounds them.
inline constexpr int64_t kSpecBudgetBytes = int64_t{16} << 20;
// Running multiplies a row's bytes by the tile's rows (and the reference by
// the rows), so the run target's budget is smaller still.
inline constexpr int64_t kRunBudgetBytes = int64_t{8} << 20;

// Prints `what` and the message, then aborts: libFuzzer saves the input.
[[noreturn]] inline void Fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "rowflow fuzz: %s%s%.*s\n", what,
               detail.empty() ? "" : ": ", static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

// The checks an escaping rowflow::Error must pass: the expected kind (never
// kInternal, a bug) and a message of one non-empty line.
// With ROWFLOW_FUZZ_VERBOSE set, each message is printed (to see why seeds
// are refused).
inline void CheckError(const Error& e, ErrorKind want) {
  const std::string_view message = e.what();
  static const bool verbose = std::getenv("ROWFLOW_FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "rowflow fuzz: refused: %s\n", e.what());
  if (e.kind() != want) {
    std::fprintf(stderr, "rowflow fuzz: error kind %s, expected %s\n",
                 ErrorKindName(e.kind()), ErrorKindName(want));
    Fail("unexpected error kind", message);
  }
  if (message.empty()) Fail("empty error message");
  if (message.find('\n') != std::string_view::npos)
    Fail("multi-line error message", message);
}

// The load options of the model targets.
inline LoadOptions FuzzLoadOptions(int64_t budget) {
  LoadOptions options;
  options.max_file_bytes = kMaxModelBytes;
  options.validate.memory_budget_bytes = budget;
  return options;
}

// An anonymous in-memory file (memfd) reachable by path, reused for every
// input: the row readers take a path, and a path under /proc/self/fd opens
// a fresh read position on each open.
class MemFile {
 public:
  MemFile() : fd_(memfd_create("rowflow-fuzz", MFD_CLOEXEC)) {
    if (fd_ < 0) Fail("memfd_create failed");
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemFile() { close(fd_); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;

  // Replaces the file's contents with `bytes`; returns its path.
  const std::string& Set(std::string_view bytes) {
    if (ftruncate(fd_, 0) != 0) Fail("ftruncate failed");
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = pwrite(fd_, bytes.data() + done, bytes.size() - done,
                               static_cast<off_t>(done));
      if (n <= 0) Fail("pwrite failed");
      done += static_cast<size_t>(n);
    }
    return path_;
  }

 private:
  int fd_;
  std::string path_;
};

// A scratch folder for the sinks' output files, made once per process and
// removed at exit; in /dev/shm when there is one, where the sinks' fsync
// costs nothing.
inline const std::string& ScratchDir() {
  static const std::string dir = [] {
    std::error_code ec;
    const std::filesystem::path base =
        std::filesystem::is_directory("/dev/shm", ec)
            ? std::filesystem::path("/dev/shm")
            : std::filesystem::temp_directory_path();
    std::string tmpl = (base / "rowflow-fuzz-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) Fail("mkdtemp failed");
    return tmpl;
  }();
  static const bool cleanup_registered = [] {
    return std::atexit([] {
             std::error_code ignored;
             std::filesystem::remove_all(dir, ignored);
           }) == 0;
  }();
  (void)cleanup_registered;
  return dir;
}

}  // namespace rowflow::fuzz

#endif  // ROWFLOW_TESTS_FUZZ_FUZZ_UTIL_H_
