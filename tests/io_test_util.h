// Helpers for the file I/O tests: a scratch folder per test, whole-file
// read/write, and catching a rowflow::Error to compare its message.
#ifndef ROWFLOW_TESTS_IO_TEST_UTIL_H_
#define ROWFLOW_TESTS_IO_TEST_UTIL_H_

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "graph/error.h"
#include "runtime/row_io.h"

namespace rowflow::testing {

// A fresh scratch folder, removed with everything in it after the test.
class ScratchDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "rowflow-io-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Path of `name` inside the scratch folder.
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  // Writes `bytes` to `name` and returns its path.
  std::string WriteFile(const std::string& name,
                        const std::string& bytes) const {
    std::ofstream out(Path(name), std::ios::binary);
    out << bytes;
    return Path(name);
  }

  // Names in the scratch folder, hidden temp files included.
  std::set<std::string> Listing() const {
    std::set<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) {
      names.insert(e.path().filename().string());
    }
    return names;
  }

  std::string dir_;
};

// The contents of the file at `path`.
inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Runs `fn`, which must throw an Error of `kind`; returns its message.
inline std::string ErrorOf(ErrorKind kind, const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(ErrorKindName(e.kind()), std::string(ErrorKindName(kind)))
        << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no rowflow::Error thrown";
  return "";
}

// Reads every row of `source`, `chunk` rows per call.
template <typename T>
std::vector<T> ReadAll(RowSource<T>& source, int64_t chunk = 7) {
  std::vector<T> rows;
  std::vector<T> buf(static_cast<size_t>(chunk * source.cols()));
  while (int64_t n = source.Read(buf.data(), chunk)) {
    rows.insert(rows.end(), buf.begin(), buf.begin() + n * source.cols());
  }
  return rows;
}

// Points fd 0 or 1 at `path` for the lifetime of the object.
class RedirectFd {
 public:
  RedirectFd(int fd, const std::string& path, int flags)
      : fd_(fd), saved_(dup(fd)) {
    fflush(stdout);
    int f = open(path.c_str(), flags, 0644);
    dup2(f, fd_);
    close(f);
  }
  ~RedirectFd() {
    fflush(stdout);
    dup2(saved_, fd_);
    close(saved_);
  }

 private:
  int fd_;
  int saved_;
};

}  // namespace rowflow::testing

#endif  // ROWFLOW_TESTS_IO_TEST_UTIL_H_
