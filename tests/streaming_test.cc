// Streaming through the Session: rows in order, memory bounded by tiles in
// flight x tile size whatever the input length, nothing left on failure.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "graph/error.h"
#include "runtime/row_io.h"
#include "runtime/session.h"
#include "tests/seed_networks.h"

namespace rowflow {
namespace {

namespace fs = std::filesystem;

class StreamingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("rowflow_streaming_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A CSV of `rows` rows "i % 7, -(i % 5)" for the seed network.
  std::string WriteRows(int64_t rows) {
    const std::string path =
        (dir_ / ("in_" + std::to_string(rows) + ".csv")).string();
    FILE* f = std::fopen(path.c_str(), "w");
    for (int64_t i = 0; i < rows; ++i)
      std::fprintf(f, "%d,%d\n", int(i % 7), -int(i % 5));
    std::fclose(f);
    return path;
  }

  fs::path dir_;
};

// The process's peak resident set (VmHWM), in kB.
int64_t PeakRssKb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

// Streams `in` to `out` through the seed network; returns the peak RSS of
// the run (the kernel's mark is reset first).
int64_t StreamAndMeasure(Session& session, const std::string& in,
                         const std::string& out) {
  std::ofstream("/proc/self/clear_refs") << "5";
  auto source = OpenCsvSource<float>(in, 2);
  auto sink = OpenCsvSink<float>(out, 1);
  session.Run(*source, *sink);
  return PeakRssKb();
}

TEST_F(StreamingTest, PeakMemoryDoesNotGrowWithRowCount) {
  SessionOptions options;
  options.threads = 2;
  options.tile_rows = 1024;
  options.max_tiles_in_flight = 2;
  Session session(testing::SeedDeepNetwork(), options);
  const std::string small = WriteRows(200'000), big = WriteRows(2'000'000);
  const std::string out = (dir_ / "out.csv").string();
  StreamAndMeasure(session, small, out);  // warm up pools and the allocator
  const int64_t small_kb = StreamAndMeasure(session, small, out);
  const int64_t big_kb = StreamAndMeasure(session, big, out);
  ASSERT_GT(small_kb, 0);
  // Ten times the rows may not cost more than a few MB of allocator slack;
  // holding the rows would cost ~40 MB of input text alone.
  EXPECT_LE(big_kb, small_kb + 8 * 1024)
      << "200k rows: " << small_kb << " kB, 2M rows: " << big_kb << " kB";
  EXPECT_EQ(session.last_run().rows, 2'000'000);
  // Output order = input order: row i is f(i % 7, -(i % 5)).
  std::ifstream result(out);
  std::string line;
  Session check(testing::SeedDeepNetwork());
  for (int64_t i = 0; i < 2'000'000 && std::getline(result, line); i += 1) {
    if (i % 99'991 != 0) continue;
    const float want =
        check.Run(RowMatrix<float>{{float(i % 7), -float(i % 5)}}).data[0];
    ASSERT_EQ(std::stof(line), want) << "row " << i;
  }
}

TEST_F(StreamingTest, FailedRunLeavesNoOutputAndSessionRunsAgain) {
  SessionOptions options;
  options.tile_rows = 500;
  bool fail = true;
  // Only the tile holding row 5000 fails, so the error is deterministic
  // whichever thread runs it.
  options.stage_hook = [&](const StageInfo&, int64_t first, int64_t rows) {
    if (fail && first <= 5000 && 5000 < first + rows) {
      throw Error(ErrorKind::kInternal, "injected fault");
    }
  };
  Session session(testing::SeedDeepNetwork(), options);
  const std::string in = WriteRows(20'000);
  const std::string out = (dir_ / "out.csv").string();
  try {
    auto source = OpenCsvSource<float>(in, 2);
    auto sink = OpenCsvSink<float>(out, 1);
    session.Run(*source, *sink);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("rows 5000-5499"));
  }
  // Neither the output nor a temp file is left in the folder.
  for (const auto& entry : fs::directory_iterator(dir_)) {
    EXPECT_EQ(entry.path().extension(), ".csv") << entry.path();
    EXPECT_NE(entry.path().filename(), "out.csv");
  }
  fail = false;
  auto source = OpenCsvSource<float>(in, 2);
  auto sink = OpenCsvSink<float>(out, 1);
  session.Run(*source, *sink);
  EXPECT_TRUE(fs::exists(out));
  EXPECT_EQ(session.last_run().rows, 20'000);
}

TEST_F(StreamingTest, BadRowStopsTheRunWithItsLine) {
  const std::string in = (dir_ / "bad.csv").string();
  std::ofstream(in) << "3,5\n1,-1\n0,zero\n8,4\n";
  Session session(testing::SeedDeepNetwork());
  auto source = OpenCsvSource<float>(in, 2);
  auto sink = OpenCsvSink<float>((dir_ / "out.csv").string(), 1);
  try {
    session.Run(*source, *sink);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_THAT(e.what(), ::testing::HasSubstr("bad.csv:3:3"));
  }
  EXPECT_FALSE(fs::exists(dir_ / "out.csv"));
}

// RowSource::progress(): the share of the input behind the rows returned,
// which is what `rowflow run` shows as percent and ETA.
TEST_F(StreamingTest, CsvFileProgressIsBytesOfRowsReturnedOverFileSize) {
  // 100000 lines of 8 bytes: 800 kB, more than one read buffer (256 kB), so
  // bytes read ahead into the buffer would give another answer.
  const std::string in = (dir_ / "fixed.csv").string();
  {
    std::ofstream f(in);
    f << "a,b\n";  // a 4-byte header
    for (int i = 0; i < 100'000; ++i) f << "1.5,2.5\n";
  }
  const double total = 4 + 100'000 * 8;
  auto source = OpenCsvSource<float>(in, 2, CsvOptions{.header = true});
  EXPECT_EQ(source->progress(), 0);
  std::vector<float> rows(2 * 30'000);
  ASSERT_EQ(source->Read(rows.data(), 1000), 1000);
  EXPECT_DOUBLE_EQ(source->progress(), (4 + 1000 * 8) / total);
  ASSERT_EQ(source->Read(rows.data(), 30'000), 30'000);
  EXPECT_DOUBLE_EQ(source->progress(), (4 + 31'000 * 8) / total);
  int64_t got = 31'000;
  while (int64_t n = source->Read(rows.data(), 30'000)) {
    got += n;
    EXPECT_DOUBLE_EQ(source->progress(), (4 + got * 8) / total)
        << got << " rows";
  }
  EXPECT_EQ(got, 100'000);
  EXPECT_EQ(source->progress(), 1);
}

TEST_F(StreamingTest, CsvProgressIsUnknownForAPipeAndKnownForRedirectedStdin) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ASSERT_EQ(::write(fds[1], "1,2\n3,4\n", 8), 8);
  ::close(fds[1]);
  {
    auto source =
        OpenCsvSource<float>("/proc/self/fd/" + std::to_string(fds[0]), 2);
    std::vector<float> rows(4);
    EXPECT_EQ(source->Read(rows.data(), 2), 2);
    EXPECT_EQ(source->progress(), -1);
  }
  ::close(fds[0]);

  // stdin from a file, already read past its first line: the size counts
  // from where reading starts.
  const std::string in = (dir_ / "stdin.csv").string();
  std::ofstream(in) << "skipped line\n1,2\n3,4\n";
  const int saved = ::dup(STDIN_FILENO);
  const int fd = ::open(in.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::lseek(fd, 13, SEEK_SET), 13);
  ASSERT_EQ(::dup2(fd, STDIN_FILENO), STDIN_FILENO);
  ::close(fd);
  {
    auto source = OpenCsvSource<float>("-", 2);
    std::vector<float> rows(4);
    EXPECT_EQ(source->Read(rows.data(), 1), 1);
    EXPECT_DOUBLE_EQ(source->progress(), 0.5);
    EXPECT_EQ(source->Read(rows.data(), 1), 1);
    EXPECT_EQ(source->progress(), 1);
  }
  ::dup2(saved, STDIN_FILENO);
  ::close(saved);
}

TEST_F(StreamingTest, NpyAndMemoryProgressIsRowsReturnedOverRows) {
  const std::vector<double> values(2 * 1000, 0.5);
  const std::string in = (dir_ / "rows.npy").string();
  {
    auto sink = OpenNpySink<double>(in, 2);
    sink->Write(values.data(), 1000);
    sink->Commit();
  }
  auto npy = OpenNpySource<double>(in, 2);
  MemorySource<double> memory(values.data(), 1000, 2);
  for (RowSource<double>* source :
       {npy.get(), static_cast<RowSource<double>*>(&memory)}) {
    std::vector<double> rows(2 * 1000);
    EXPECT_EQ(source->progress(), 0);
    ASSERT_EQ(source->Read(rows.data(), 250), 250);
    EXPECT_DOUBLE_EQ(source->progress(), 0.25);
    ASSERT_EQ(source->Read(rows.data(), 1000), 750);
    EXPECT_EQ(source->progress(), 1);
  }
}

// What `rowflow run` does: the Session's progress callback, on the sink's
// thread, asks the source while it reads on another; the share only grows
// and ends at 1.
TEST_F(StreamingTest, ProgressCallbackSeesTheSourceShareGrowToOne) {
  const std::string in = WriteRows(200'000);
  auto source = OpenCsvSource<float>(in, 2);
  std::vector<double> seen;
  SessionOptions options;
  options.threads = 2;
  options.tile_rows = 1000;
  options.progress = [&](int64_t) { seen.push_back(source->progress()); };
  Session session(testing::SeedDeepNetwork(), options);
  auto sink = OpenCsvSink<float>((dir_ / "out.csv").string(), 1);
  session.Run(*source, *sink);
  ASSERT_EQ(seen.size(), 200u);
  EXPECT_GT(seen.front(), 0);
  EXPECT_LT(seen.front(), 0.1);
  for (size_t i = 1; i < seen.size(); ++i) ASSERT_GE(seen[i], seen[i - 1]) << i;
  EXPECT_EQ(seen.back(), 1);
}

}  // namespace
}  // namespace rowflow
