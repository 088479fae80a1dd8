// What `rowflow run` shares with its multi-process form (tools/cli/mpi_run.h,
// built with ROWFLOW_MPI): the option checks and formats, and the hook by
// which main() hands a run to an MPI launch.
//
// Thread-safety: SetParallelRun before any run; the rest are plain functions.
#ifndef ROWFLOW_TOOLS_CLI_RUN_PARALLEL_H_
#define ROWFLOW_TOOLS_CLI_RUN_PARALLEL_H_

#include <string>

#include "graph/error.h"
#include "graph/ir.h"
#include "runtime/row_io.h"
#include "tools/cli/frontend.h"

namespace rowflow::cli {

// The formats of a run, its options checked against each other.
struct RunFormats {
  bool npy_in = false, npy_out = false;
  CsvOptions csv;  // for CSV input

  // The CSV output's header line ("" for none); call after the source
  // opened, which reads the kept columns' names.
  std::string SinkHeader(const ir::Graph& graph, const RunFileOptions& a) const;
};

// Checks `a` as RunFile does (ranges, input != output, flags that do not
// fit the formats): Error(kUsage) naming the flag.
RunFormats PlanRunFormats(const ir::Graph& graph, const RunFileOptions& a);

// Runs `rowflow run` over several processes when this one was started by
// an MPI launcher, printing the summary unless `quiet`; false when it was
// not, and the one-process path runs.
using ParallelRun = bool (*)(const ir::Graph& graph, const RunFileOptions& a,
                             bool quiet);
void SetParallelRun(ParallelRun run);

// An error another process of the run has reported: main() exits with its
// code and prints nothing.
class ReportedElsewhere : public Error {
 public:
  explicit ReportedElsewhere(ErrorKind kind)
      : Error(kind, "reported by another rank") {}
};

}  // namespace rowflow::cli

#endif  // ROWFLOW_TOOLS_CLI_RUN_PARALLEL_H_
