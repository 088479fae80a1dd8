// The compression layer (runtime/compress.h) on its own and through the
// row files: round trips against zlib's and libzstd's one-shot calls,
// concatenated members, every truncation point, corrupt bytes, and the
// byte-for-byte equality of compressed and plain CSV / .npy runs.
#include "runtime/compress.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "io_test_util.h"
#include "runtime/input_file.h"
#include "runtime/row_io.h"

namespace rowflow {
namespace {

using ::rowflow::testing::ErrorOf;
using ::rowflow::testing::ReadAll;
using ::rowflow::testing::ReadFile;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

class CompressTest : public ::rowflow::testing::ScratchDirTest {};

// Text that compresses but not trivially: CSV-like rows from a fixed seed.
std::string SampleText(size_t bytes) {
  std::mt19937 rng(7);
  std::string s;
  while (s.size() < bytes) {
    s += std::to_string(rng() % 100000) + "," + std::to_string(rng() % 977) +
         ".5\n";
  }
  s.resize(bytes);
  return s;
}

std::string Compress(Compression c, const std::string& plain) {
  std::string out;
  auto enc =
      Compressor::Create(c, [&](const char* d, size_t n) { out.append(d, n); });
  // Uneven pieces, so buffer boundaries fall everywhere.
  for (size_t at = 0, step = 1; at < plain.size();
       at += step, step = step * 3 + 1) {
    enc->Write(plain.data() + at, std::min(step, plain.size() - at));
  }
  enc->Finish();
  return out;
}

// Decompresses `packed` through a Decompressor fed `feed` bytes per raw read
// and asked for `ask` bytes per Read.
std::string Decompress(Compression c, const std::string& packed, size_t feed,
                       size_t ask) {
  size_t at = 0;
  auto dec = Decompressor::Create(
      c,
      [&](char* dst, size_t n) {
        const size_t k = std::min({n, feed, packed.size() - at});
        std::memcpy(dst, packed.data() + at, k);
        at += k;
        return k;
      },
      "x");
  std::string out;
  std::vector<char> buf(ask);
  while (size_t n = dec->Read(buf.data(), ask)) out.append(buf.data(), n);
  return out;
}

std::string ZlibGzip(const std::string& plain) {
  z_stream zs = {};
  EXPECT_EQ(deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY),
            Z_OK);
  std::string out(deflateBound(&zs, plain.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
  zs.avail_in = static_cast<uInt>(plain.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string ZstdOneShot(const std::string& plain) {
  std::string out(ZSTD_compressBound(plain.size()), '\0');
  const size_t n =
      ZSTD_compress(out.data(), out.size(), plain.data(), plain.size(), 19);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

TEST(CompressionTest, DetectsMagicAndExtensions) {
  EXPECT_EQ(DetectCompression("\x1f\x8b\x08\x00"), Compression::kGzip);
  EXPECT_EQ(DetectCompression("\x28\xb5\x2f\xfd"), Compression::kZstd);
  EXPECT_EQ(DetectCompression("\x28\xb5\x2f"), Compression::kNone);
  EXPECT_EQ(DetectCompression("1,2\n"), Compression::kNone);
  EXPECT_EQ(DetectCompression(""), Compression::kNone);
  EXPECT_EQ(CompressionForPath("a/out.csv.gz"), Compression::kGzip);
  EXPECT_EQ(CompressionForPath("out.npy.zst"), Compression::kZstd);
  EXPECT_EQ(CompressionForPath("out.csv"), Compression::kNone);
  EXPECT_EQ(CompressionForPath("-"), Compression::kNone);
  EXPECT_EQ(CompressionForPath(".gz"), Compression::kNone);
  EXPECT_EQ(StripCompressionSuffix("x.npy.gz"), "x.npy");
  EXPECT_EQ(StripCompressionSuffix("x.npy.zst"), "x.npy");
  EXPECT_EQ(StripCompressionSuffix("x.npy"), "x.npy");
}

TEST(CompressionTest, RoundTripsAtEveryBufferSize) {
  const std::string plain = SampleText(700000);
  for (Compression c : {Compression::kGzip, Compression::kZstd}) {
    const std::string packed = Compress(c, plain);
    EXPECT_LT(packed.size(), plain.size() / 2) << CompressionName(c);
    EXPECT_EQ(DetectCompression(packed), c);
    for (size_t feed : {size_t{1} << 20, size_t{4096}, size_t{7}}) {
      for (size_t ask : {size_t{1} << 20, size_t{1000}, size_t{1}}) {
        if (feed == 7 && ask == 1) continue;  // slow and says nothing new
        EXPECT_EQ(Decompress(c, packed, feed, ask), plain)
            << CompressionName(c) << " feed " << feed << " ask " << ask;
      }
    }
  }
}

TEST(CompressionTest, ReadsWhatTheReferenceLibrariesWrite) {
  const std::string plain = SampleText(300000);
  EXPECT_EQ(Decompress(Compression::kGzip, ZlibGzip(plain), 1 << 16, 1 << 16),
            plain);
  EXPECT_EQ(
      Decompress(Compression::kZstd, ZstdOneShot(plain), 1 << 16, 1 << 16),
      plain);
}

TEST(CompressionTest, WritesWhatTheReferenceLibrariesRead) {
  const std::string plain = SampleText(300000);
  const std::string gz = Compress(Compression::kGzip, plain);
  std::string back(plain.size(), '\0');
  z_stream zs = {};
  ASSERT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  zs.next_out = reinterpret_cast<Bytef*>(back.data());
  zs.avail_out = static_cast<uInt>(back.size());
  EXPECT_EQ(inflate(&zs, Z_FINISH), Z_STREAM_END);
  EXPECT_EQ(zs.total_out, plain.size());
  inflateEnd(&zs);
  EXPECT_EQ(back, plain);

  const std::string zst = Compress(Compression::kZstd, plain);
  std::string back2(plain.size(), '\0');
  EXPECT_EQ(ZSTD_decompress(back2.data(), back2.size(), zst.data(), zst.size()),
            plain.size());
  EXPECT_EQ(back2, plain);
}

TEST(CompressionTest, ReadsConcatenatedMembersAndFrames) {
  const std::string a = SampleText(5000), b = "9,9\n";
  for (Compression c : {Compression::kGzip, Compression::kZstd}) {
    const std::string packed =
        Compress(c, a) + Compress(c, b) + Compress(c, "");
    EXPECT_EQ(Decompress(c, packed, 100, 333), a + b) << CompressionName(c);
  }
}

TEST(CompressionTest, EveryTruncationIsAnInputError) {
  const std::string plain = SampleText(20000);
  for (Compression c : {Compression::kGzip, Compression::kZstd}) {
    const std::string packed = Compress(c, plain);
    for (size_t cut = 1; cut < packed.size(); cut += 1 + cut / 8) {
      const std::string message = ErrorOf(ErrorKind::kInput, [&] {
        Decompress(c, packed.substr(0, cut), 1 << 16, 1 << 16);
      });
      EXPECT_THAT(message, MatchesRegex("x: (truncated|corrupt) (gzip|zstd) "
                                        "data.* after [0-9]+ bytes of plain "
                                        "data"))
          << CompressionName(c) << " cut at " << cut;
    }
  }
}

TEST(CompressionTest, CorruptBytesAreAnInputError) {
  const std::string plain = SampleText(20000);
  std::string gz = Compress(Compression::kGzip, plain);
  gz[gz.size() - 5] ^= 0x55;  // the CRC-32 trailer
  EXPECT_EQ(
      ErrorOf(ErrorKind::kInput,
              [&] { Decompress(Compression::kGzip, gz, 1 << 16, 1 << 16); }),
      "x: corrupt gzip data (incorrect data check) after 20000 bytes of "
      "plain data");
  std::string zst = Compress(Compression::kZstd, plain);
  zst[zst.size() - 2] ^= 0x55;  // the XXH64 checksum
  EXPECT_THAT(
      ErrorOf(ErrorKind::kInput,
              [&] { Decompress(Compression::kZstd, zst, 1 << 16, 1 << 16); }),
      MatchesRegex("x: corrupt zstd data \\(.*checksum.*\\) after "
                   "[0-9]+ bytes of plain data"));
  // Bytes after the last member that start no new one.
  const std::string trailing = Compress(Compression::kGzip, "1\n") + "junk";
  EXPECT_THAT(
      ErrorOf(
          ErrorKind::kInput,
          [&] { Decompress(Compression::kGzip, trailing, 1 << 16, 1 << 16); }),
      HasSubstr("x: corrupt gzip data (incorrect header check)"));
}

TEST_F(CompressTest, CsvRowsReadTheSameCompressed) {
  std::string csv;
  for (int i = 0; i < 5000; ++i)
    csv += std::to_string(i) + "," + std::to_string(i * 0.25) + "\n";
  const std::string plain = WriteFile("rows.csv", csv);
  const std::string gz =
      WriteFile("rows.csv.gz", Compress(Compression::kGzip, csv));
  const std::string zst =
      WriteFile("rows.bin", Compress(Compression::kZstd, csv));  // by magic
  const std::vector<double> want =
      ReadAll(*OpenCsvSource<double>(plain, 2), 1000);
  ASSERT_EQ(want.size(), 10000u);
  EXPECT_EQ(ReadAll(*OpenCsvSource<double>(gz, 2), 1000), want);
  EXPECT_EQ(ReadAll(*OpenCsvSource<double>(zst, 2), 1000), want);
  // The plain size is not known up front, so progress is not either.
  EXPECT_EQ(OpenCsvSource<double>(gz, 2)->progress(), -1);
  EXPECT_EQ(InputFile(gz).compression(), Compression::kGzip);
  EXPECT_EQ(InputFile(plain).size(), static_cast<int64_t>(csv.size()));
}

TEST_F(CompressTest, SinksCompressByExtension) {
  std::vector<float> rows;
  for (int i = 0; i < 3000; ++i) rows.push_back(static_cast<float>(i) / 8);
  for (const char* ext : {".csv", ".npy"}) {
    const std::string plain = Path(std::string("o") + ext);
    auto write = [&](const std::string& path) {
      auto sink = std::string(ext) == ".csv" ? OpenCsvSink<float>(path, 3)
                                             : OpenNpySink<float>(path, 3);
      sink->Write(rows.data(), 1000);
      sink->Commit();
    };
    write(plain);
    write(plain + ".gz");
    write(plain + ".zst");
    const std::string want = ReadFile(plain);
    ASSERT_GT(want.size(), 1000u);
    for (Compression c : {Compression::kGzip, Compression::kZstd}) {
      const std::string packed =
          ReadFile(plain + (c == Compression::kGzip ? ".gz" : ".zst"));
      EXPECT_EQ(DetectCompression(packed), c);
      EXPECT_EQ(Decompress(c, packed, 1 << 16, 1 << 16), want)
          << ext << " " << CompressionName(c);
    }
  }
  // And .npy reads back through the decompressing source.
  EXPECT_EQ(ReadAll(*OpenNpySource<float>(Path("o.npy.zst"), 3), 100), rows);
}

TEST_F(CompressTest, UncommittedCompressedSinkLeavesNothing) {
  {
    auto sink = OpenCsvSink<float>(Path("out.csv.gz"), 1);
    const float v = 1;
    sink->Write(&v, 1);
  }
  EXPECT_TRUE(Listing().empty());
}

TEST_F(CompressTest, TruncatedCompressedCsvNamesTheFile) {
  std::string csv;
  for (int i = 0; i < 20000; ++i) csv += std::to_string(i) + ",1\n";
  const std::string gz = Compress(Compression::kGzip, csv);
  const std::string path = WriteFile("cut.csv.gz", gz.substr(0, gz.size() / 2));
  EXPECT_THAT(ErrorOf(ErrorKind::kInput,
                      [&] { ReadAll(*OpenCsvSource<float>(path, 2), 500); }),
              MatchesRegex(".*cut\\.csv\\.gz: truncated gzip data: .*"));
}

TEST_F(CompressTest, TextReaderRefusesNpyBytesWithAHint) {
  const std::vector<float> rows = {1, 2, 3, 4};
  {
    auto sink = OpenNpySink<float>(Path("r.npy"), 2);
    sink->Write(rows.data(), 2);
    sink->Commit();
  }
  const std::string npy = ReadFile(Path("r.npy"));
  const std::string as_csv = WriteFile("r.csv", npy);
  EXPECT_THAT(
      ErrorOf(ErrorKind::kInput, [&] { OpenCsvSource<float>(as_csv, 2); }),
      HasSubstr("r.csv: holds .npy data, not CSV rows"));
  const std::string zipped =
      WriteFile("r.gz", Compress(Compression::kGzip, npy));
  EXPECT_THAT(
      ErrorOf(ErrorKind::kInput, [&] { OpenCsvSource<float>(zipped, 2); }),
      HasSubstr("r.gz: holds .npy data, not CSV rows"));
  EXPECT_EQ(ReadAll(*OpenNpySource<float>(zipped, 2)), rows);
}

}  // namespace
}  // namespace rowflow
