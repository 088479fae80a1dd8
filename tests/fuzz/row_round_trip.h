// The pass the row-file fuzz targets (csv_rows, npy_rows) share: open a
// source on the fuzzed file, read it to the end in small chunks, then write
// what was read with the matching sink and read it back.
//
// Beyond "only rowflow::Error(kInput)": Read returns 0..max_rows and stays
// at 0 after the end, the rows read equal total_rows() when the source
// knows it, and write -> read gives back the same values.
//
// Thread-safety: one input at a time, as every target.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "graph/error.h"
#include "runtime/row_io.h"
#include "tests/fuzz/fuzz_util.h"

namespace rowflow::fuzz {

// Reads every row of `source`, 3 rows a call; checks the Read contract.
template <typename T>
std::vector<T> ReadAll(RowSource<T>& source, int64_t cols) {
  constexpr int64_t kChunkRows = 3;
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
  if (total >= 0 && total * cols != static_cast<int64_t>(values.size()))
    Fail("rows read differ from total_rows()");
  return values;
}

// How read-back values must match: every bit, or every bit except that any
// NaN matches any NaN (a text format keeps no NaN payload).
enum class Match { kBits, kBitsAnyNan };

template <typename T>
bool SameValues(const std::vector<T>& a, const std::vector<T>& b, Match match) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (match == Match::kBitsAnyNan && std::isnan(a[i]) && std::isnan(b[i]))
      continue;
    if (std::memcmp(&a[i], &b[i], sizeof(T)) != 0) return false;
  }
  return true;
}

// One pass over the row file at `path`: open_source(path) -> ReadAll, where
// only an input error may escape; then open_sink(out) writes the rows to
// `out` (a scratch file), and open_back(out) must read back the same
// values. The openers return the unique_ptrs of runtime/row_io.h.
template <typename T, typename OpenSource, typename OpenSink, typename OpenBack>
void ReadWriteReadBack(const std::string& path, int64_t cols,
                       const OpenSource& open_source, const OpenSink& open_sink,
                       const OpenBack& open_back, const std::string& out,
                       Match match) {
  std::vector<T> values;
  try {
    auto source = open_source(path);
    values = ReadAll(*source, cols);
  } catch (const Error& e) {
    CheckError(e, ErrorKind::kInput);
    return;
  }
  try {
    auto sink = open_sink(out);
    sink->Write(values.data(), static_cast<int64_t>(values.size()) / cols);
    sink->Commit();
    auto again = open_back(out);
    if (!SameValues(ReadAll(*again, cols), values, match))
      Fail("write -> read changed the values");
  } catch (const Error& e) {
    Fail("rows that were read could not be written and read back", e.what());
  }
}

}  // namespace rowflow::fuzz
