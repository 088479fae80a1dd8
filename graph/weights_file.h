// Weight files named by a layer spec (`npy: "w1.npy"`, `csv: "w1.csv"`):
// reading them safely from the spec's folder and decoding their values.
//
// Paths are relative to the spec's folder and never leave it: absolute
// paths, ".." components and symlinks resolving outside are refused. Every
// error is Error(kModel) whose message starts with the file's path as
// written in the spec; the spec builder prefixes the spec, layer and field.
//
// Thread-safety: free functions; a reader may be called from one thread at
// a time (the built-in ones hold no mutable state).
#ifndef ROWFLOW_GRAPH_WEIGHTS_FILE_H_
#define ROWFLOW_GRAPH_WEIGHTS_FILE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace rowflow {

// Largest weight file read, in bytes, whatever the declared shape.
inline constexpr int64_t kMaxWeightFileBytes = int64_t{1} << 30;

// The bytes of the regular file at `path`, named `shown` in messages;
// refuses anything else (a directory, a device, a FIFO) and files over
// `max_bytes`; with `no_follow` a final symlink is refused too.
std::string ReadRegularFile(const std::string& path, const std::string& shown,
                            int64_t max_bytes, bool no_follow);

// Returns the bytes of the weight file at `path` (relative, already passed
// CheckWeightPath); refuses files over `max_bytes`; throws Error(kModel).
using WeightFileReader =
    std::function<std::string(const std::string& path, int64_t max_bytes)>;

// Refuses, by the text alone, an empty or absolute path, one with a ".."
// component or a NUL byte.
void CheckWeightPath(const std::string& path);

// A reader of regular files under `dir` whose real path (after symlinks)
// stays inside the real path of `dir`.
WeightFileReader FolderWeightReader(const std::string& dir);

// A reader over in-memory files {relative path -> bytes}, for tests and
// fuzzing; a missing path reads as "no such file".
WeightFileReader MemoryWeightReader(std::map<std::string, std::string> files);

// The most bytes a weight file of `count` values may take in `format`
// ("npy" or "csv"), capped at kMaxWeightFileBytes.
int64_t WeightFileByteBound(std::string_view format, int64_t count);

// The values of .npy `bytes` (named `path`): f4 or f8 of either byte order,
// C or Fortran order (converted), whose shape must be exactly `shape`.
std::vector<double> DecodeNpyWeights(std::string_view bytes,
                                     const std::string& path,
                                     const std::vector<int64_t>& shape);

// The values of CSV `bytes` (named `path`), row-major, as a (rows, cols)
// matrix: one line per row, comma-separated numbers; blank lines and lines
// starting with '#' are skipped, CRLF, a missing final newline and a
// leading UTF-8 BOM are fine.
// With `vector_ok`, a single row or a single column of rows*cols values is
// accepted too (for biases).
std::vector<double> DecodeCsvWeights(std::string_view bytes,
                                     const std::string& path, int64_t rows,
                                     int64_t cols, bool vector_ok);

}  // namespace rowflow

#endif  // ROWFLOW_GRAPH_WEIGHTS_FILE_H_
