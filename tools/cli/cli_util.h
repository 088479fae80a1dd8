// Helpers shared by the rowflow subcommands: loading a model with the CLI's
// error mapping, printing per-row values the way the seed notebook does,
// laying out JSON and quoting strings for Graphviz DOT.
//
// Thread-safety: free functions without shared state.
#ifndef ROWFLOW_TOOLS_CLI_CLI_UTIL_H_
#define ROWFLOW_TOOLS_CLI_CLI_UTIL_H_

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "graph/ir.h"
#include "runtime/plan.h"

namespace rowflow::cli {

// Loads and validates the model at `path` (LoadGraph). Every failure,
// including a file that cannot be opened or read, is Error(kModel): exit
// code 3 means "no usable model", while 5 is kept for output files. An ONNX
// file gets a hint to run `rowflow import-onnx` first.
ir::Graph LoadModel(const std::string& path);

// Throws Error(kUsage) when `output` names the same file as `input` (same
// device and inode: the same path, a symlink, a hard link, /dev/stdout
// redirected to it; "-" is stdin or stdout): writing it would replace the
// rows being read. An output that does not exist yet passes; so do
// devices and pipes, which are not replaced.
void CheckNotSameFile(const std::string& input, const std::string& output);

// One row of a value with per-row `shape`, each number as
// ir::NumberToString writes it: "26" for a scalar, "[26, -13]"
// for a vector, "[[1, 2], [3, 4]]" for a matrix.
template <typename T>
std::string FormatValue(const T* data, const ir::Shape& shape);

// "1.19 M" / "312 k" / "950": a rate with an SI prefix and 3 digits.
std::string FormatSi(double v);

// Writes `text` to stdout, checking every write: Error(kIo) on failure,
// BrokenPipeError when the reader went away (`| head`).
void WriteStdout(std::string_view text);

// A test hook of `rowflow run`, one process and under mpirun: with
// ROWFLOW_TEST_FAIL_ROW=N in the environment, a SessionOptions::stage_hook
// that throws Error(kInternal) "injected fault" in a stage running the tile
// that holds row N (0-based, of the whole input); without it, empty.
std::function<void(const StageInfo&, int64_t, int64_t)> TestFaultHook();

// JSON documents keep their keys in the order they were added.
using Json = nlohmann::ordered_json;

// `value` on one line with ", " and ": " separators (as Python's json.dumps
// writes it); invalid UTF-8 in strings becomes U+FFFD so the output always
// parses.
std::string JsonLine(const Json& value);

// `s` as a double-quoted DOT string usable as an ID or a label: quotes and
// backslashes escaped, newlines as "\n", other control bytes as '?'.
std::string DotQuote(std::string_view s);

}  // namespace rowflow::cli

#endif  // ROWFLOW_TOOLS_CLI_CLI_UTIL_H_
