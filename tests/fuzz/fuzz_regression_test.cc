// One test per bug the fuzz targets found, next to its regression seed in
// tests/fuzz/corpus/<target>/regression-*: the seed replays the exact input
// (ctest fuzz_replay.<target>), the test states the behaviour in words.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "graph/atomic_file.h"
#include "graph/builder.h"
#include "graph/error.h"
#include "graph/serialize.h"
#include "graph/spec.h"
#include "graph/weights_file.h"
#include "runtime/row_io.h"

namespace rowflow {
namespace {

namespace fs = std::filesystem;

class FuzzRegressionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (fs::temp_directory_path() / "rowflow-fuzzreg-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Read(const std::string& name) const {
    std::ifstream in(dir_ / name, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in),
                       std::istreambuf_iterator<char>());
  }

  fs::path dir_;
};

// npy_rows regression-zero-rows-write.npy: a (0, 2) file read back gives an
// empty vector, whose data() is null; writing it passed that null to
// memcpy (UBSan: "null pointer passed as argument 2").
TEST_F(FuzzRegressionTest, SinksAcceptZeroRowsFromAnEmptyVector) {
  const std::vector<float> none;
  auto npy = OpenNpySink<float>((dir_ / "none.npy").string(), 2);
  npy->Write(none.data(), 0);
  npy->Commit();
  auto csv = OpenCsvSink<float>((dir_ / "none.csv").string(), 2);
  csv->Write(none.data(), 0);
  csv->Commit();
  AtomicFile raw((dir_ / "raw.bin").string());
  raw.Write(nullptr, 0);
  raw.Commit();

  auto back = OpenNpySource<float>((dir_ / "none.npy").string(), 2);
  EXPECT_EQ(back->total_rows(), 0);
  float row[2];
  EXPECT_EQ(back->Read(row, 1), 0);
  EXPECT_EQ(Read("none.csv"), "");
  EXPECT_EQ(Read("raw.bin"), "");
}

// csv_rows regression-long-exponent.csv: the fast number path read a
// number's exponent digits into an int64_t before checking that there were
// at most 5 of them, so "1e" and 20 digits overflowed it (UBSan: signed
// integer overflow). Longer exponents now go to from_chars at the sixth
// digit: out of range is the usual error, leading zeros and underflow parse.
TEST_F(FuzzRegressionTest, CsvExponentsOfManyDigitsParseOrAreOutOfRange) {
  const std::string path = (dir_ / "rows.csv").string();
  auto write = [&](const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
  };
  write("1e11111111111111111111\n");
  for (int f64 = 0; f64 < 2; ++f64) {
    try {
      if (f64) {
        double row[1];
        OpenCsvSource<double>(path, 1)->Read(row, 1);
      } else {
        float row[1];
        OpenCsvSource<float>(path, 1)->Read(row, 1);
      }
      ADD_FAILURE() << "accepted 1e11111111111111111111";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInput);
      EXPECT_THAT(e.what(), ::testing::HasSubstr("out of range")) << e.what();
    }
  }
  write(
      "1.5e0000000000000000000001,25e-0000000000000000000001,"
      "1e-11111111111111111111\n");
  float f[3];
  EXPECT_EQ(OpenCsvSource<float>(path, 3)->Read(f, 1), 1);
  EXPECT_EQ(f[0], 15.0f);
  EXPECT_EQ(f[1], 2.5f);
  EXPECT_EQ(f[2], 0.0f);
  double d[3];
  EXPECT_EQ(OpenCsvSource<double>(path, 3)->Read(d, 1), 1);
  EXPECT_EQ(d[0], 15.0);
  EXPECT_EQ(d[1], 2.5);
  EXPECT_EQ(d[2], 0.0);
}

// csv_rows regression-eight-digit-integer-part.csv: the fast number path
// shifted a number's first 8 bytes by 64 - 8 * (int_len & 7) bits, which is
// a shift by 64 (undefined; UBSan) when all 8 are digits, as in
// "12345678e1" or any integer part of 8 digits or more in a field the
// SSE field parser leaves to it (an exponent, more than 16 bytes).
TEST_F(FuzzRegressionTest, CsvIntegerPartsOfEightDigitsOrMoreParse) {
  const std::string path = (dir_ / "rows.csv").string();
  std::ofstream(path, std::ios::binary)
      << "12345678e1,-87654321.5e-1,1234567890123456789012,12345678\n";
  float f[4];
  EXPECT_EQ(OpenCsvSource<float>(path, 4)->Read(f, 1), 1);
  EXPECT_EQ(f[0], 123456780.0f);
  EXPECT_EQ(f[1], -8765432.15f);
  EXPECT_EQ(f[2], 1234567890123456789012.0f);
  EXPECT_EQ(f[3], 12345678.0f);
  double d[4];
  EXPECT_EQ(OpenCsvSource<double>(path, 4)->Read(d, 1), 1);
  EXPECT_EQ(d[0], 123456780.0);
  EXPECT_EQ(d[1], -8765432.15);
  EXPECT_EQ(d[2], 1234567890123456789012.0);
  EXPECT_EQ(d[3], 12345678.0);
}

// model_run regression-newline-in-input-name.pb: a node input named
// "node_\n_0/b" (one flipped byte of a per-node model) came back in the
// "is not defined" message verbatim, splitting it over two lines. Names are
// now refused, escaped, before any message quotes them.
TEST(ModelNameRegressionTest, ControlCharactersInNamesGiveOneLineErrors) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"(nodes { name: "y" op: ACTIVATION inputs: ["x\nz"] output: "y" activation: RELU })",
       R"(node input name 'x\x0az')"},
      {R"(nodes { name: "y\tz" op: ACTIVATION inputs: ["x"] output: "y" activation: RELU })",
       R"(node name 'y\x09z')"},
      {R"(nodes { name: "y" op: ACTIVATION inputs: ["x"] output: "y\r" activation: RELU })",
       R"(node output name 'y\x0d')"},
  };
  for (const auto& [node, shown] : cases) {
    const std::string text =
        "format_version: 1\n"
        "inputs { name: \"x\" shape: [1] }\n"
        "outputs { name: \"y\" shape: [1] }\n" +
        node + "\n";
    try {
      ParseGraph(text, "m.pbtxt");
      ADD_FAILURE() << "accepted: " << node;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kModel);
      EXPECT_THAT(e.what(),
                  ::testing::Not(::testing::ContainsRegex("[\n\r\t]")))
          << node;
      EXPECT_THAT(e.what(), ::testing::HasSubstr(shown));
    }
  }
}

// model_run: a binary model whose name is not UTF-8 made protobuf print its
// own "[libprotobuf ERROR ...]" line to stderr before rowflow's one line.
TEST(ModelNameRegressionTest, NonUtf8NameInABinaryModelPrintsNothing) {
  GraphBuilder b("abc");
  b.Output(b.Activation(b.Input("x", {1}), ir::Activation::kRelu));
  std::string bytes = SerializeGraph(b.Build(), Encoding::kBinary);
  const size_t at = bytes.find("abc");
  ASSERT_NE(at, std::string::npos);
  bytes[at + 1] = '\xff';
  ::testing::internal::CaptureStderr();
  try {
    ParseGraph(bytes, "m.pb");
    ADD_FAILURE() << "accepted a name that is not UTF-8";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kModel);
    EXPECT_THAT(e.what(), ::testing::HasSubstr("not UTF-8"));
  }
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

// spec regression-output-name-not-utf8.pbtxt: `output { name: ... }`
// renamed the output after validation, so a name with bytes that are not
// UTF-8 (or a line break) went into a graph that `rowflow build` saved and
// no loader could read back.
TEST(SpecRegressionTest, OutputNameGetsTheChecksOfEveryName) {
  for (const std::string& name : {std::string("y\xff"), std::string("y\\n")}) {
    const std::string spec =
        "input { width: 2 }\n"
        "layer { units: 1 weights { values: [2, 7] } }\n"
        "output { name: \"" +
        name + "\" }\n";
    try {
      BuildGraphFromSpecText(spec, "s.pbtxt", MemoryWeightReader({}),
                             DenseForm::kLayer);
      ADD_FAILURE() << "accepted output name " << name;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kModel);
      EXPECT_THAT(e.what(), ::testing::StartsWith("s.pbtxt:3:")) << e.what();
      EXPECT_THAT(e.what(), ::testing::HasSubstr(
                                "not valid UTF-8 or has control characters"));
      EXPECT_THAT(e.what(), ::testing::Not(::testing::HasSubstr("\n")));
    }
  }
  // A plain new name still works, and the graph loads back.
  const ir::Graph g = BuildGraphFromSpecText(
      "input { width: 2 }\nlayer { units: 1 weights { values: [2, 7] } "
      "}\noutput { name: \"y\" }\n",
      "s.pbtxt", MemoryWeightReader({}), DenseForm::kPerNode);
  EXPECT_EQ(g.values[g.outputs[0]].name, "y");
  EXPECT_NO_THROW(ParseGraph(SerializeGraph(g, Encoding::kBinary), "s.pb"));
}

}  // namespace
}  // namespace rowflow
