// Load and save graphs in the model-file format (proto/rowflow.proto),
// binary (.pb) or text (.pbtxt); the loader detects which.
//
// Thread-safety: free functions without shared state.
#ifndef ROWFLOW_GRAPH_SERIALIZE_H_
#define ROWFLOW_GRAPH_SERIALIZE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "graph/ir.h"
#include "graph/validate.h"

namespace rowflow {

enum class Encoding { kBinary, kText };

struct LoadOptions {
  // Files over this size are refused before they are read; it is also
  // protobuf's total-bytes limit.
  int64_t max_file_bytes = int64_t{1} << 30;
  ValidateOptions validate;
};

// Reads, parses and validates the model at `path`. Every error is
// Error(kModel) starting with "<path>: " (and ":line:col" for text): bad
// bytes, and also a path that cannot be opened or read, a directory, an
// empty file (/dev/null, a FIFO without writer) and a file over the size
// limit. Devices and pipes are read, at most max_file_bytes of them.
ir::Graph LoadGraph(const std::string& path, const LoadOptions& options = {});

// Parses and validates model bytes in either encoding; `source` names them
// in messages.
ir::Graph ParseGraph(std::string_view bytes, std::string_view source,
                     const LoadOptions& options = {});

// The model file bytes of a validated graph.
std::string SerializeGraph(const ir::Graph& graph, Encoding encoding);

// Writes `graph` to `path` through a temp file in the same folder, renamed
// on success; throws Error(kIo) and leaves nothing behind on failure.
void SaveGraph(const ir::Graph& graph, const std::string& path,
               Encoding encoding);

// kText for paths ending in ".pbtxt" or ".txt", else kBinary.
Encoding EncodingForPath(std::string_view path);

}  // namespace rowflow

#endif  // ROWFLOW_GRAPH_SERIALIZE_H_
