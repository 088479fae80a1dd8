// Model-file loading: one test per model-file class of RELIABILITY.md
// (ModelFileTest.ClassNN...), then the lossless round trips.
//
// Kinds: every model that cannot be used is ErrorKind::kModel (exit 3):
// bad bytes, a directory, /dev/null, a file over the size limit, and a path
// that cannot be opened or read at all. kIo (exit 5) is for outputs.
#include "graph/serialize.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "graph/activation.h"
#include "graph/error.h"
#include "graph/validate.h"

namespace rowflow {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// A small valid model: y = relu(sum(x * W, -1) + b), x: [2], W: [3, 2].
constexpr char kGood[] = R"txt(
format_version: 1
name: "tiny"
dtype: F32
inputs { name: "x" shape: 2 }
constants { name: "w" shape: [3, 2] float_data: [1, 2, 3, 4, 5, 6] }
constants { name: "b" shape: 3 float_data: [0.5, -1, 2] }
nodes { name: "mul" op: MULTIPLY inputs: ["x", "w"] output: "xw" }
nodes { name: "sum" op: SUM inputs: "xw" output: "s" axis: -1 }
nodes { name: "add" op: ADD inputs: ["s", "b"] output: "z" }
nodes { name: "act" op: ACTIVATION inputs: "z" output: "y" activation: RELU }
outputs { name: "y" shape: 3 }
metadata { key: "author" value: "test" }
)txt";

// One input x: [2] and whatever `body` adds.
std::string Model(const std::string& body) {
  return "format_version: 1\ninputs { name: \"x\" shape: 2 }\n" + body;
}

// Parses `bytes` as "model.pbtxt" and returns the error it must raise.
Error Refusal(std::string_view bytes, const LoadOptions& options = {}) {
  try {
    ParseGraph(bytes, "model.pbtxt", options);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "model was accepted:\n" << bytes;
  return Error(ErrorKind::kInternal, "");
}

// Expects a kModel refusal whose message starts with the source and holds
// every one of `parts`.
void ExpectRefused(std::string_view bytes, std::vector<std::string> parts,
                   const LoadOptions& options = {}) {
  SCOPED_TRACE(std::string(bytes));
  Error e = Refusal(bytes, options);
  EXPECT_EQ(e.kind(), ErrorKind::kModel) << e.what();
  EXPECT_THAT(e.what(), StartsWith("model.pbtxt"));
  EXPECT_THAT(e.what(), Not(HasSubstr("\n"))) << "an error is one line";
  for (const std::string& part : parts) EXPECT_THAT(e.what(), HasSubstr(part));
}

Error LoadRefusal(const std::string& path, const LoadOptions& options = {}) {
  try {
    LoadGraph(path, options);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << path << " was accepted";
  return Error(ErrorKind::kInternal, "");
}

// A fresh folder under the test temp dir, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "rowflow_serialize_XXXXXX";
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string File(const std::string& name, const std::string& bytes) const {
    std::string path = path_ + "/" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string GoodBinary() {
  return SerializeGraph(ParseGraph(kGood, "good"), Encoding::kBinary);
}

TEST(ModelFileTest, Class01RejectsTruncatedGarbageEmptyDirectoryDevNull) {
  const std::string binary = GoodBinary();
  ExpectRefused(binary.substr(0, binary.size() - 1),
                {"not a valid binary model file"});
  Error half = Refusal(binary.substr(0, binary.size() / 2));
  EXPECT_EQ(half.kind(), ErrorKind::kModel);
  EXPECT_THAT(half.what(), StartsWith("model.pbtxt: "));
  ExpectRefused(std::string("\x07\xff\xff\xff\xff\xff\xff\xff\x01\x02", 10),
                {"not a valid binary model file"});
  ExpectRefused("this is not { a model", {"model.pbtxt:1:"});
  ExpectRefused("", {"empty file"});

  TempDir dir;
  Error directory = LoadRefusal(dir.path());
  EXPECT_EQ(directory.kind(), ErrorKind::kModel);
  EXPECT_THAT(directory.what(), HasSubstr("is a directory"));
  Error dev_null = LoadRefusal("/dev/null");
  EXPECT_EQ(dev_null.kind(), ErrorKind::kModel);
  EXPECT_THAT(dev_null.what(), HasSubstr("/dev/null: empty file"));
  Error missing = LoadRefusal(dir.path() + "/missing.pb");
  EXPECT_EQ(missing.kind(), ErrorKind::kModel);
  EXPECT_THAT(missing.what(), HasSubstr("missing.pb: cannot open"));
}

TEST(ModelFileTest, Class02RejectsOversizeAndDeepNesting) {
  LoadOptions small;
  small.max_file_bytes = 100;
  ExpectRefused(kGood, {"over the size limit of 100 bytes"}, small);
  TempDir dir;
  Error big = LoadRefusal(dir.File("big.pbtxt", kGood), small);
  EXPECT_EQ(big.kind(), ErrorKind::kModel);
  EXPECT_THAT(big.what(), HasSubstr("big.pbtxt: file is "));
  EXPECT_THAT(big.what(), HasSubstr("over the size limit of 100 bytes"));

  // A good model followed by unknown groups (field 15) nested n deep: a few
  // levels are skipped as unknown fields, a thousand are refused.
  auto nested = [](int n) {
    return GoodBinary() + std::string(n, '\x7b') + std::string(n, '\x7c');
  };
  EXPECT_NO_THROW(ParseGraph(nested(10), "shallow.pb"));
  ExpectRefused(nested(1000), {"not a valid binary model file", "nested"});
  std::string deep_text = "format_version: 1 ";
  for (int i = 0; i < 1000; ++i) deep_text += "nodes { ";
  ExpectRefused(deep_text, {"model.pbtxt:1:"});
}

TEST(ModelFileTest, Class03RejectsCycleAndSelfReference) {
  ExpectRefused(Model(R"txt(
    nodes { name: "a" op: ADD inputs: ["x", "c_out"] output: "a_out" }
    nodes { name: "b" op: ADD inputs: ["a_out", "x"] output: "b_out" }
    nodes { name: "c" op: ADD inputs: ["b_out", "x"] output: "c_out" }
    nodes { name: "d" op: ADD inputs: ["c_out", "x"] output: "d_out" }
    outputs { name: "d_out" shape: 2 })txt"),
                {"(ADD): is on a cycle: ",
                 "a -> b -> c -> a; expected an acyclic graph"});
  ExpectRefused(Model(R"txt(
    nodes { name: "loop" op: MULTIPLY inputs: ["x", "v"] output: "v" }
    outputs { name: "v" shape: 2 })txt"),
                {"node 'loop' (MULTIPLY): reads its own output 'v'"});
}

TEST(ModelFileTest, Class04RejectsUndefinedInputAndOutput) {
  ExpectRefused(Model(R"txt(
    nodes { name: "mul" op: MULTIPLY inputs: ["x", "nope"] output: "y" }
    outputs { name: "y" shape: 2 })txt"),
                {"node 'mul' (MULTIPLY): input 'nope' is not defined"});
  ExpectRefused(Model(R"txt(
    nodes { name: "mul" op: MULTIPLY inputs: ["x", "x"] output: "y" }
    outputs { name: "ghost" shape: 2 })txt"),
                {"output 'ghost' is not defined"});
}

TEST(ModelFileTest, Class05RejectsDuplicateNames) {
  ExpectRefused(Model(R"txt(
    nodes { name: "mul" op: MULTIPLY inputs: ["x", "x"] output: "y1" }
    nodes { name: "mul" op: MULTIPLY inputs: ["x", "x"] output: "y2" }
    outputs { name: "y2" shape: 2 })txt"),
                {"duplicate node name 'mul'; expected each name once"});
  ExpectRefused(Model(R"txt(
    constants { name: "x" shape: 2 float_data: [1, 2] }
    nodes { name: "mul" op: MULTIPLY inputs: ["x", "x"] output: "y" }
    outputs { name: "y" shape: 2 })txt"),
                {"duplicate value name 'x'", "input 'x'", "constant 'x'"});
  ExpectRefused(Model(R"txt(
    nodes { name: "m1" op: MULTIPLY inputs: ["x", "x"] output: "y" }
    nodes { name: "m2" op: ADD inputs: ["x", "x"] output: "y" }
    outputs { name: "y" shape: 2 })txt"),
                {"duplicate value name 'y'", "node 'm2' (ADD)"});
}

TEST(ModelFileTest, Class06RejectsWrongArityAndMissingAttribute) {
  ExpectRefused(Model(R"txt(
    nodes { name: "mul" op: MULTIPLY inputs: "x" output: "y" }
    outputs { name: "y" shape: 2 })txt"),
                {"node 'mul' (MULTIPLY): wrong number of inputs; expected 2, "
                 "got 1"});
  ExpectRefused(Model(R"txt(
    nodes { name: "s" op: SUM inputs: ["x", "x"] output: "y" }
    outputs { name: "y" })txt"),
                {"node 's' (SUM): wrong number of inputs; expected 1, got 2"});
  ExpectRefused(Model(R"txt(
    nodes { name: "cat" op: CONCAT output: "y" }
    outputs { name: "y" })txt"),
                {"node 'cat' (CONCAT): too few inputs; expected at least 1"});
  ExpectRefused(Model(R"txt(
    nodes { name: "act" op: ACTIVATION inputs: "x" output: "y" }
    outputs { name: "y" shape: 2 })txt"),
                {"node 'act' (ACTIVATION): missing attribute 'activation'"});
  ExpectRefused(Model(R"txt(
    nodes { name: "mul" op: MULTIPLY inputs: ["x", "x"] output: "y" axis: 0 }
    outputs { name: "y" shape: 2 })txt"),
                {"node 'mul' (MULTIPLY): attribute 'axis' does not apply to "
                 "MULTIPLY; expected it only on SUM and CONCAT"});
  ExpectRefused(Model(R"txt(
    nodes { name: "r" op: RESHAPE inputs: "x" output: "y" }
    outputs { name: "y" shape: 2 })txt"),
                {"node 'r' (RESHAPE): missing attribute 'shape'; expected the "
                 "output's per-row shape, rank 1 to 2"});
  ExpectRefused(Model(R"txt(
    nodes { name: "s" op: SUM inputs: "x" output: "y" shape: [1] }
    outputs { name: "y" })txt"),
                {"node 's' (SUM): attribute 'shape' does not apply to SUM; "
                 "expected it only on RESHAPE"});
  ExpectRefused(Model(R"txt(
    nodes { name: "r" op: RESHAPE inputs: ["x", "x"] output: "y" shape: [2] }
    outputs { name: "y" })txt"),
                {"node 'r' (RESHAPE): wrong number of inputs; expected 1, "
                 "got 2"});
}

// RESHAPE's target: the same element count, rank 1-2, dims >= 1.
TEST(ModelFileTest, Class12RejectsReshapeTargetsThatDoNotFit) {
  ExpectRefused(Model(R"txt(
    nodes { name: "r" op: RESHAPE inputs: "x" output: "y" shape: [3] }
    outputs { name: "y" })txt"),
                {"node 'r' (RESHAPE): attribute 'shape' [3] does not hold the "
                 "input's elements; expected 2 elements (input shape [2]), "
                 "got 3"});
  ExpectRefused(Model(R"txt(
    nodes { name: "r" op: RESHAPE inputs: "x" output: "y" shape: [2, 1, 1] }
    outputs { name: "y" })txt"),
                {"node 'r' (RESHAPE): attribute 'shape' has rank 3; expected "
                 "at most 2"});
  ExpectRefused(Model(R"txt(
    nodes { name: "r" op: RESHAPE inputs: "x" output: "y" shape: [-1, -2] }
    outputs { name: "y" })txt"),
                {"node 'r' (RESHAPE): attribute 'shape' [-1, -2] has dim -1 "
                 "at 0; expected every dim >= 1"});
  ExpectRefused(Model(R"txt(
    nodes { name: "r" op: RESHAPE inputs: "x" output: "y" shape: [2, 0] }
    outputs { name: "y" })txt"),
                {"has dim 0 at 1; expected every dim >= 1"});
  ExpectRefused(Model(R"txt(
    nodes { name: "r" op: RESHAPE inputs: "x" output: "y"
            shape: [4294967296, 4294967296] }
    outputs { name: "y" })txt"),
                {"node 'r' (RESHAPE): attribute 'shape' [4294967296, "
                 "4294967296] has more elements than int64 holds"});
  ExpectRefused(Model(R"txt(
    nodes { name: "r" op: RESHAPE inputs: "x" output: "y" shape: [1, 2] }
    outputs { name: "y" shape: [2] })txt"),
                {"output 'y': declared shape disagrees with the inferred one; "
                 "expected [1, 2], got [2]"});
}

TEST(ModelFileTest, Class07RejectsUnknownEnumsAndNewerVersion) {
  ExpectRefused(Model(R"txt(
    nodes { name: "mystery" op: 9 inputs: "x" output: "y" }
    outputs { name: "y" shape: 2 })txt"),
                {"node 'mystery': unknown op 9"});
  ExpectRefused(Model(R"txt(
    nodes { name: "act" op: ACTIVATION inputs: "x" output: "y"
            activation: 42 }
    outputs { name: "y" shape: 2 })txt"),
                {"node 'act' (ACTIVATION): unknown activation 42"});
  std::string newer = kGood;
  newer.replace(newer.find("format_version: 1"), 17, "format_version: 2");
  ExpectRefused(newer, {"format_version 2 is newer than this rowflow reads; "
                        "expected at most 1"});
  ExpectRefused(std::string("\x08\x07", 2),
                {"format_version 7 is newer than this rowflow reads; expected "
                 "at most 1"});
  ExpectRefused(Model("dtype: 5"), {"unknown dtype 5"});
}

// The binary encoding of the text model `text` (validated first) without
// its format_version, the field 1 varint that SerializeGraph writes first.
std::string UnversionedBinary(const std::string& text) {
  std::string bytes =
      SerializeGraph(ParseGraph(text, "text"), Encoding::kBinary);
  EXPECT_EQ(bytes.substr(0, 2), std::string("\x08\x01", 2));
  return bytes.substr(2);
}

TEST(ModelFileTest, Class08RejectsUnsetRequiredFields) {
  std::string unversioned = kGood;
  unversioned.replace(unversioned.find("format_version: 1"), 17, "");
  ExpectRefused(unversioned, {"missing format_version"});
  // Binary without format_version, name and dtype: the first byte is the
  // tag of `inputs`, '"', printable like text; the binary model's own
  // error is reported, not a text parser's.
  std::string nameless = kGood;
  nameless.replace(nameless.find("name: \"tiny\""), 13, "");
  const std::string binary = UnversionedBinary(nameless);
  ASSERT_EQ(binary[0], '"');
  ExpectRefused(binary, {"model.pbtxt: missing format_version (unset or 0); "
                         "expected 1"});
  TempDir dir;
  Error file = LoadRefusal(dir.File("unversioned.pb", binary));
  EXPECT_EQ(file.kind(), ErrorKind::kModel);
  EXPECT_THAT(file.what(), HasSubstr("unversioned.pb: missing format_version"));
  // The same with no control byte in its first 64: the input's name is
  // long, so the bytes start '"', its length, '\n', and 70 letters. Only
  // the binary reading, taken because it holds nothing but Graph fields,
  // names the error.
  std::string long_name = nameless;
  const std::string name70(70, 'x');
  for (size_t at; (at = long_name.find("\"x\"")) != std::string::npos;) {
    long_name.replace(at, 3, "\"" + name70 + "\"");
  }
  const std::string printable = UnversionedBinary(long_name);
  for (size_t i = 0; i < 64; ++i) {
    const auto c = static_cast<unsigned char>(printable[i]);
    ASSERT_TRUE(c == '\n' || (c >= 0x20 && c < 0x7f)) << i;
  }
  ExpectRefused(printable, {"model.pbtxt: missing format_version"});
  // Text that also parses as binary but holds unknown fields ('x' 'y':
  // field 15, varint 0x79) keeps its text parser's error.
  Error text = Refusal("xy");
  EXPECT_THAT(text.what(), StartsWith("model.pbtxt:1:"));
  EXPECT_THAT(text.what(), Not(HasSubstr("format_version")));
  // A truncated unversioned binary model is reported as binary.
  ExpectRefused(binary.substr(0, binary.size() - 3),
                {"not a valid binary model file"});
  ExpectRefused(R"txt(format_version: 1
    inputs { name: "x" shape: [3, 0] }
    nodes { name: "s" op: SUM inputs: "x" output: "y" }
    outputs { name: "y" shape: 3 })txt",
                {"input 'x': bad shape [3, 0]", "got 0 at dimension 1"});
  ExpectRefused(Model(R"txt(
    nodes { name: "s" inputs: "x" output: "y" }
    outputs { name: "y" })txt"),
                {"node 's': op is unset"});
  ExpectRefused(Model(R"txt(
    nodes { name: "s" op: SUM inputs: "x" }
    outputs { name: "y" })txt"),
                {"node 's' (SUM): output is unset"});
  ExpectRefused(Model(R"txt(
    nodes { op: SUM inputs: "x" output: "y" }
    outputs { name: "y" })txt"),
                {"node #0: name is unset"});
}

TEST(ModelFileTest, Class09RejectsOverflowingNegativeAndZeroDims) {
  ExpectRefused(R"txt(format_version: 1
    inputs { name: "x" shape: [4294967296, 4294967296] }
    nodes { name: "s" op: SUM inputs: "x" output: "y" }
    outputs { name: "y" shape: 4294967296 })txt",
                {"input 'x': shape [4294967296, 4294967296] has more "
                 "elements than int64 holds"});
  ExpectRefused(R"txt(format_version: 1
    inputs { name: "x" shape: [4294967296, 1] }
    inputs { name: "x2" shape: [4294967296] }
    nodes { name: "m" op: MULTIPLY inputs: ["x", "x2"] output: "y" }
    outputs { name: "y" shape: [4294967296, 4294967296] })txt",
                {"node 'm' (MULTIPLY) output: shape", "int64"});
  ExpectRefused(R"txt(format_version: 1
    inputs { name: "x" shape: -3 }
    nodes { name: "s" op: SUM inputs: "x" output: "y" }
    outputs { name: "y" })txt",
                {"input 'x': bad shape [-3]", "got -3 at dimension 0"});
  ExpectRefused(Model(R"txt(
    constants { name: "w" shape: [2, 0] }
    nodes { name: "m" op: MULTIPLY inputs: ["x", "w"] output: "y" }
    outputs { name: "y" shape: 2 })txt"),
                {"constant 'w': bad shape [2, 0]"});
}

TEST(ModelFileTest, Class10RejectsDataLengthAndFieldMismatch) {
  ExpectRefused(Model(R"txt(
    constants { name: "w" shape: [3, 2] float_data: [1, 2, 3, 4, 5] }
    nodes { name: "m" op: MULTIPLY inputs: ["x", "w"] output: "y" }
    outputs { name: "y" shape: [3, 2] })txt"),
                {"constant 'w': data length does not match shape [3, 2]; "
                 "expected 6 values, got 5"});
  ExpectRefused(Model(R"txt(
    constants { name: "w" shape: 2 double_data: [1, 2] }
    nodes { name: "m" op: MULTIPLY inputs: ["x", "w"] output: "y" }
    outputs { name: "y" shape: 2 })txt"),
                {"constant 'w': holds double_data in an F32 graph"});
  ExpectRefused(Model(R"txt(
    constants { name: "w" shape: 1 float_data: 1 double_data: 1 }
    nodes { name: "m" op: MULTIPLY inputs: ["x", "w"] output: "y" }
    outputs { name: "y" shape: 2 })txt"),
                {"constant 'w': has both float_data and double_data"});
  ExpectRefused(Model(R"txt(
    constants { name: "w" }
    nodes { name: "m" op: MULTIPLY inputs: ["x", "w"] output: "y" }
    outputs { name: "y" shape: 2 })txt"),
                {"constant 'w'", "expected 1 values, got 0"});
}

TEST(ModelFileTest, Class11RejectsOverBudgetBeforeAllocating) {
  ExpectRefused(R"txt(format_version: 1 dtype: F64
    inputs { name: "x" shape: [100000, 100000] }
    nodes { name: "s" op: SUM inputs: "x" output: "y" }
    outputs { name: "y" shape: 100000 })txt",
                {"graph needs 80000800000 bytes",
                 "over the memory budget of 4294967296 bytes"});
  const int64_t needed = GraphFootprintBytes(ParseGraph(kGood, "good"));
  EXPECT_EQ(needed, 4 * (2 + 6 + 3 + 6 + 3 + 3 + 3));
  LoadOptions tight;
  tight.validate.memory_budget_bytes = needed - 1;
  ExpectRefused(kGood, {"over the memory budget of"}, tight);
  tight.validate.memory_budget_bytes = needed;
  EXPECT_NO_THROW(ParseGraph(kGood, "good", tight));
}

TEST(ModelFileTest, Class12RejectsWeightShapeDisagreements) {
  ExpectRefused(Model(R"txt(
    constants { name: "w" shape: [3, 4] float_data: [1,2,3,4,5,6,7,8,9,0,1,2] }
    nodes { name: "mul" op: MULTIPLY inputs: ["x", "w"] output: "y" }
    outputs { name: "y" shape: [3, 4] })txt"),
                {"node 'mul' (MULTIPLY): shapes [2] and [3, 4] do not "
                 "broadcast"});
  std::string bias = kGood;
  bias.replace(bias.find("shape: 3 float_data: [0.5, -1, 2]"), 33,
               "shape: 4 float_data: [0.5, -1, 2, 3]");
  ExpectRefused(bias, {"node 'add' (ADD): shapes [3] and [4] do not"});
  std::string declared = kGood;
  declared.replace(declared.find("outputs { name: \"y\" shape: 3 }"), 30,
                   "outputs { name: \"y\" shape: 4 }");
  ExpectRefused(declared, {"output 'y': declared shape disagrees with the "
                           "inferred one; expected [3], got [4]"});
}

TEST(ModelFileTest, Class13RejectsAxisOutOfRange) {
  ExpectRefused(Model(R"txt(
    nodes { name: "s" op: SUM inputs: "x" output: "y" axis: 1 }
    outputs { name: "y" })txt"),
                {"node 's' (SUM): axis out of range for rank 1; expected "
                 "-1..0, got 1"});
  ExpectRefused(Model(R"txt(
    nodes { name: "s" op: SUM inputs: "x" output: "y" axis: -2 }
    outputs { name: "y" })txt"),
                {"node 's' (SUM): axis out of range", "got -2"});
  ExpectRefused(Model(R"txt(
    nodes { name: "s" op: SUM inputs: "x" output: "t" }
    nodes { name: "cat" op: CONCAT inputs: ["t", "t"] output: "y" axis: 1 }
    outputs { name: "y" shape: 2 })txt"),
                {"node 'cat' (CONCAT): axis out of range for rank 1"});
  ExpectRefused(Model(R"txt(
    nodes { name: "cat" op: CONCAT inputs: ["x", "x"] output: "y" axis: -3 }
    outputs { name: "y" shape: 4 })txt"),
                {"node 'cat' (CONCAT): axis out of range", "got -3"});
}

TEST(ModelFileTest, Class14AcceptsNanAndInfWeights) {
  constexpr char kWeird[] = R"txt(format_version: 1
    inputs { name: "x" shape: 4 }
    constants { name: "w" shape: 4 float_data: [nan, inf, -inf, 1e-45] }
    nodes { name: "mul" op: MULTIPLY inputs: ["x", "w"] output: "y" }
    outputs { name: "y" shape: 4 })txt";
  for (Encoding encoding : {Encoding::kText, Encoding::kBinary}) {
    ir::Graph graph = ParseGraph(kWeird, "weird.pbtxt");
    ir::Graph again =
        ParseGraph(SerializeGraph(graph, encoding), "weird.pbtxt");
    const std::vector<double>& w = again.constants.at(0).data;
    ASSERT_EQ(w.size(), 4u);
    EXPECT_TRUE(std::isnan(w[0]));
    EXPECT_EQ(w[1], INFINITY);
    EXPECT_EQ(w[2], -INFINITY);
    EXPECT_EQ(w[3], static_cast<double>(std::nextafter(0.0f, 1.0f)));
  }
  ir::Graph f64 = ParseGraph(R"txt(format_version: 1 dtype: F64
    inputs { name: "x" shape: 2 }
    constants { name: "w" shape: 2 double_data: [-nan, inf] }
    nodes { name: "add" op: ADD inputs: ["x", "w"] output: "y" }
    outputs { name: "y" shape: 2 })txt",
                             "f64.pbtxt");
  EXPECT_TRUE(std::isnan(f64.constants.at(0).data[0]));
  EXPECT_EQ(f64.constants.at(0).data[1], INFINITY);
}

// ---- Round trips and encodings. ----

void ExpectSameGraph(const ir::Graph& a, const ir::Graph& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.dtype, b.dtype);
  EXPECT_EQ(a.metadata, b.metadata);
  EXPECT_EQ(a.inputs, b.inputs);
  EXPECT_EQ(a.outputs, b.outputs);
  ASSERT_EQ(a.values.size(), b.values.size());
  for (size_t i = 0; i < a.values.size(); ++i) {
    EXPECT_EQ(a.values[i].name, b.values[i].name);
    EXPECT_EQ(a.values[i].kind, b.values[i].kind);
    EXPECT_EQ(a.values[i].index, b.values[i].index);
    EXPECT_EQ(a.values[i].shape, b.values[i].shape);
  }
  ASSERT_EQ(a.nodes.size(), b.nodes.size());
  for (size_t i = 0; i < a.nodes.size(); ++i) {
    EXPECT_EQ(a.nodes[i].name, b.nodes[i].name);
    EXPECT_EQ(a.nodes[i].op, b.nodes[i].op);
    EXPECT_EQ(a.nodes[i].inputs, b.nodes[i].inputs);
    EXPECT_EQ(a.nodes[i].output, b.nodes[i].output);
    EXPECT_EQ(a.nodes[i].axis, b.nodes[i].axis);
    EXPECT_EQ(a.nodes[i].activation, b.nodes[i].activation);
    EXPECT_EQ(a.nodes[i].alpha, b.nodes[i].alpha);
    EXPECT_EQ(a.nodes[i].beta, b.nodes[i].beta);
    EXPECT_EQ(a.nodes[i].shape, b.nodes[i].shape);
  }
  ASSERT_EQ(a.constants.size(), b.constants.size());
  for (size_t i = 0; i < a.constants.size(); ++i) {
    EXPECT_EQ(a.constants[i].value, b.constants[i].value);
    EXPECT_EQ(a.constants[i].shape, b.constants[i].shape);
    EXPECT_EQ(a.constants[i].data, b.constants[i].data);
  }
}

// Floats that decimal printing gets wrong unless it prints enough digits.
constexpr char kAwkward[] = R"txt(format_version: 1 name: "awkward"
  inputs { name: "in" shape: [1, 5] }
  constants { name: "w" shape: 5
              float_data: [0.1, 3.4028235e38, 1.17549435e-38, -0.333333343, 16777216] }
  nodes { name: "m" op: MULTIPLY inputs: ["in", "w"] output: "p" }
  nodes { name: "l" op: ACTIVATION inputs: "p" output: "q"
          activation: LEAKY_RELU alpha: 0.2 }
  nodes { name: "c" op: CONCAT inputs: ["q", "p"] output: "r" axis: 0 }
  nodes { name: "rs" op: RESHAPE inputs: "r" output: "t" shape: [5, 2] }
  outputs { name: "r" shape: [2, 5] }
  outputs { name: "p" shape: [1, 5] }
  outputs { name: "t" shape: [5, 2] }
  metadata { key: "z" value: "last" }
  metadata { key: "a" value: "first" })txt";

TEST(SerializeTest, BinaryRoundTripIsLossless) {
  for (const char* text : {kGood, kAwkward}) {
    ir::Graph graph = ParseGraph(text, "m.pbtxt");
    const std::string bytes = SerializeGraph(graph, Encoding::kBinary);
    ir::Graph again = ParseGraph(bytes, "m.pb");
    ExpectSameGraph(graph, again);
    EXPECT_EQ(SerializeGraph(again, Encoding::kBinary), bytes);
  }
}

TEST(SerializeTest, TextRoundTripIsLossless) {
  for (const char* text : {kGood, kAwkward}) {
    ir::Graph graph = ParseGraph(text, "m.pbtxt");
    const std::string printed = SerializeGraph(graph, Encoding::kText);
    ir::Graph again = ParseGraph(printed, "m.pbtxt");
    ExpectSameGraph(graph, again);
    EXPECT_EQ(SerializeGraph(again, Encoding::kText), printed);
  }
  ir::Graph graph = ParseGraph(kAwkward, "m.pbtxt");
  EXPECT_EQ(graph.constants[0].data[0], static_cast<double>(0.1f));
  EXPECT_EQ(graph.metadata.at("a"), "first");
  EXPECT_EQ(graph.nodes[1].alpha, 0.2);
  EXPECT_EQ(graph.nodes[3].shape, (ir::Shape{5, 2}));
}

// A model x: [2] -> ACTIVATION `act` with `params` ("alpha: 0.25") -> y.
std::string ActivationModel(std::string_view act, std::string_view params) {
  return Model(fmt::format(
      "nodes {{ name: \"act\" op: ACTIVATION inputs: \"x\" output: \"y\" "
      "activation: {} {} }}\noutputs {{ name: \"y\" shape: 2 }}",
      act, params));
}

// Every activation loads by name, with its parameters or their defaults,
// and comes back from both encodings; a file holds exactly the parameters
// the activation takes.
TEST(SerializeTest, EveryActivationRoundTripsWithItsParameters) {
  for (const ir::ActivationInfo& row : ir::AllActivations()) {
    SCOPED_TRACE(std::string(row.name));
    std::string params;
    if (row.alpha) params += "alpha: 0.1 ";  // not a float: exact in F32 too
    if (row.beta) params += "beta: 0.375";   // CLIP: alpha <= beta
    for (const std::string& text :
         {ActivationModel(row.name, params), ActivationModel(row.name, "")}) {
      const bool given = text.find("alpha") != std::string::npos ||
                         text.find("beta") != std::string::npos;
      const ir::Graph g = ParseGraph(text, "m.pbtxt");
      const ir::Node& n = g.nodes[0];
      EXPECT_EQ(n.activation, row.act);
      if (row.alpha) {
        EXPECT_EQ(n.alpha, given ? 0.1 : *row.alpha);
      }
      if (row.beta) {
        EXPECT_EQ(n.beta, given ? 0.375 : *row.beta);
      }
      for (Encoding encoding : {Encoding::kBinary, Encoding::kText}) {
        const std::string bytes = SerializeGraph(g, encoding);
        const ir::Graph again = ParseGraph(bytes, "again");
        ExpectSameGraph(g, again);
        EXPECT_EQ(SerializeGraph(again, encoding), bytes);
      }
      const std::string printed = SerializeGraph(g, Encoding::kText);
      EXPECT_THAT(printed,
                  HasSubstr(fmt::format("activation: {}\n", row.name)));
      EXPECT_EQ(printed.find("alpha:") != std::string::npos,
                row.alpha.has_value())
          << printed;
      EXPECT_EQ(printed.find("beta:") != std::string::npos,
                row.beta.has_value())
          << printed;
    }
  }
}

TEST(ModelFileTest, Class06RefusesParametersAnActivationDoesNotTake) {
  for (const ir::ActivationInfo& row : ir::AllActivations()) {
    for (ir::ActivationParam param : ir::kActivationParams) {
      if (row.Default(param)) continue;
      const std::string_view name = ir::ParamName(param);
      ExpectRefused(
          ActivationModel(row.name, fmt::format("{}: 0.5", name)),
          {fmt::format("node 'act' (ACTIVATION): attribute '{}' does not "
                       "apply to {}; expected it only with {}",
                       name, row.name, ir::ActivationsTaking(param))});
    }
  }
  ExpectRefused(Model(R"txt(
    nodes { name: "mul" op: MULTIPLY inputs: ["x", "x"] output: "y" beta: 1 }
    outputs { name: "y" })txt"),
                {"node 'mul' (MULTIPLY): attribute 'beta' does not apply to "
                 "MULTIPLY; expected it only on ACTIVATION with HARD_SIGMOID"});
}

TEST(ModelFileTest, Class14RefusesNonFiniteParameters) {
  for (const ir::ActivationInfo& row : ir::AllActivations()) {
    for (ir::ActivationParam param : ir::kActivationParams) {
      if (!row.Default(param)) continue;
      for (const char* bad : {"nan", "-inf", "inf"}) {
        // CLIP's bounds may be infinite (no bound); LAYER_NORM's epsilon
        // must be >= 0 too.
        const char* must = row.rule == ir::ParamRule::kFinite ? "finite"
                           : row.rule == ir::ParamRule::kNonNegative
                               ? "finite and >= 0"
                               : "a number or +-inf";
        const std::string model = ActivationModel(
            row.name, fmt::format("{}: {}", ir::ParamName(param), bad));
        if (row.rule == ir::ParamRule::kOrderedBounds &&
            std::string_view(bad) != "nan") {
          EXPECT_NO_THROW(ParseGraph(model, "model.pbtxt")) << row.name;
          continue;
        }
        ExpectRefused(model,
                      {fmt::format("node 'act' (ACTIVATION): {} {} "
                                   "must be {}; got {}",
                                   row.name, ir::ParamName(param), must, bad)});
      }
    }
  }
}

TEST(ModelFileTest, Class07RefusesTheFirstActivationPastTheTable) {
  const int next = static_cast<int>(ir::AllActivations().size());
  ExpectRefused(ActivationModel(std::to_string(next), ""),
                {fmt::format("node 'act' (ACTIVATION): unknown activation {}; "
                             "expected one of {}",
                             next, ir::ActivationNameList())});
}

TEST(SerializeTest, DetectsEncodingWhateverTheName) {
  const std::string binary = GoodBinary();
  ExpectSameGraph(ParseGraph(binary, "model.pbtxt"),
                  ParseGraph(kGood, "model.pb"));
  ExpectSameGraph(
      ParseGraph("\xEF\xBB\xBF# comment\n" + std::string(kGood), "bom.pbtxt"),
      ParseGraph(binary, "x"));
  // A binary file whose first byte is printable ('"' = inputs) still loads.
  ir::Graph graph = ParseGraph(kGood, "g");
  graph.name.clear();
  std::string reordered = SerializeGraph(graph, Encoding::kBinary);
  ASSERT_EQ(reordered.substr(0, 2), std::string("\x08\x01", 2));
  EXPECT_NO_THROW(ParseGraph(reordered.substr(2) + reordered.substr(0, 2),
                             "late_version.pb"));
}

TEST(SerializeTest, SortsNodesGivenOutOfOrder) {
  ir::Graph graph = ParseGraph(Model(R"txt(
    nodes { name: "second" op: SUM inputs: "first_out" output: "y" }
    nodes { name: "first" op: MULTIPLY inputs: ["x", "x"] output: "first_out" }
    outputs { name: "y" })txt"),
                               "m.pbtxt");
  ASSERT_EQ(graph.nodes.size(), 2u);
  EXPECT_EQ(graph.nodes[0].name, "first");
  EXPECT_EQ(graph.nodes[1].name, "second");
  EXPECT_EQ(graph.values[graph.FindValue("first_out")].index, 0);
  EXPECT_EQ(graph.values[graph.FindValue("y")].shape, ir::Shape{});
}

TEST(SerializeTest, SaveAndLoadThroughFiles) {
  TempDir dir;
  ir::Graph graph = ParseGraph(kAwkward, "m.pbtxt");
  for (const char* name : {"m.pb", "m.pbtxt"}) {
    const std::string path = dir.path() + "/" + name;
    SaveGraph(graph, path, EncodingForPath(path));
    ExpectSameGraph(graph, LoadGraph(path));
  }
  EXPECT_EQ(EncodingForPath("a/b.pbtxt"), Encoding::kText);
  EXPECT_EQ(EncodingForPath("b.txt"), Encoding::kText);
  EXPECT_EQ(EncodingForPath("b.pb"), Encoding::kBinary);
  EXPECT_EQ(EncodingForPath("pbtxt"), Encoding::kBinary);
  try {
    SaveGraph(graph, dir.path() + "/no/such/dir/m.pb", Encoding::kBinary);
    ADD_FAILURE() << "saved into a missing folder";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kIo);
  }
}

TEST(SerializeTest, RejectsNamesThatCannotRoundTrip) {
  // proto3 strings must be UTF-8: a binary save would not load back.
  ExpectRefused(Model(R"txt(name: "\xff\xfe"
    nodes { name: "s" op: SUM inputs: "x" output: "y" })txt"),
                {"graph name is not valid UTF-8"});
  ExpectRefused(Model(R"txt(
    nodes { name: "s\nrm -rf" op: SUM inputs: "x" output: "y" }
    outputs { name: "y" })txt"),
                {"node name 's\\x0arm -rf' has control characters"});
  ir::Graph graph = ParseGraph(Model(R"txt(
    nodes { name: "sÃ©" op: SUM inputs: "x" output: "â¬" }
    outputs { name: "â¬" }
    metadata { key: "note" value: "two\nlines" })txt"),
                               "utf8.pbtxt");
  for (Encoding encoding : {Encoding::kText, Encoding::kBinary}) {
    ExpectSameGraph(graph,
                    ParseGraph(SerializeGraph(graph, encoding), "again"));
  }
}

TEST(SerializeTest, TextErrorsCarryLineAndColumn) {
  Error e = Refusal("format_version: 1\ninputs { name: \"x\" shap: 2 }\n");
  EXPECT_EQ(e.kind(), ErrorKind::kModel);
  // protobuf points at the token after the unknown name (the ':'), 0-based;
  // the message gives it 1-based.
  EXPECT_THAT(e.what(), StartsWith("model.pbtxt:2:24: "));
  EXPECT_THAT(e.what(), HasSubstr("shap"));
}

}  // namespace
}  // namespace rowflow
