// Fuzz target: bytes as a .npy row file -> OpenNpySource, read to the end in
// small chunks, as f32 and as f64; what was read is written with
// OpenNpySink and read back. ParseNpyHeader is fuzzed on the way.
//
// The column count comes from the file's own shape when its header parses
// (so the reader gets past the shape check), else 1. The read -> write ->
// read-back pass (tests/fuzz/row_round_trip.h) is bit-exact.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "graph/error.h"
#include "graph/npy_format.h"
#include "runtime/row_io.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/fuzz/row_round_trip.h"

namespace rowflow::fuzz {
namespace {

constexpr int64_t kMaxCols = 4096;

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
void Pass(const std::string& path, int64_t cols) {
  const auto open_source = [&](const std::string& in) {
    return OpenNpySource<T>(in, cols);
  };
  ReadWriteReadBack<T>(
      path, cols, open_source,
      [&](const std::string& out) { return OpenNpySink<T>(out, cols); },
      open_source, ScratchDir() + "/rows.npy", Match::kBits);
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
