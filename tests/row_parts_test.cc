// Reading one part of a row file (CsvPart, NpyPart), as each rank does
// under mpirun, without MPI: the parts' rows back to back are the whole
// file's, and messages name the whole file's lines and rows.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "graph/error.h"
#include "graph/npy_format.h"
#include "runtime/row_io.h"
#include "tests/io_test_util.h"

namespace rowflow {
namespace {

using ::rowflow::testing::ErrorOf;
using ::rowflow::testing::ReadAll;

class RowPartsTest : public ::rowflow::testing::ScratchDirTest {};

// Part [begin, end) of `path` after `lines_before` lines.
std::vector<float> ReadCsvPart(const std::string& path, int64_t begin,
                               int64_t end, int64_t lines_before,
                               CsvOptions options = {}) {
  auto part = std::make_shared<CsvPart>();
  part->begin = begin;
  part->end = end;
  part->lines_before = lines_before;
  options.part = part;
  auto source = OpenCsvSource<float>(path, 2, options);
  return ReadAll(*source);
}

TEST_F(RowPartsTest, CsvPartsConcatenateToTheWholeFile) {
  // Lines start at 0, 4, 8, 12 (each "a,b\n" is 4 bytes).
  const std::string path = WriteFile("r.csv", "1,2\n3,4\n5,6\n7,8\n");
  const std::vector<float> a = ReadCsvPart(path, 0, 4, 0);
  const std::vector<float> b = ReadCsvPart(path, 4, 12, 1);
  const std::vector<float> c = ReadCsvPart(path, 12, -1, 3);
  EXPECT_EQ(a, (std::vector<float>{1, 2}));
  EXPECT_EQ(b, (std::vector<float>{3, 4, 5, 6}));
  EXPECT_EQ(c, (std::vector<float>{7, 8}));
}

TEST_F(RowPartsTest, CsvPartReadsTheHeaderFromTheFileStart) {
  const std::string path = WriteFile("h.csv", "y,x\n1,2\n3,4\n");
  CsvOptions options;
  options.header = true;
  options.inputs = {{"x", 1}, {"y", 1}};  // by name: columns swapped
  EXPECT_EQ(ReadCsvPart(path, 8, -1, 2, options), (std::vector<float>{4, 3}));
}

TEST_F(RowPartsTest, CsvPartErrorsNameGlobalLines) {
  const std::string path = WriteFile("b.csv", "1,2\n3,4\n5,x\n");
  EXPECT_EQ(ErrorOf(ErrorKind::kInput, [&] { ReadCsvPart(path, 8, -1, 2); }),
            path + ":3:3: not a number 'x'; --na 'x' reads it as NaN");
}

TEST_F(RowPartsTest, CsvPartEmptyLinesAtItsEndFailOnlyWithDataAfter) {
  const std::string path = WriteFile("e.csv", "1,2\n\n\n3,4\n");
  auto part = std::make_shared<CsvPart>();
  part->end = 6;  // "1,2\n\n\n"
  CsvOptions options;
  options.part = part;
  EXPECT_EQ(ReadAll(*OpenCsvSource<float>(path, 2, options)).size(), 2u);
  part->data_after = true;
  EXPECT_EQ(ErrorOf(ErrorKind::kInput,
                    [&] { ReadAll(*OpenCsvSource<float>(path, 2, options)); }),
            path + ":2: empty row; expected 2 columns");
}

TEST_F(RowPartsTest, CsvPartRefusesQuotedNewlines) {
  const std::string path = WriteFile("q.csv", "id,x,y\n\"a\nb\",1,2\n");
  CsvOptions options;
  options.header = true;
  options.keep = "id";
  options.pass_through = std::make_shared<CsvPassThrough>();
  EXPECT_EQ(
      ErrorOf(ErrorKind::kInput, [&] { ReadCsvPart(path, 0, -1, 0, options); }),
      path +
          ":2: a quoted field holds a newline; under mpirun each record "
          "must be one line");
}

TEST_F(RowPartsTest, NpyPartsSplitRowsEvenly) {
  std::string bytes = FormatNpyHeader(4, 5, 2);
  for (int i = 0; i < 10; ++i) {
    const float v = static_cast<float>(i);
    bytes.append(reinterpret_cast<const char*>(&v), 4);
  }
  const std::string path = WriteFile("r.npy", bytes);
  std::vector<float> all;
  for (int index = 0; index < 3; ++index) {
    NpyPart part{index, 3};
    auto source = OpenNpySource<float>(path, 2, &part);
    EXPECT_EQ(part.total_rows, 5);
    EXPECT_EQ(part.first_row, 5 * index / 3);
    const std::vector<float> rows = ReadAll(*source);
    EXPECT_EQ(static_cast<int64_t>(rows.size()),
              2 * (5 * (index + 1) / 3 - 5 * index / 3));
    all.insert(all.end(), rows.begin(), rows.end());
  }
  EXPECT_EQ(all, (std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  // Truncated: the last part names the file's row where the data ends.
  const std::string cut =
      WriteFile("cut.npy", bytes.substr(0, bytes.size() - 4));
  NpyPart last{2, 3};
  EXPECT_EQ(ErrorOf(ErrorKind::kInput,
                    [&] { ReadAll(*OpenNpySource<float>(cut, 2, &last)); }),
            cut + ": truncated .npy data: expected 5 rows, data ends in row 5");
}

}  // namespace
}  // namespace rowflow
