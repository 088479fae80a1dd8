// rowflow run under mpirun: parts in, one atomic file out (see mpi_run.h).
#include "tools/cli/mpi_run.h"

#include <fcntl.h>
#include <mpi.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "graph/atomic_file.h"
#include "graph/error.h"
#include "graph/npy_format.h"
#include "runtime/compress.h"
#include "runtime/input_file.h"
#include "runtime/row_check.h"
#include "runtime/row_io.h"
#include "runtime/session.h"
#include "tools/cli/cli_util.h"
#include "tools/cli/progress_line.h"
#include "tools/cli/run_parallel.h"

namespace rowflow::cli {
namespace {

constexpr int kAbortTag = 7;
constexpr size_t kCopyChunk = size_t{4} << 20;

struct World {
  int rank = 0;
  int size = 1;
  int thread_level = MPI_THREAD_SINGLE;
};

// MPI_Init_thread ... MPI_Finalize around one run, also when it throws.
class MpiScope {
 public:
  MpiScope() {
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED,
                    &world_.thread_level);
    MPI_Comm_rank(MPI_COMM_WORLD, &world_.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world_.size);
  }
  ~MpiScope() { MPI_Finalize(); }
  MpiScope(const MpiScope&) = delete;
  MpiScope& operator=(const MpiScope&) = delete;

  const World& world() const { return world_; }

 private:
  World world_;
};

ErrorKind KindOf(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const Error& e) {
    return e.kind();
  } catch (...) {
    return ErrorKind::kInternal;
  }
}

// After a step every rank takes: returns when no rank failed; else throws
// on every rank, the reporting rank its own error and the others
// ReportedElsewhere of the same kind (one message, one exit code). The
// reporting rank is the first in rank order, preferring a rank's own error
// to a stop it was asked for (`stopped`: interrupted by a peer's abort).
void Agree(const World& w, const std::exception_ptr& error,
           bool stopped = false) {
  const int mine = !error ? 2 * w.size : (stopped ? w.size + w.rank : w.rank);
  int best = 0;
  MPI_Allreduce(&mine, &best, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (best == 2 * w.size) return;
  const int who = best % w.size;
  int kind = w.rank == who ? static_cast<int>(KindOf(error)) : 0;
  MPI_Bcast(&kind, 1, MPI_INT, who, MPI_COMM_WORLD);
  if (w.rank == who) std::rethrow_exception(error);
  throw ReportedElsewhere(static_cast<ErrorKind>(kind));
}

// main()'s line for `error`, printed by the reporting rank before the
// others may exit.
void PrintError(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "rowflow: error: out of memory\n");
  } catch (const Error& e) {
    std::fprintf(stderr, "rowflow: error: %s\n", e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rowflow: error: internal: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "rowflow: error: internal: unknown exception\n");
  }
  std::fflush(stderr);
}

// Runs `step` on every rank, then Agree.
template <typename F>
void Step(const World& w, F&& step) {
  std::exception_ptr error;
  try {
    step();
  } catch (...) {
    error = std::current_exception();
  }
  Agree(w, error);
}

[[noreturn]] void ThrowErrno(ErrorKind kind, const std::string& name, int err) {
  char buf[256];
  throw Error(kind, name + ": " + strerror_r(err, buf, sizeof(buf)));
}

[[noreturn]] void ThrowMpi(const std::string& name, const char* what,
                           int code) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  throw MakeError(ErrorKind::kIo, "{}: {}: {}", name, what,
                  std::string(text, static_cast<size_t>(len)));
}

// --- Input parts ---

// The first line start at or after `offset` in a file of `size` bytes: 0
// for 0, else just after the first '\n' at offset - 1 or later. A line
// longer than `max_line` is cut (its part reports it as too long).
int64_t LineStartAtOrAfter(int fd, int64_t offset, int64_t size,
                           int64_t max_line, const std::string& name) {
  if (offset <= 0) return 0;
  char buf[1 << 16];
  for (int64_t at = offset - 1; at < size;) {
    if (at > offset + max_line + 2) return at;
    const ssize_t r = pread(fd, buf,
                            static_cast<size_t>(std::min<int64_t>(
                                static_cast<int64_t>(sizeof(buf)), size - at)),
                            static_cast<off_t>(at));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) ThrowErrno(ErrorKind::kInput, name, errno);
    if (r == 0) break;
    const char* nl = static_cast<const char*>(
        std::memchr(buf, '\n', static_cast<size_t>(r)));
    if (nl != nullptr) return at + (nl - buf) + 1;
    at += r;
  }
  return size;
}

// What a CSV part holds, from one pass over its bytes before the run: its
// newlines (for the global line numbers of later parts) and its lines that
// would be records (for the global row numbers of later parts, and for
// empty lines at the end of earlier parts). A line is a record unless it
// is empty, only '\r' (and with skip_blank blanks) or starts with the
// comment character.
struct PartScan {
  int64_t newlines = 0;
  int64_t record_lines = 0;
};

PartScan ScanPart(int fd, int64_t begin, int64_t end, const CsvOptions& csv,
                  const std::string& name) {
  PartScan scan;
  std::unique_ptr<char[]> buf(new char[kCopyChunk]);
  // Per line: open until its first byte that is not '\r' or a skipped
  // blank, which decides it; then on to the next '\n'.
  bool line_start = true, decided = false;
  for (int64_t at = begin; at < end;) {
    const ssize_t r = pread(fd, buf.get(),
                            static_cast<size_t>(std::min<int64_t>(
                                static_cast<int64_t>(kCopyChunk), end - at)),
                            static_cast<off_t>(at));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) ThrowErrno(ErrorKind::kInput, name, errno);
    if (r == 0) break;
    const char* p = buf.get();
    const char* const stop = p + r;
    while (p < stop) {
      if (decided) {
        const char* nl = static_cast<const char*>(
            std::memchr(p, '\n', static_cast<size_t>(stop - p)));
        if (nl == nullptr) break;
        ++scan.newlines;
        p = nl + 1;
        decided = false;
        line_start = true;
        continue;
      }
      const char c = *p++;
      if (c == '\n') {
        ++scan.newlines;
        line_start = true;
        continue;
      }
      const bool first = line_start;
      line_start = false;
      if (first && csv.comment != '\0' && c == csv.comment) {
        decided = true;
      } else if (c != '\r' && !(csv.skip_blank && (c == ' ' || c == '\t'))) {
        ++scan.record_lines;
        decided = true;
      }
    }
    at += r;
  }
  return scan;
}

// The CSV part of rank w.rank: lines starting in [S*r/N, S*(r+1)/N), the
// first line always rank 0's.
struct CsvRange {
  int64_t begin = 0, end = 0;
};

CsvRange CsvRangeOf(const World& w, int fd, const CsvOptions& csv,
                    const std::string& name) {
  struct stat st;
  if (fstat(fd, &st) != 0) ThrowErrno(ErrorKind::kInput, name, errno);
  const int64_t size = static_cast<int64_t>(st.st_size);
  auto edge = [&](int r) -> int64_t {
    if (r == 0) return 0;
    if (r == w.size) return size;
    const auto at =
        static_cast<int64_t>(static_cast<__int128>(size) * r / w.size);
    return LineStartAtOrAfter(fd, std::max<int64_t>(1, at), size,
                              csv.max_line_bytes, name);
  };
  return {edge(w.rank), edge(w.rank + 1)};
}

// --- Stopping the other ranks ---

// A rank that fails tells every other rank on a communicator of its own;
// each polls for it once per tile and then cancels its run.
class PeerAbort {
 public:
  explicit PeerAbort(const World& w) : w_(w) {
    MPI_Comm_dup(MPI_COMM_WORLD, &comm_);
    MPI_Irecv(&in_, 1, MPI_INT, MPI_ANY_SOURCE, kAbortTag, comm_, &recv_);
  }
  ~PeerAbort() { MPI_Comm_free(&comm_); }
  PeerAbort(const PeerAbort&) = delete;
  PeerAbort& operator=(const PeerAbort&) = delete;

  // Whether another rank failed; from the tile-draining thread.
  bool Heard() {
    if (!heard_) {
      int flag = 0;
      MPI_Test(&recv_, &flag, MPI_STATUS_IGNORE);
      heard_ = flag != 0;
    }
    return heard_;
  }

  // Tells every other rank to stop.
  void Tell() {
    told_ = true;
    for (int r = 0; r < w_.size; ++r) {
      if (r == w_.rank) continue;
      sends_.emplace_back();
      MPI_Isend(&out_, 1, MPI_INT, r, kAbortTag, comm_, &sends_.back());
    }
  }

  // Every rank, after its run: takes in every message sent to it, so that
  // none is left pending at MPI_Finalize.
  void Finish() {
    int told = told_ ? 1 : 0, tellers = 0;
    MPI_Allreduce(&told, &tellers, 1, MPI_INT, MPI_SUM, comm_);
    const int expected = tellers - told;
    if (expected == 0) {
      MPI_Cancel(&recv_);
      MPI_Wait(&recv_, MPI_STATUS_IGNORE);
    } else {
      MPI_Wait(&recv_, MPI_STATUS_IGNORE);
      for (int i = 1; i < expected; ++i) {
        MPI_Recv(&in_, 1, MPI_INT, MPI_ANY_SOURCE, kAbortTag, comm_,
                 MPI_STATUS_IGNORE);
      }
    }
    MPI_Waitall(static_cast<int>(sends_.size()), sends_.data(),
                MPI_STATUSES_IGNORE);
  }

 private:
  World w_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  MPI_Request recv_ = MPI_REQUEST_NULL;
  std::vector<MPI_Request> sends_;
  int in_ = 0, out_ = 1;
  bool heard_ = false, told_ = false;
};

// --- Output ---

// Removes rank 0's temp file when rank 0 ends without finishing it, however
// it ends, SIGKILL included. When a rank dies, mpirun (Open MPI 4.1) sends
// every other rank SIGCONT, then SIGTERM a second later, then SIGKILL after
// a sleep(1) that the first rank's exit cuts short (SIGCHLD): rank 0's
// SIGTERM handler (main.cc) gets milliseconds, and under load it did not
// run. So a detached process of its own session (mpirun signals the rank's
// process group, not it) waits on a pipe whose write end only rank 0 holds:
// end of file without the disarm byte means rank 0 is gone, and it unlinks
// the path (a no-op after the rename). It acts once rank 0's descriptors
// are closed, which may be just after mpirun returned. Not covered: a
// launcher that kills by cgroup (srun) takes the watcher too; then only the
// SIGTERM handler is left.
class TempReaper {
 public:
  explicit TempReaper(const std::string& path) {
    if (path.empty() || path.size() >= sizeof(path_)) return;
    std::memcpy(path_, path.c_str(), path.size() + 1);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return;  // left to the handler
    const pid_t child = fork();
    if (child == 0) Watch(fds[0]);  // never returns
    close(fds[0]);
    if (child < 0) {
      close(fds[1]);
      return;
    }
    fd_ = fds[1];
    // The child only forks the watcher and exits: no zombie, no SIGCHLD
    // later.
    while (waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  // Closing the pipe without Disarm(): the watcher unlinks the path.
  ~TempReaper() {
    if (fd_ >= 0) close(fd_);
  }
  TempReaper(const TempReaper&) = delete;
  TempReaper& operator=(const TempReaper&) = delete;

  // After the rename: the watcher exits and leaves the name alone.
  void Disarm() {
    if (fd_ < 0) return;
    const char done = 'd';
    while (write(fd_, &done, 1) < 0 && errno == EINTR) {
    }
    close(fd_);
    fd_ = -1;
  }

 private:
  // In the forked child of a threaded process: async-signal-safe calls only.
  [[noreturn]] void Watch(int in) {
    if (fork() != 0) _exit(0);  // the watcher is the grandchild, orphaned
    setsid();
    struct sigaction ignore = {};
    ignore.sa_handler = SIG_IGN;
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT})
      sigaction(sig, &ignore, nullptr);
    // Nothing of the rank's kept open (its MPI sockets, stdout to mpirun,
    // the pipe's write end): only the read end, as fd 3, and /dev/null.
    if (in != 3) {
      dup2(in, 3);
      in = 3;
    }
    const int null = open("/dev/null", O_RDWR);
    for (int fd = 0; fd < 3 && null >= 0; ++fd) dup2(null, fd);
    if (close_range(4, ~0U, 0) != 0) {
      struct rlimit limit;
      const rlim_t top =
          getrlimit(RLIMIT_NOFILE, &limit) == 0 ? limit.rlim_cur : 1024;
      for (rlim_t fd = 4; fd < top && fd < (1 << 20); ++fd)
        close(static_cast<int>(fd));
    }
    char byte = 0;
    ssize_t r;
    do {
      r = read(in, &byte, 1);
    } while (r < 0 && errno == EINTR);
    if (r != 1) unlink(path_);
    _exit(0);
  }

  char path_[4096] = {};
  int fd_ = -1;
};

// The output file, opened by every rank on rank 0's temp file; closed
// (collectively) before rank 0 renames it.
class SharedFile {
 public:
  SharedFile(const std::string& temp, const std::string& name) : name_(name) {
    const int rc = MPI_File_open(MPI_COMM_WORLD, temp.c_str(), MPI_MODE_WRONLY,
                                 MPI_INFO_NULL, &fh_);
    if (rc != MPI_SUCCESS) {
      fh_ = MPI_FILE_NULL;
      ThrowMpi(name_, "MPI_File_open", rc);
    }
  }
  ~SharedFile() {
    if (fh_ != MPI_FILE_NULL) MPI_File_close(&fh_);
  }
  SharedFile(const SharedFile&) = delete;
  SharedFile& operator=(const SharedFile&) = delete;

  void WriteAt(int64_t offset, const void* data, size_t bytes) {
    const char* p = static_cast<const char*>(data);
    while (bytes > 0) {
      const int n = static_cast<int>(std::min<size_t>(bytes, 1 << 30));
      MPI_Status status;
      const int rc = MPI_File_write_at(fh_, offset, p, n, MPI_BYTE, &status);
      if (rc != MPI_SUCCESS) ThrowMpi(name_, "MPI_File_write_at", rc);
      int done = 0;
      MPI_Get_count(&status, MPI_BYTE, &done);
      if (done <= 0) ThrowErrno(ErrorKind::kIo, name_, EIO);
      p += done;
      offset += done;
      bytes -= static_cast<size_t>(done);
    }
  }

  // Collective: every rank calls it once.
  void Close() {
    const int rc = MPI_File_close(&fh_);
    fh_ = MPI_FILE_NULL;
    if (rc != MPI_SUCCESS) ThrowMpi(name_, "MPI_File_close", rc);
  }

 private:
  std::string name_;
  MPI_File fh_ = MPI_FILE_NULL;
};

// .npy rows written at their final offsets as they come (the row count is
// the input's, known before the run).
template <typename T>
class SharedNpySink final : public RowSink<T> {
 public:
  SharedNpySink(SharedFile& file, int64_t cols, int64_t first_row)
      : file_(file),
        row_bytes_(cols * static_cast<int64_t>(sizeof(T))),
        at_(kNpyWrittenHeaderBytes + first_row * row_bytes_) {}

  void Write(const T* rows, int64_t n) override {
    file_.WriteAt(at_, rows, static_cast<size_t>(n * row_bytes_));
    at_ += n * row_bytes_;
  }
  void Commit() override {}

 private:
  SharedFile& file_;
  int64_t row_bytes_;
  int64_t at_;
};

// A file no one else can see, in the output's folder where possible (its
// size is the output's share), gone when closed or when the process dies.
class Spool {
 public:
  explicit Spool(const std::string& output) {
    const size_t slash = output.rfind('/');
    const std::string dir =
        slash == std::string::npos ? "." : output.substr(0, slash + 1);
    fd_ = open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd_ < 0) {
      file_ = std::tmpfile();
      if (file_ == nullptr)
        ThrowErrno(ErrorKind::kIo, output + ": temporary spool file", errno);
      fd_ = fileno(file_);
    }
  }
  ~Spool() {
    if (file_ != nullptr) {
      std::fclose(file_);
    } else if (fd_ >= 0) {
      close(fd_);
    }
  }
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  int fd() const { return fd_; }
  std::string path() const { return "/dev/fd/" + std::to_string(fd_); }

 private:
  int fd_ = -1;
  std::FILE* file_ = nullptr;
};

// .npy data rows of a CSV input, spooled raw (the header comes with the
// total row count, at the end).
template <typename T>
class RawSpoolSink final : public RowSink<T> {
 public:
  RawSpoolSink(int fd, int64_t cols, std::string name)
      : fd_(fd), cols_(cols), name_(std::move(name)) {}

  void Write(const T* rows, int64_t n) override {
    const char* p = reinterpret_cast<const char*>(rows);
    size_t left = static_cast<size_t>(n * cols_) * sizeof(T);
    while (left > 0) {
      const ssize_t w = write(fd_, p, left);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) ThrowErrno(ErrorKind::kIo, name_ + ": spool", errno);
      p += w;
      left -= static_cast<size_t>(w);
    }
  }
  void Commit() override {}

 private:
  int fd_;
  int64_t cols_;
  std::string name_;
};

// Copies `bytes` of the spool to the shared file at `offset`.
void PlaceSpool(int fd, int64_t bytes, SharedFile& file, int64_t offset,
                const std::string& name) {
  std::unique_ptr<char[]> buf(new char[kCopyChunk]);
  for (int64_t at = 0; at < bytes;) {
    const ssize_t r = pread(fd, buf.get(),
                            static_cast<size_t>(std::min<int64_t>(
                                static_cast<int64_t>(kCopyChunk), bytes - at)),
                            static_cast<off_t>(at));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0)
      ThrowErrno(ErrorKind::kIo, name + ": spool", r < 0 ? errno : EIO);
    file.WriteAt(offset + at, buf.get(), static_cast<size_t>(r));
    at += r;
  }
}

// Threads per rank when --threads is not given: the cores this process may
// run on, shared evenly by the ranks on this node.
int DefaultThreads() {
  MPI_Comm local;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL,
                      &local);
  int local_ranks = 1;
  MPI_Comm_size(local, &local_ranks);
  MPI_Comm_free(&local);
  int cores = static_cast<int>(std::thread::hardware_concurrency());
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0)
    cores = std::min(cores, CPU_COUNT(&set) * local_ranks);
  return std::clamp(cores / std::max(1, local_ranks), 1, kMaxThreads);
}

template <typename T>
void RunRanks(const ir::Graph& graph, const RunFileOptions& a, bool quiet,
              const World& w) {
  const auto start = std::chrono::steady_clock::now();
  const int threads =
      a.threads > 0 ? static_cast<int>(a.threads) : DefaultThreads();
  RunFormats f;
  CsvRange range;
  PartScan scan;
  Step(w, [&] {
    if (w.thread_level < MPI_THREAD_SERIALIZED) {
      throw MakeError(ErrorKind::kInternal,
                      "this MPI gives thread level {}; rowflow needs "
                      "MPI_THREAD_SERIALIZED",
                      w.thread_level);
    }
    f = PlanRunFormats(graph, a);
    if (a.input == "-" || a.output == "-") {
      throw MakeError(ErrorKind::kUsage,
                      "{} under mpirun: each rank reads and writes its part "
                      "of a file at its offset; give file paths",
                      a.input == "-" ? "-i -" : "-o -");
    }
    if (StripCompressionSuffix(a.output) != a.output) {
      throw MakeError(ErrorKind::kUsage,
                      "{}: compressed output under mpirun is not supported "
                      "(ranks write at offsets); write {} and compress it "
                      "after",
                      a.output, StripCompressionSuffix(a.output));
    }
    InputFile probe(a.input, f.npy_in);
    if (probe.compression() != Compression::kNone) {
      throw MakeError(ErrorKind::kUsage,
                      "{}: compressed input cannot be read in parts under "
                      "mpirun (a gzip/zstd stream has no offsets); decompress "
                      "it first, or run without mpirun",
                      a.input);
    }
    if (f.npy_in) return;
    const int fd = open(a.input.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) ThrowErrno(ErrorKind::kInput, a.input, errno);
    struct Closer {
      int fd;
      ~Closer() { close(fd); }
    } closer{fd};
    range = CsvRangeOf(w, fd, f.csv, a.input);
    scan = ScanPart(fd, range.begin, range.end, f.csv, a.input);
  });

  // Global line numbers: the newlines of the parts before this one.
  int64_t lines_before = 0;
  MPI_Exscan(&scan.newlines, &lines_before, 1, MPI_INT64_T, MPI_SUM,
             MPI_COMM_WORLD);
  if (w.rank == 0) lines_before = 0;
  // Global row numbers: the records of the parts before this one, less
  // the header line (rank 0's first record line).
  int64_t rows_before = 0;
  MPI_Exscan(&scan.record_lines, &rows_before, 1, MPI_INT64_T, MPI_SUM,
             MPI_COMM_WORLD);
  if (w.rank == 0) rows_before = 0;
  if (w.rank > 0 && a.header)
    rows_before = std::max<int64_t>(0, rows_before - 1);
  std::vector<int> records(static_cast<size_t>(w.size));
  int my_records = scan.record_lines > 0 ? 1 : 0;
  MPI_Allgather(&my_records, 1, MPI_INT, records.data(), 1, MPI_INT,
                MPI_COMM_WORLD);

  std::unique_ptr<RowSource<T>> source;
  NpyPart npy_part{w.rank, w.size};
  std::unique_ptr<AtomicFile> out;     // rank 0's: the temp file, then the path
  std::unique_ptr<TempReaper> reaper;  // rank 0's: removes it if rank 0 dies
  Step(w, [&] {
    if (f.npy_in) {
      source = OpenNpySource<T>(a.input, graph.InputWidth(), &npy_part);
    } else {
      auto part = std::make_shared<CsvPart>();
      part->begin = range.begin;
      part->end = range.end;
      part->lines_before = lines_before;
      part->data_after = std::any_of(records.begin() + w.rank + 1,
                                     records.end(), [](int r) { return r; });
      f.csv.part = part;
      source = OpenCsvSource<T>(a.input, graph.InputWidth(), f.csv);
    }
    if (w.rank == 0) {
      out = std::make_unique<AtomicFile>(a.output);
      reaper = std::make_unique<TempReaper>(out->temp_path());
      if (!out->seekable()) {
        throw MakeError(ErrorKind::kUsage,
                        "{}: under mpirun the output must be a regular file "
                        "(the ranks write it at offsets)",
                        a.output);
      }
    }
  });

  std::string temp = w.rank == 0 ? out->temp_path() : std::string();
  int temp_bytes = static_cast<int>(temp.size());
  MPI_Bcast(&temp_bytes, 1, MPI_INT, 0, MPI_COMM_WORLD);
  temp.resize(static_cast<size_t>(temp_bytes));
  MPI_Bcast(temp.data(), temp_bytes, MPI_CHAR, 0, MPI_COMM_WORLD);

  std::unique_ptr<SharedFile> shared;
  std::unique_ptr<Spool> spool;
  std::unique_ptr<RowSink<T>> sink;
  std::unique_ptr<Session> session;
  const bool direct = f.npy_in && f.npy_out;
  Step(w, [&] {
    shared = std::make_unique<SharedFile>(temp, a.output);
    if (direct) {
      if (w.rank == 0) {
        const std::string header = FormatNpyHeader(
            sizeof(T), npy_part.total_rows, graph.OutputWidth());
        shared->WriteAt(0, header.data(), header.size());
      }
      sink = std::make_unique<SharedNpySink<T>>(*shared, graph.OutputWidth(),
                                                npy_part.first_row);
    } else {
      spool = std::make_unique<Spool>(a.output);
      if (f.npy_out) {
        sink = std::make_unique<RawSpoolSink<T>>(spool->fd(),
                                                 graph.OutputWidth(), a.output);
      } else {
        CsvSinkOptions options;
        options.pass_through = f.csv.pass_through;
        if (w.rank == 0) options.header = f.SinkHeader(graph, a);
        sink = OpenCsvSink<T>(spool->path(), graph.OutputWidth(), options);
      }
    }
    SessionOptions options;
    options.threads = threads;
    options.tile_rows = a.tile_rows;
    options.stage_hook = TestFaultHook();
    session = std::make_unique<Session>(graph, options);
  });

  // The run: every rank its part; a failing one stops the others.
  PeerAbort abort(w);
  std::atomic<bool> stop{false};
  const char* kill_rank = std::getenv("ROWFLOW_TEST_MPI_KILL_RANK");
  const bool kill_me = kill_rank != nullptr && std::atoi(kill_rank) == w.rank;
  double fraction = -1;
  ProgressLine progress(w.rank == 0 && !quiet && isatty(STDERR_FILENO),
                        [&fraction] { return fraction; });
  RunControl control;
  control.cancel = &stop;
  control.first_row = f.npy_in ? npy_part.first_row : rows_before;
  control.progress = [&](int64_t rows) {
    // Test hook: a rank dying mid-run, after its first tile is written.
    if (kill_me) raise(SIGKILL);
    if (abort.Heard()) stop.store(true);
    if (w.rank == 0) {
      fraction = source->progress();
      progress.Update(rows * w.size);  // rank 0's share, scaled: an estimate
    }
  };
  // As one process names them: from the global row (its line is taken as
  // row + 1, + 1 after a header line, as cmd_run.cc's locator does).
  RowLocator where{a.input, !f.npy_in, a.header && !f.npy_in,
                   control.first_row};
  std::exception_ptr error;
  bool stopped = false;
  try {
    if (a.check_finite) {
      FiniteCheckSource<T> checked_source(*source, where);
      FiniteCheckSink<T> checked_sink(*sink, graph.OutputWidth(), where,
                                      checked_source.row_lines());
      session->Run<T>(checked_source, checked_sink, control);
    } else {
      session->Run<T>(*source, *sink, control);
    }
  } catch (...) {
    error = std::current_exception();
    stopped = stop.load() && KindOf(error) == ErrorKind::kInterrupted;
  }
  progress.Clear();
  if (error && !stopped) abort.Tell();
  abort.Finish();
  Agree(w, error, stopped);

  // The spools into place, at offsets from the sizes before them.
  int64_t rows = session->last_run().rows, total_rows = 0;
  MPI_Allreduce(&rows, &total_rows, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
  int64_t spool_bytes = 0, offset = 0;
  Step(w, [&] {
    if (spool == nullptr) return;
    sink.reset();  // flushed by its Commit in Run
    const off_t end = lseek(spool->fd(), 0, SEEK_END);
    if (end < 0) ThrowErrno(ErrorKind::kIo, a.output + ": spool", errno);
    spool_bytes = static_cast<int64_t>(end);
  });
  MPI_Exscan(&spool_bytes, &offset, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
  if (w.rank == 0) offset = 0;
  Step(w, [&] {
    if (spool != nullptr) {
      int64_t base = 0;
      if (f.npy_out) {
        base = kNpyWrittenHeaderBytes;
        if (w.rank == 0) {
          const std::string header =
              FormatNpyHeader(sizeof(T), total_rows, graph.OutputWidth());
          shared->WriteAt(0, header.data(), header.size());
        }
      }
      PlaceSpool(spool->fd(), spool_bytes, *shared, base + offset, a.output);
    }
  });
  Step(w, [&] { shared->Close(); });
  Step(w, [&] {
    if (w.rank == 0) {
      out->Commit();
      reaper->Disarm();
    }
  });

  if (w.rank != 0 || quiet) return;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::fprintf(
      stderr,
      "rowflow: %lld rows in %.2f s (%s rows/s), %d ranks x %d "
      "thread%s, tile %lld\n",
      static_cast<long long>(total_rows), seconds,
      FormatSi(seconds > 0 ? static_cast<double>(total_rows) / seconds : 0)
          .c_str(),
      w.size, session->threads(), session->threads() == 1 ? "" : "s",
      static_cast<long long>(session->tile_rows()));
}

}  // namespace

bool LaunchedByMpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

bool RunUnderMpi(const ir::Graph& graph, const RunFileOptions& a, bool quiet) {
  if (!LaunchedByMpi()) return false;
  MpiScope mpi;
  const World& w = mpi.world();
  if (w.size == 1) return false;  // the one-process path, after Finalize
  try {
    if (graph.dtype == ir::DType::kF32) {
      RunRanks<float>(graph, a, quiet, w);
    } else {
      RunRanks<double>(graph, a, quiet, w);
    }
  } catch (const ReportedElsewhere&) {
    // Not before the reporting rank has printed: mpirun ends the job at the
    // first rank that exits non-zero, and its stderr with it.
    MPI_Barrier(MPI_COMM_WORLD);
    throw;
  } catch (...) {
    const std::exception_ptr error = std::current_exception();
    PrintError(error);
    MPI_Barrier(MPI_COMM_WORLD);
    throw ReportedElsewhere(KindOf(error));
  }
  return true;
}

}  // namespace rowflow::cli
