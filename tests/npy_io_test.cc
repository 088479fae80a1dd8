// NPY row source and sink, and the header parser under random bytes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "graph/npy_format.h"
#include "runtime/row_io.h"
#include "tests/io_test_util.h"

namespace rowflow {
namespace {

using ::rowflow::testing::ErrorOf;
using ::rowflow::testing::ReadAll;
using ::rowflow::testing::ReadFile;

// A .npy file's bytes: magic, version, little-endian header length, `dict`
// padded to 64 bytes with spaces and '\n', then `data`.
std::string NpyBytes(const std::string& dict, const std::string& data,
                     int major = 1) {
  std::string out("\x93NUMPY", 6);
  out += static_cast<char>(major);
  out += '\0';
  size_t len_bytes = major == 1 ? 2 : 4;
  size_t len = dict.size() + 1;
  len += (64 - (6 + 2 + len_bytes + len) % 64) % 64;
  for (size_t i = 0; i < len_bytes; ++i)
    out += static_cast<char>((len >> (8 * i)) & 0xff);
  out += dict + std::string(len - dict.size() - 1, ' ') + "\n";
  return out + data;
}

std::string Dict(const std::string& descr, const std::string& shape,
                 bool fortran = false) {
  return "{'descr': '" + descr +
         "', 'fortran_order': " + (fortran ? "True" : "False") +
         ", 'shape': " + shape + ", }";
}

template <typename T>
std::string RawBytes(const std::vector<T>& v, bool big_endian = false) {
  std::string s(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
  if (big_endian) {
    for (size_t i = 0; i < s.size(); i += sizeof(T))
      std::reverse(&s[i], &s[i] + sizeof(T));
  }
  return s;
}

class NpyTest : public ::rowflow::testing::ScratchDirTest {
 protected:
  template <typename T = double>
  std::vector<T> Load(const std::string& bytes, int64_t cols) {
    auto source = OpenNpySource<T>(WriteFile("in.npy", bytes), cols);
    return ReadAll(*source);
  }
  // The kInput message for `bytes`, with the file's path shown as "in.npy".
  std::string LoadError(const std::string& bytes, int64_t cols) {
    std::string message =
        ErrorOf(ErrorKind::kInput, [&] { Load(bytes, cols); });
    std::string path = Path("in.npy");
    if (message.rfind(path, 0) == 0)
      message = "in.npy" + message.substr(path.size());
    return message;
  }
};

TEST_F(NpyTest, RoundTripsBitwiseIncludingNan) {
  std::vector<double> d = {1.5, -0.0, NAN, -INFINITY, 1e-310, 6};
  {
    auto sink = OpenNpySink<double>(Path("d.npy"), 2);
    sink->Write(d.data(), 1);
    sink->Write(d.data() + 2, 2);
    sink->Commit();
  }
  auto source = OpenNpySource<double>(Path("d.npy"), 2);
  EXPECT_EQ(source->total_rows(), 3);
  auto back = ReadAll(*source, 2);
  ASSERT_EQ(back.size(), d.size());
  EXPECT_EQ(std::memcmp(back.data(), d.data(), d.size() * sizeof(double)), 0);

  std::vector<float> f = {0.1f, NAN, -3, 1e-40f};
  {
    auto sink = OpenNpySink<float>(Path("f.npy"), 1);
    sink->Write(f.data(), 4);
    sink->Commit();
  }
  auto fsource = OpenNpySource<float>(Path("f.npy"), 1);
  auto fback = ReadAll(*fsource);
  ASSERT_EQ(fback.size(), f.size());
  EXPECT_EQ(std::memcmp(fback.data(), f.data(), f.size() * sizeof(float)), 0);
}

TEST_F(NpyTest, WritesNumpyVersion1Header) {
  {
    auto sink = OpenNpySink<float>(Path("out.npy"), 2);
    std::vector<float> rows = {1, 2, 3, 4, 5, 6};
    sink->Write(rows.data(), 3);
    sink->Commit();
  }
  std::string bytes = ReadFile(Path("out.npy"));
  ASSERT_EQ(bytes.size(), 128u + 24);
  EXPECT_EQ(bytes.substr(0, 10), std::string("\x93NUMPY\x01\x00\x76\x00", 10));
  std::string dict =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }";
  EXPECT_EQ(bytes.substr(10, dict.size()), dict);
  EXPECT_EQ(bytes[127], '\n');
  EXPECT_EQ(bytes.substr(128), RawBytes(std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST_F(NpyTest, SinkWithoutCommitLeavesNoFile) {
  {
    auto sink = OpenNpySink<double>(Path("out.npy"), 1);
    double x = 1;
    sink->Write(&x, 1);
  }
  EXPECT_TRUE(Listing().empty());
}

TEST_F(NpyTest, SinkToStdoutSpoolsThenWritesHeaderFirst) {
  {
    ::rowflow::testing::RedirectFd redirect(STDOUT_FILENO, Path("stdout.npy"),
                                            O_WRONLY | O_CREAT | O_TRUNC);
    auto sink = OpenNpySink<double>("-", 2);
    std::vector<double> rows = {1, 2, 3, 4};
    sink->Write(rows.data(), 2);
    sink->Commit();
  }
  auto source = OpenNpySource<double>(Path("stdout.npy"), 2);
  EXPECT_EQ(ReadAll(*source), (std::vector<double>{1, 2, 3, 4}));
}

TEST_F(NpyTest, ReadsStdin) {
  WriteFile("x.npy", NpyBytes(Dict("<f8", "(1, 2)"),
                              RawBytes(std::vector<double>{7, 8})));
  ::rowflow::testing::RedirectFd redirect(STDIN_FILENO, Path("x.npy"),
                                          O_RDONLY);
  auto source = OpenNpySource<double>("-", 2);
  EXPECT_EQ(ReadAll(*source), (std::vector<double>{7, 8}));
}

TEST_F(NpyTest, ReadsVersions1To3AndVectorShape) {
  std::vector<double> v = {1, 2, 3, 4};
  for (int major : {1, 2, 3}) {
    EXPECT_EQ(Load(NpyBytes(Dict("<f8", "(2, 2)"), RawBytes(v), major), 2), v)
        << major;
  }
  EXPECT_EQ(Load(NpyBytes(Dict("<f8", "(4,)"), RawBytes(v)), 1), v);
  EXPECT_EQ(
      Load(NpyBytes(
               "{\"shape\":(4,1),\"fortran_order\":False,\"descr\":\"<f8\"}",
               RawBytes(v)),
           1),
      v);
}

TEST_F(NpyTest, ConvertsBigEndianAndOtherWidth) {
  std::vector<double> d = {1.5, -2.25, 1e300, 0.1};
  EXPECT_EQ(Load(NpyBytes(Dict(">f8", "(2, 2)"), RawBytes(d, true)), 2), d);
  std::vector<float> f = {1.5f, -2.25f, 3e38f, 0.1f};
  std::vector<double> f_as_d(f.begin(), f.end());
  EXPECT_EQ(Load(NpyBytes(Dict(">f4", "(2, 2)"), RawBytes(f, true)), 2),
            f_as_d);
  EXPECT_EQ(Load(NpyBytes(Dict("<f4", "(2, 2)"), RawBytes(f)), 2), f_as_d);
  EXPECT_EQ(Load<float>(NpyBytes(Dict("<f8", "(2, 2)"), RawBytes(d)), 2),
            (std::vector<float>{1.5f, -2.25f, INFINITY, 0.1f}));
  EXPECT_EQ(Load<float>(NpyBytes(Dict(">f8", "(4,)"), RawBytes(d, true)), 1),
            (std::vector<float>{1.5f, -2.25f, INFINITY, 0.1f}));
}

TEST_F(NpyTest, FortranOrderOnlyWhereItIsCOrder) {
  std::vector<double> v = {1, 2, 3};
  EXPECT_EQ(Load(NpyBytes(Dict("<f8", "(3, 1)", true), RawBytes(v)), 1), v);
  EXPECT_EQ(Load(NpyBytes(Dict("<f8", "(1, 3)", true), RawBytes(v)), 3), v);
  EXPECT_EQ(
      LoadError(
          NpyBytes(Dict("<f8", "(3, 2)", true), RawBytes(v) + RawBytes(v)), 2),
      "in.npy: Fortran-order array (3, 2) is not supported; expected C order "
      "(np.ascontiguousarray)");
}

TEST_F(NpyTest, RefusesBadMagicVersionAndHeaderLength) {
  EXPECT_EQ(LoadError("", 1), "in.npy: not a .npy file (no \\x93NUMPY magic)");
  EXPECT_EQ(LoadError("1,2,3\n4,5,6\n", 3),
            "in.npy: not a .npy file (no \\x93NUMPY magic)");
  std::string good = NpyBytes(Dict("<f8", "(0, 1)"), "");
  std::string v4 = good, v11 = good;
  v4[6] = 4;
  v11[7] = 1;
  EXPECT_EQ(LoadError(v4, 1),
            "in.npy: unsupported .npy version 4.0; expected 1.0, 2.0 or 3.0");
  EXPECT_EQ(LoadError(v11, 1),
            "in.npy: unsupported .npy version 1.1; expected 1.0, 2.0 or 3.0");
  EXPECT_EQ(LoadError(good.substr(0, 9), 1), "in.npy: truncated .npy header");
  EXPECT_EQ(LoadError(good.substr(0, 40), 1),
            "in.npy: truncated .npy header; expected 118 bytes, got 30");
  std::string huge =
      NpyBytes(Dict("<f8", "(0, 1)") + std::string(20000, ' '), "", 2);
  EXPECT_EQ(LoadError(huge, 1),
            "in.npy: .npy header is 20084 bytes; expected at most 10000");
  std::string max_len("\x93NUMPY\x02\x00\xff\xff\xff\xff", 12);
  EXPECT_EQ(LoadError(max_len, 1),
            "in.npy: .npy header is 4294967295 bytes; expected at most 10000");
}

TEST_F(NpyTest, RefusesMissingUnknownDuplicateAndMalformedKeys) {
  auto error = [&](const std::string& dict) {
    return LoadError(NpyBytes(dict, ""), 1);
  };
  EXPECT_EQ(error("{'descr': '<f8', 'fortran_order': False}"),
            "in.npy: .npy header lacks key 'shape'");
  EXPECT_EQ(error("{}"), "in.npy: .npy header lacks key 'descr'");
  EXPECT_EQ(error("{'descr': '<f8', 'fortran_order': False, 'shape': (0,), "
                  "'extra': 1}"),
            "in.npy: bad .npy header at byte 56: unknown key 'extra'");
  EXPECT_EQ(error("{'descr': '<f8', 'descr': '<f8'}"),
            "in.npy: bad .npy header at byte 17: duplicate key 'descr'");
  EXPECT_EQ(error("{'descr': '<f8', 'fortran_order': false, 'shape': (0,)}"),
            "in.npy: bad .npy header at byte 34: expected True or False");
  EXPECT_EQ(error("{'descr': '<f8"),
            "in.npy: bad .npy header at byte 10: unterminated string");
  EXPECT_EQ(
      error("{'descr': '<f\\x38'}"),
      "in.npy: bad .npy header at byte 13: escape sequences are not supported");
  EXPECT_EQ(error("{'shape': (1, 2"),
            "in.npy: bad .npy header at byte 54: expected ')'");
  EXPECT_EQ(error("[1, 2]"), "in.npy: bad .npy header at byte 0: expected '{'");
  EXPECT_EQ(
      error(Dict("<f8", "(0, 1)") + " x"),
      "in.npy: bad .npy header at byte 60: unexpected text after the dict");
}

TEST_F(NpyTest, RefusesOtherDtypes) {
  EXPECT_EQ(LoadError(NpyBytes(Dict("|O", "(2, 1)"), ""), 1),
            "in.npy: unsupported .npy dtype '|O'; expected '<f4' or '<f8'");
  EXPECT_EQ(LoadError(NpyBytes(Dict("<i4", "(2, 1)"), ""), 1),
            "in.npy: unsupported .npy dtype '<i4'; expected '<f4' or '<f8'");
  EXPECT_EQ(LoadError(NpyBytes(Dict("<f2", "(2, 1)"), ""), 1),
            "in.npy: unsupported .npy dtype '<f2'; expected '<f4' or '<f8'");
  EXPECT_EQ(
      LoadError(NpyBytes("{'descr': [('a', '<f8')], 'fortran_order': False, "
                         "'shape': (1,)}",
                         ""),
                1),
      "in.npy: bad .npy header at byte 10: structured dtypes are not "
      "supported; "
      "expected '<f4' or '<f8'");
}

TEST_F(NpyTest, RefusesWrongShape) {
  EXPECT_EQ(
      LoadError(NpyBytes(Dict("<f8", "(2, 15)"), std::string(240, '\0')), 16),
      "in.npy: expected 16 columns, got 15 (shape (2, 15))");
  EXPECT_EQ(LoadError(NpyBytes(Dict("<f8", "(4,)"), std::string(32, '\0')), 2),
            "in.npy: expected shape (N, 2), got (4,)");
  EXPECT_EQ(
      LoadError(NpyBytes(Dict("<f8", "(1, 2, 2)"), std::string(32, '\0')), 2),
      "in.npy: expected shape (N, 2), got (1, 2, 2)");
  EXPECT_EQ(LoadError(NpyBytes(Dict("<f8", "()"), std::string(8, '\0')), 1),
            "in.npy: expected shape (N, 1), got ()");
}

TEST_F(NpyTest, RefusesShapeOverflow) {
  EXPECT_EQ(LoadError(NpyBytes(Dict("<f8", "(4611686018427387904, 4)"), ""), 4),
            "in.npy: bad .npy header at byte 51: dimension too large");
  EXPECT_EQ(
      LoadError(NpyBytes(Dict("<f8", "(100000000000000000, 100)"), ""), 100),
      "in.npy: .npy shape (100000000000000000, 100) is too large (over 2^63 "
      "bytes)");
  EXPECT_EQ(LoadError(NpyBytes(Dict("<f4", "(999999999999999999, 3)"), ""), 3),
            "in.npy: .npy shape (999999999999999999, 3) is too large (over "
            "2^63 bytes)");
}

TEST_F(NpyTest, TruncatedDataNamesRow) {
  std::vector<double> v(7, 1.0);  // 3.5 rows of 2
  EXPECT_EQ(LoadError(NpyBytes(Dict("<f8", "(4, 2)"), RawBytes(v)), 2),
            "in.npy: truncated .npy data: expected 4 rows, data ends in row 4");
  EXPECT_EQ(
      LoadError(NpyBytes(Dict(">f4", "(10, 2)"), std::string(9, '\0')), 2),
      "in.npy: truncated .npy data: expected 10 rows, data ends in row 2");
  EXPECT_EQ(LoadError(NpyBytes(Dict("<f8", "(3, 1)"), ""), 1),
            "in.npy: truncated .npy data: expected 3 rows, data ends in row 1");
  EXPECT_EQ(LoadError(NpyBytes(Dict("<f8", "(3, 1)"), RawBytes(v)), 1),
            "in.npy: unexpected bytes after the 3 rows of .npy data");
}

TEST(NpyHeaderTest, ArbitraryBytesOnlyEverThrowRowflowErrors) {
  std::mt19937 rng(7);
  std::string base =
      "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }";
  const std::string alphabet =
      "{}()[]':,\" \n0123456789TrueFalsedescrshape<f8>|O-";
  int parsed = 0;
  for (int i = 0; i < 50000; ++i) {
    std::string text = base;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      size_t at = rng() % (text.size() + 1);
      char c = rng() % 2 ? alphabet[rng() % alphabet.size()]
                         : static_cast<char>(rng());
      switch (rng() % 3) {
        case 0:
          text.insert(at, 1, c);
          break;
        case 1:
          if (at < text.size()) text.erase(at, 1);
          break;
        default:
          if (at < text.size()) text[at] = c;
          break;
      }
    }
    try {
      NpyHeader h = ParseNpyHeader(text, "f");
      ++parsed;
      EXPECT_TRUE(h.itemsize == 4 || h.itemsize == 8);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInput);
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos)
          << e.what();
    }
  }
  EXPECT_GT(parsed, 0);
}

}  // namespace
}  // namespace rowflow
