// AtomicFile writes an output file so that it appears complete or not at all:
// bytes go to a temp file in the same folder (".<name>.rowflow-XXXXXX"),
// which Commit() renames onto the final path; without Commit() the destructor
// removes it. Every write, flush, sync, close and rename is checked and a
// failure throws Error(kIo) "<path>: <strerror>".
//
// A path that is a symlink is resolved first: the temp file goes into the
// target's folder and is renamed onto the target, so the link stays a link.
// Replacing an existing regular file keeps its permission bits (0777 part);
// a new file gets 0666 & ~umask.
//
// "-" means stdout; /dev/stdout, /dev/stderr, /dev/fd/N and /proc/self/fd/N
// are written through the process's own descriptor, at its position, as a
// shell's redirection expects. A path that already exists as something other
// than a regular file (/dev/null, /dev/full, a FIFO) is written in place.
// Both have no temp file and no rename, so partial output cannot be
// prevented there, but errors are still checked. A closed pipe throws
// BrokenPipeError (EPIPE shows up only when SIGPIPE is ignored; the CLI decides
// that policy).
//
// Every pending temp file is also listed in a process-wide registry so that
// a signal handler can remove it (RemovePendingTempFiles).
//
// Thread-safety: one thread at a time per object; the registry is safe to
// use from any thread and from signal handlers.
#ifndef ROWFLOW_GRAPH_ATOMIC_FILE_H_
#define ROWFLOW_GRAPH_ATOMIC_FILE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "graph/error.h"

namespace rowflow {

// Error(kIo) thrown when the reader of a pipe went away (EPIPE), e.g.
// `rowflow run ... | head -1`; callers may treat it as a normal end.
class BrokenPipeError : public Error {
 public:
  explicit BrokenPipeError(const std::string& path)
      : Error(ErrorKind::kIo, path + ": reader closed the pipe (EPIPE)") {}
};

// Unlinks the temp file of every AtomicFile not yet committed or aborted.
// Async-signal-safe (no allocation, no locks): meant for a handler of a
// fatal signal (SIGINT, SIGTERM, ...) just before the process dies, since
// destructors do not run then. The registry holds kMaxPendingTempFiles paths
// of up to kMaxPendingTempPath bytes; temp files beyond that still work but
// are not removed by this call.
void RemovePendingTempFiles() noexcept;
inline constexpr int kMaxPendingTempFiles = 64;
inline constexpr size_t kMaxPendingTempPath = 4096;

class AtomicFile {
 public:
  // Opens `path` for writing ("-" = stdout); throws Error(kIo) when the temp
  // file cannot be created (missing folder, no permission, a directory).
  explicit AtomicFile(const std::string& path);

  // Removes the temp file unless Commit() succeeded.
  ~AtomicFile();

  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Appends `n` bytes (buffered).
  void Write(const void* data, size_t n);

  // Overwrites `n` bytes at `offset` of what was written so far (e.g. a
  // header whose contents are known only at the end); requires seekable().
  void WriteAt(int64_t offset, const void* data, size_t n);

  // Whether WriteAt() is available: false for stdout, devices and pipes.
  bool seekable() const { return temp_.size() > 0; }

  // Bytes written so far.
  int64_t size() const { return size_; }

  // Flushes, syncs and closes, then renames the temp file onto the path. On
  // failure throws Error(kIo) and the temp file is removed.
  void Commit();

  // Drops everything written (removes the temp file); idempotent.
  void Abort();

  // Writes the buffered bytes through now: a stream's reader (a pipe)
  // sees them before the output ends.
  void Flush();

  // The final path as given ("-" for stdout).
  const std::string& path() const { return path_; }

  // The name used in messages ("<stdout>" for "-").
  const std::string& display_name() const { return name_; }

  // The temp file's path ("" when writing in place), for other processes
  // that write parts of it (mpirun) before Commit().
  const std::string& temp_path() const { return temp_; }

 private:
  void WriteFd(const char* data, size_t n);
  [[noreturn]] void Fail(int err);

  std::string path_;
  std::string name_;
  std::string target_;  // what Commit() renames onto: path_, links resolved
  std::string temp_;    // empty when writing in place
  int slot_ = -1;       // registry slot of temp_, -1 when none
  int fd_ = -1;
  bool own_fd_ = false;
  bool done_ = false;
  int64_t size_ = 0;
  std::unique_ptr<char[]> buf_;
  size_t used_ = 0;
};

}  // namespace rowflow

#endif  // ROWFLOW_GRAPH_ATOMIC_FILE_H_
