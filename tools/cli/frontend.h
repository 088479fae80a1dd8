// What the rowflow subcommands do, as functions over a loaded model, for
// the front ends that are not the command line (the Python package,
// tools/python/): one implementation, so that `s.run_file(...)` and
// `rowflow run` stream, refuse and word their errors the same way.
//
// Thread-safety: free functions without shared state; RunFile may run on
// several threads at once over different files.
#ifndef ROWFLOW_TOOLS_CLI_FRONTEND_H_
#define ROWFLOW_TOOLS_CLI_FRONTEND_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "graph/ir.h"
#include "runtime/row_io.h"
#include "runtime/rows.h"

namespace rowflow::cli {

// `rowflow run`'s options, one field per flag (README "rowflow run").
struct RunFileOptions {
  std::string input, output;  // paths; "-" is stdin / stdout
  std::string format;         // "", "csv" or "npy" (--format)
  int64_t threads = 0;        // 0: all cores
  int64_t tile_rows = 0;      // 0: the plan's choice
  int64_t max_line_bytes = CsvOptions{}.max_line_bytes;
  bool header = false, output_header = false, skip_blank = false;
  bool check_finite = false;
  std::string columns, keep, delimiter, decimal, comment;
  bool na_given = false;  // --na was given (even as "")
  std::string na;         // comma-separated NaN tokens
  // Called on the thread that drains tiles, in row order, with the rows
  // written so far and the share of the input read (< 0: unknown).
  std::function<void(int64_t rows_done, double fraction)> progress;
  // Stops the run before the next tile (Error kInterrupted); no output.
  const std::atomic<bool>* cancel = nullptr;
};

struct RunFileResult {
  int64_t rows = 0;
  double seconds = 0;
  int threads_used = 0;
  int64_t tile_rows = 0;
};

// Streams o.input through `graph` into o.output with `rowflow run`'s
// semantics: CSV / .npy by extension or o.format, compression by magic in
// and by extension out, the output committed atomically only on success
// and never the input file. Throws Error with the CLI's one-line message.
RunFileResult RunFile(const ir::Graph& graph, const RunFileOptions& o);

// `rowflow dot`: the model as Graphviz DOT text, one box per fused layer
// when `collapse`.
std::string DotText(const ir::Graph& graph, bool collapse);
// Graphs above this many nodes collapse unless --expand.
inline constexpr size_t kAutoCollapseNodes = 200;

// `rowflow inspect --json` of a valid model read from `path`.
std::string InspectJson(const std::string& path, const ir::Graph& graph);

// `rowflow trace` of one row (`row` holds InputWidth numbers).
template <typename T>
std::string TraceText(const ir::Graph& graph, const RowMatrix<T>& row,
                      bool all);

}  // namespace rowflow::cli

#endif  // ROWFLOW_TOOLS_CLI_FRONTEND_H_
