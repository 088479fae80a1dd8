// Fuzz target: model-file bytes -> ParseGraph -> Session (1 thread) -> Run
// on 1-4 generated rows.
//
// Beyond "only rowflow::Error", a model that loads must run without any
// error, and give bitwise the same output with a tile of one row as with a
// tile of all rows (session.h promises determinism for any tile size).
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string_view>
#include <vector>

#include "graph/error.h"
#include "graph/serialize.h"
#include "runtime/rows.h"
#include "runtime/session.h"
#include "tests/fuzz/fuzz_util.h"

namespace rowflow::fuzz {
namespace {

// Input values worth feeding every model: signs, zeros, fractions, large
// and denormal magnitudes (all within float's range), infinity and NaN,
// which the contract says pass through.
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr std::array<double, 14> kValues = {
    0.0,   1.0,
    -1.0,  0.5,
    -2.5,  3.0,
    -0.0,  1e-3,
    1e30,  -3e38,
    7.0,   1e-40,
    -kInf, std::numeric_limits<double>::quiet_NaN()};

// Bitwise equal, except that any NaN equals any NaN: which NaN payload an
// operation returns may depend on operand order, which is not a promise.
template <typename T>
bool SameBits(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) && std::isnan(b[i])) continue;
    if (std::memcmp(&a[i], &b[i], sizeof(T)) != 0) return false;
  }
  return true;
}

template <typename T>
RowMatrix<T> MakeRows(int64_t rows, int64_t cols, uint32_t seed) {
  RowMatrix<T> m(rows, cols);
  for (int64_t i = 0; i < rows * cols; ++i) {
    m.data[i] = static_cast<T>(kValues[(seed + 7 * i) % kValues.size()]);
  }
  return m;
}

template <typename T>
RowMatrix<T> RunOnce(const ir::Graph& graph, const RowMatrix<T>& rows,
                     int64_t tile_rows) {
  SessionOptions options;
  options.threads = 1;
  options.tile_rows = tile_rows;
  options.max_tiles_in_flight = 2;
  Session session(graph, options);
  return session.Run(rows);
}

template <typename T>
void RunTyped(const ir::Graph& graph, uint32_t seed) {
  const int64_t rows = 1 + seed % 4;
  const RowMatrix<T> in = MakeRows<T>(rows, graph.InputWidth(), seed);
  const RowMatrix<T> one = RunOnce(graph, in, 1);
  const RowMatrix<T> all = RunOnce(graph, in, rows);
  if (one.rows != rows || one.cols != graph.OutputWidth())
    Fail("output has the wrong shape");
  if (all.rows != one.rows || all.cols != one.cols ||
      !SameBits(one.data, all.data)) {
    Fail("output differs between tile sizes 1 and rows");
  }
}

}  // namespace
}  // namespace rowflow::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rowflow;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  ir::Graph graph;
  try {
    graph = ParseGraph(bytes, "fuzz.pb",
                       fuzz::FuzzLoadOptions(fuzz::kRunBudgetBytes));
  } catch (const Error& e) {
    fuzz::CheckError(e, ErrorKind::kModel);
    return 0;
  }
  uint32_t seed = 0;
  for (uint8_t b : bytes.substr(0, 64)) seed = seed * 31 + b;
  try {
    if (graph.dtype == ir::DType::kF32) {
      fuzz::RunTyped<float>(graph, seed);
    } else {
      fuzz::RunTyped<double>(graph, seed);
    }
  } catch (const Error& e) {
    fuzz::Fail("a valid graph failed to run", e.what());
  }
  return 0;
}
