#include "graph/atomic_file.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <string>

#include "tests/io_test_util.h"

namespace rowflow {
namespace {

using ::rowflow::testing::ErrorOf;
using ::rowflow::testing::ReadFile;

class AtomicFileTest : public ::rowflow::testing::ScratchDirTest {};

TEST_F(AtomicFileTest, NothingAppearsBeforeCommit) {
  std::string path = Path("out.csv");
  AtomicFile file(path);
  file.Write("1,2\n", 4);
  EXPECT_FALSE(std::filesystem::exists(path));
  ASSERT_EQ(Listing().size(), 1u);
  EXPECT_EQ(Listing().begin()->rfind(".out.csv.rowflow-", 0), 0u)
      << *Listing().begin();
  file.Commit();
  EXPECT_EQ(ReadFile(path), "1,2\n");
  EXPECT_EQ(Listing(), std::set<std::string>{"out.csv"});
}

TEST_F(AtomicFileTest, DestructorRemovesTempFile) {
  {
    AtomicFile file(Path("out.csv"));
    file.Write("partial", 7);
  }
  EXPECT_TRUE(Listing().empty());
}

TEST_F(AtomicFileTest, AbortKeepsOldFileAndRemovesTemp) {
  std::string path = WriteFile("out.csv", "old\n");
  AtomicFile file(path);
  file.Write("new\n", 4);
  file.Abort();
  EXPECT_EQ(ReadFile(path), "old\n");
  EXPECT_EQ(Listing(), std::set<std::string>{"out.csv"});
}

TEST_F(AtomicFileTest, CommitReplacesOldFile) {
  std::string path = WriteFile("out.csv", "old contents\n");
  AtomicFile file(path);
  std::string big(300000, 'x');  // more than the buffer
  file.Write(big.data(), big.size());
  file.Write("!", 1);
  EXPECT_EQ(file.size(), 300001);
  EXPECT_EQ(ReadFile(path), "old contents\n");
  file.Commit();
  EXPECT_EQ(ReadFile(path), big + "!");
}

TEST_F(AtomicFileTest, WriteAtRewritesEarlierBytes) {
  std::string path = Path("out.npy");
  AtomicFile file(path);
  ASSERT_TRUE(file.seekable());
  file.Write("header=?;body", 13);
  file.WriteAt(7, "9", 1);
  file.Commit();
  EXPECT_EQ(ReadFile(path), "header=9;body");
}

TEST_F(AtomicFileTest, DiskFullThrowsIo) {
  EXPECT_EQ(ErrorOf(ErrorKind::kIo,
                    [] {
                      AtomicFile file("/dev/full");
                      EXPECT_FALSE(file.seekable());
                      file.Write("x", 1);
                      file.Commit();
                    }),
            "/dev/full: No space left on device");
  EXPECT_EQ(ErrorOf(ErrorKind::kIo,
                    [] {
                      AtomicFile file("/dev/full");
                      std::string big(1 << 20, 'x');
                      file.Write(big.data(), big.size());
                    }),
            "/dev/full: No space left on device");
}

TEST_F(AtomicFileTest, DeviceIsWrittenInPlaceNotReplaced) {
  AtomicFile file("/dev/null");
  file.Write("x", 1);
  file.Commit();
  struct stat st;
  ASSERT_EQ(stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
}

TEST_F(AtomicFileTest, UnwritableFolderThrowsIoAndLeavesNothing) {
  EXPECT_EQ(ErrorOf(ErrorKind::kIo,
                    [&] { AtomicFile file(Path("missing/out.csv")); }),
            Path("missing/out.csv") + ": No such file or directory");
  EXPECT_EQ(
      ErrorOf(ErrorKind::kIo, [] { AtomicFile file("/proc/rowflow-out.csv"); }),
      "/proc/rowflow-out.csv: No such file or directory");
  EXPECT_TRUE(Listing().empty());
}

TEST_F(AtomicFileTest, DirectoryPathThrowsIo) {
  EXPECT_EQ(ErrorOf(ErrorKind::kIo, [&] { AtomicFile file(dir_); }),
            dir_ + ": Is a directory");
  EXPECT_EQ(ErrorOf(ErrorKind::kIo, [&] { AtomicFile file(dir_ + "/"); }),
            dir_ + "/: Is a directory");
  EXPECT_TRUE(Listing().empty());
}

TEST_F(AtomicFileTest, FileSizeLimitThrowsIoAndRemovesTemp) {
  std::string path = Path("big.csv");
  // In a child: the limit and the ignored SIGXFSZ must not leak into others.
  EXPECT_EXIT(
      {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit limit;
        getrlimit(RLIMIT_FSIZE, &limit);
        limit.rlim_cur = 100000;
        setrlimit(RLIMIT_FSIZE, &limit);
        std::string message;
        try {
          AtomicFile file(path);
          std::string big(1 << 20, 'x');
          file.Write(big.data(), big.size());
          file.Commit();
        } catch (const Error& e) {
          message = e.what();
        }
        bool ok = message == path + ": File too large" && Listing().empty();
        std::fprintf(stderr, "message: %s\n", message.c_str());
        std::_Exit(ok ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "message: .*File too large");
}

TEST_F(AtomicFileTest, ClosedPipeThrowsBrokenPipeError) {
  std::string fifo = Path("fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  int reader = open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(reader, 0);
  auto old = signal(SIGPIPE, SIG_IGN);
  AtomicFile file(fifo);
  close(reader);
  std::string big(1 << 20, 'x');
  try {
    file.Write(big.data(), big.size());
    file.Commit();
    ADD_FAILURE() << "no error";
  } catch (const BrokenPipeError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kIo);
    EXPECT_EQ(std::string(e.what()), fifo + ": reader closed the pipe (EPIPE)");
  }
  signal(SIGPIPE, old);
}

TEST_F(AtomicFileTest, StdoutPipeClosedNamesStdout) {
  EXPECT_EXIT(
      {
        signal(SIGPIPE, SIG_IGN);
        int fds[2];
        if (pipe(fds) != 0) std::_Exit(2);
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        try {
          AtomicFile file("-");
          file.Write("row\n", 4);
          file.Commit();
        } catch (const BrokenPipeError& e) {
          std::fprintf(stderr, "%s\n", e.what());
          std::_Exit(0);
        }
        std::_Exit(1);
      },
      ::testing::ExitedWithCode(0),
      "<stdout>: reader closed the pipe \\(EPIPE\\)");
}

}  // namespace
}  // namespace rowflow
