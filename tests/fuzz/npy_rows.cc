// Fuzz target: bytes as a .npy row file -> OpenNpySource, read to the end in
// small chunks, as f32 and as f64; what was read is written with
// OpenNpySink and read back. ParseNpyHeader is fuzzed on the way.
//
// The column count comes from the file's own shape when its header parses
// (so the reader gets past the shape check), else 1. Beyond "only
// rowflow::Error(kInput)": Read returns 0..max_rows and stays at 0 after the
// end, the rows read equal total_rows(), and write -> read is bit-exact.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "graph/error.h"
#include "graph/npy_format.h"
#include "runtime/row_io.h"
#include "tests/fuzz/fuzz_util.h"

namespace rowflow::fuzz {
namespace {

constexpr int64_t kMaxCols = 4096;
constexpr int64_t kChunkRows = 3;

// The header dict of a .npy file (versions 1-3), or "" when the bytes are
// too short to hold one.
std::string_view HeaderText(std::string_view bytes) {
  if (bytes.size() < 10 || bytes.substr(0, 6) != "\x93NUMPY") return {};
  const auto byte = [&](size_t i) {
    return static_cast<size_t>(static_cast<uint8_t>(bytes[i]));
  };
  size_t begin = 10, length = byte(8) | byte(9) << 8;
  if (byte(6) >= 2) {
    if (bytes.size() < 12) return {};
    begin = 12;
    length |= byte(10) << 16 | byte(11) << 24;
  }
  if (begin > bytes.size()) return {};
  return bytes.substr(begin, std::min(length, bytes.size() - begin));
}

int64_t ColumnsOf(std::string_view bytes) {
  try {
    const NpyHeader header = ParseNpyHeader(HeaderText(bytes), "fuzz.npy");
    if (header.itemsize != 4 && header.itemsize != 8)
      Fail("header accepted an odd itemsize");
    if (header.shape.size() == 2)
      return std::clamp<int64_t>(header.shape[1], 1, kMaxCols);
  } catch (const Error& e) {
    CheckError(e, ErrorKind::kInput);
  }
  return 1;
}

template <typename T>
std::vector<T> ReadAll(RowSource<T>& source, int64_t cols) {
  if (source.cols() != cols) Fail("source reports another column count");
  std::vector<T> values, chunk(kChunkRows * cols);
  for (;;) {
    const int64_t n = source.Read(chunk.data(), kChunkRows);
    if (n < 0 || n > kChunkRows)
      Fail("Read returned a row count out of 0..max_rows");
    if (n == 0) break;
    values.insert(values.end(), chunk.begin(), chunk.begin() + n * cols);
  }
  if (source.Read(chunk.data(), kChunkRows) != 0)
    Fail("Read returned rows after the end");
  const int64_t total = source.total_rows();
  if (total >= 0 && total * cols != static_cast<int64_t>(values.size())) {
    Fail("rows read differ from total_rows()");
  }
  return values;
}

template <typename T>
void Pass(const std::string& path, int64_t cols) {
  std::vector<T> values;
  try {
    auto source = OpenNpySource<T>(path, cols);
    values = ReadAll(*source, cols);
  } catch (const Error& e) {
    CheckError(e, ErrorKind::kInput);
    return;
  }
  const std::string out = ScratchDir() + "/rows.npy";
  try {
    auto sink = OpenNpySink<T>(out, cols);
    sink->Write(values.data(), static_cast<int64_t>(values.size()) / cols);
    sink->Commit();
    auto again = OpenNpySource<T>(out, cols);
    const std::vector<T> back = ReadAll(*again, cols);
    if (back.size() != values.size() ||
        (!values.empty() && std::memcmp(back.data(), values.data(),
                                        values.size() * sizeof(T)) != 0)) {
      Fail(".npy write -> read changed the values");
    }
  } catch (const Error& e) {
    Fail("rows that were read could not be written and read back", e.what());
  }
}

}  // namespace
}  // namespace rowflow::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rowflow;
  static fuzz::MemFile* file =
      new fuzz::MemFile();  // one per process, never freed
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const std::string& path = file->Set(bytes);
  const int64_t cols = fuzz::ColumnsOf(bytes);
  fuzz::Pass<float>(path, cols);
  fuzz::Pass<double>(path, cols);
  return 0;
}
