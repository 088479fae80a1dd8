// The .npy file header: parsing the Python-literal dict that describes the
// array ({'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }) and
// formatting the fixed-size header rowflow writes.
//
// It lives in graph/ because both row files (runtime/) and weight files
// named by layer specs (graph/spec.h) are .npy.
//
// The parser accepts any bytes: it never reads out of bounds, never
// recurses, allocates at most O(text size), and throws Error(kInput) (or
// the kind ReadNpyHeader is given).
//
// Thread-safety: plain functions over values.
#ifndef ROWFLOW_GRAPH_NPY_FORMAT_H_
#define ROWFLOW_GRAPH_NPY_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "graph/error.h"

namespace rowflow {

// Largest header dict accepted, in bytes (as numpy's own reader).
inline constexpr int64_t kNpyMaxHeaderBytes = 10000;

// Size of the header rowflow writes (magic through '\n'), a multiple of 64.
inline constexpr int64_t kNpyWrittenHeaderBytes = 128;

// What the header dict says about the array.
struct NpyHeader {
  int itemsize = 0;         // 4 ('f4') or 8 ('f8')
  bool big_endian = false;  // descr '>f4' / '>f8'
  bool fortran_order = false;
  std::vector<int64_t> shape;  // each >= 0; product * itemsize fits int64
  int64_t data_offset = 0;     // ReadNpyHeader: where the data starts
};

// Reads a .npy file's preamble (the \x93NUMPY magic, version 1.0, 2.0 or
// 3.0, the dict's length) and header dict through `read(dst, n)`, which
// returns the bytes it read (fewer than n only at the end), and parses the
// dict. Every error is Error(`kind`) naming `file`, e.g. "<file>: not a .npy
// file (no \x93NUMPY magic)"; the data follows the header.
NpyHeader ReadNpyHeader(const std::function<size_t(char*, size_t)>& read,
                        const std::string& file, ErrorKind kind);

// Parses the header dict `text`; errors name `file`, e.g.
// "<file>: unsupported .npy dtype '<i4'; expected '<f4' or '<f8'".
NpyHeader ParseNpyHeader(std::string_view text, const std::string& file);

// The complete version 1.0 header (kNpyWrittenHeaderBytes bytes) for a
// (rows, cols) C-order array of little-endian floats of `itemsize` bytes.
std::string FormatNpyHeader(int itemsize, int64_t rows, int64_t cols);

// "(3, 4)", "(3,)", "()": a shape as numpy prints it.
std::string NpyShapeString(const std::vector<int64_t>& shape);

}  // namespace rowflow

#endif  // ROWFLOW_GRAPH_NPY_FORMAT_H_
