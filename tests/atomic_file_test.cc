#include "graph/atomic_file.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <memory>
#include <string>
#include <vector>

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

// /dev/fd/N, /proc/self/fd/N (and /dev/stdout, /dev/stderr) are the
// process's own descriptors: written at their position, never replaced.
TEST_F(AtomicFileTest, OwnDescriptorPathsAreWrittenInPlace) {
  const std::string path = WriteFile("shell.txt", "before\n");
  const int fd = open(path.c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  for (const std::string prefix : {"/proc/self/fd/", "/dev/fd/"}) {
    AtomicFile file(prefix + std::to_string(fd));
    EXPECT_FALSE(file.seekable());
    file.Write("rows\n", 5);
    file.Commit();
  }
  ASSERT_EQ(write(fd, "after\n", 6), 6);
  close(fd);
  EXPECT_EQ(ReadFile(path), "before\nrows\nrows\nafter\n");
  EXPECT_EQ(Listing(), std::set<std::string>{"shell.txt"});

  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  {
    AtomicFile file("/dev/fd/" + std::to_string(pipe_fds[1]));
    file.Write("piped\n", 6);
    file.Commit();
  }
  close(pipe_fds[1]);
  char buf[16] = {};
  EXPECT_EQ(read(pipe_fds[0], buf, sizeof(buf)), 6);
  EXPECT_STREQ(buf, "piped\n");
  close(pipe_fds[0]);

  // A descriptor that is not open is an output error, not a file named so.
  EXPECT_EQ(ErrorOf(ErrorKind::kIo, [] { AtomicFile file("/dev/fd/987654"); }),
            "/dev/fd/987654: Bad file descriptor");
}

TEST_F(AtomicFileTest, SymlinkIsFollowedAndStaysALink) {
  ASSERT_TRUE(std::filesystem::create_directory(Path("data")));
  const std::string real = WriteFile("data/real.csv", "old\n");
  ASSERT_EQ(symlink("data/real.csv", Path("link.csv").c_str()), 0);
  AtomicFile file(Path("link.csv"));
  file.Write("new\n", 4);
  // The temp file sits next to the target, so that the rename stays within
  // one folder (and one file system).
  std::set<std::string> in_data;
  for (const auto& e : std::filesystem::directory_iterator(Path("data"))) {
    in_data.insert(e.path().filename().string());
  }
  ASSERT_EQ(in_data.size(), 2u);
  EXPECT_EQ(in_data.begin()->rfind(".real.csv.rowflow-", 0), 0u)
      << *in_data.begin();
  file.Commit();
  EXPECT_TRUE(std::filesystem::is_symlink(Path("link.csv")));
  EXPECT_EQ(std::filesystem::read_symlink(Path("link.csv")), "data/real.csv");
  EXPECT_EQ(ReadFile(real), "new\n");
  EXPECT_EQ(Listing(), (std::set<std::string>{"data", "link.csv"}));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(Path("data")),
                          std::filesystem::directory_iterator()),
            1);
}

TEST_F(AtomicFileTest, ChainOfSymlinksAndDanglingLinkWriteTheTarget) {
  // link1 -> link2 -> absent.csv: the file is created where the last link
  // points, and both links stay.
  ASSERT_EQ(symlink("link2", Path("link1").c_str()), 0);
  ASSERT_EQ(symlink(Path("absent.csv").c_str(), Path("link2").c_str()), 0);
  AtomicFile file(Path("link1"));
  file.Write("1\n", 2);
  file.Commit();
  EXPECT_TRUE(std::filesystem::is_symlink(Path("link1")));
  EXPECT_TRUE(std::filesystem::is_symlink(Path("link2")));
  EXPECT_EQ(ReadFile(Path("absent.csv")), "1\n");
  EXPECT_EQ(Listing(), (std::set<std::string>{"absent.csv", "link1", "link2"}));
}

TEST_F(AtomicFileTest, SymlinkLoopThrowsIo) {
  ASSERT_EQ(symlink("b", Path("a").c_str()), 0);
  ASSERT_EQ(symlink("a", Path("b").c_str()), 0);
  EXPECT_EQ(ErrorOf(ErrorKind::kIo, [&] { AtomicFile file(Path("a")); }),
            Path("a") + ": Too many levels of symbolic links");
  EXPECT_EQ(Listing(), (std::set<std::string>{"a", "b"}));
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST_F(AtomicFileTest, ReplacingAFileKeepsItsPermissionBits) {
  // Modes no umask gives, so that keeping them cannot happen by chance.
  for (mode_t mode : {0640, 0600, 0604, 0755}) {
    const std::string path = WriteFile("out.csv", "old\n");
    ASSERT_EQ(chmod(path.c_str(), mode), 0);
    AtomicFile file(path);
    file.Write("new\n", 4);
    file.Commit();
    EXPECT_EQ(ReadFile(path), "new\n");
    EXPECT_EQ(ModeOf(path), mode) << std::oct << mode;
  }
  // Through a symlink, the target's mode counts, not the link's.
  const std::string real = Path("out.csv");
  ASSERT_EQ(chmod(real.c_str(), 0640), 0);
  ASSERT_EQ(symlink("out.csv", Path("link.csv").c_str()), 0);
  AtomicFile file(Path("link.csv"));
  file.Commit();
  EXPECT_EQ(ModeOf(real), 0640u);
}

TEST_F(AtomicFileTest, NewFileGetsTheUmaskMode) {
  const mode_t old = umask(027);
  {
    AtomicFile file(Path("new.csv"));
    file.Commit();
  }
  umask(old);
  EXPECT_EQ(ModeOf(Path("new.csv")), 0640u);
}

TEST_F(AtomicFileTest, MoreFilesThanRegistrySlotsStillWork) {
  std::vector<std::unique_ptr<AtomicFile>> files;
  for (int i = 0; i < kMaxPendingTempFiles + 6; ++i) {
    files.push_back(
        std::make_unique<AtomicFile>(Path(std::to_string(i) + ".a")));
    files.back()->Write("x", 1);
  }
  for (auto& f : files) f->Commit();
  EXPECT_EQ(Listing().size(), files.size());
  files.clear();
  // Committed files gave their slots back: as many again can be listed.
  for (int i = 0; i < kMaxPendingTempFiles; ++i) {
    files.push_back(
        std::make_unique<AtomicFile>(Path(std::to_string(i) + ".b")));
  }
  EXPECT_EXIT(
      {
        RemovePendingTempFiles();
        size_t temps = 0;
        for (const std::string& name : Listing()) temps += name[0] == '.';
        std::_Exit(temps == 0 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

// What tools/cli/main.cc installs for SIGINT, SIGTERM and SIGHUP.
extern "C" void RemoveTempsAndDie(int sig) {
  RemovePendingTempFiles();
  raise(sig);
}

TEST_F(AtomicFileTest, FatalSignalHandlerRemovesPendingTempFiles) {
  const std::string kept = WriteFile("kept.csv", "old\n");
  // In a forked child ("fast": it shares this scratch folder), killed by
  // the signal as the CLI would be.
  GTEST_FLAG_SET(death_test_style, "fast");
  EXPECT_EXIT(
      {
        struct sigaction action = {};
        action.sa_handler = RemoveTempsAndDie;
        action.sa_flags = SA_RESETHAND;
        sigaction(SIGTERM, &action, nullptr);
        AtomicFile done(Path("done.csv"));
        done.Write("done\n", 5);
        done.Commit();
        AtomicFile aborted(Path("aborted.csv"));
        aborted.Abort();
        AtomicFile pending1(Path("out.csv"));
        AtomicFile pending2(kept);
        std::string big(1 << 20, 'x');
        pending1.Write(big.data(), big.size());
        pending2.Write("new\n", 4);
        if (Listing().size() != 4) std::_Exit(1);  // two temps, two files
        raise(SIGTERM);
        std::_Exit(2);
      },
      ::testing::KilledBySignal(SIGTERM), "");
  EXPECT_EQ(Listing(), (std::set<std::string>{"done.csv", "kept.csv"}));
  EXPECT_EQ(ReadFile(kept), "old\n");
}

}  // namespace
}  // namespace rowflow
