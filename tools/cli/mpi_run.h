// `rowflow run` under an MPI launcher (mpirun, srun), built with ROWFLOW_MPI.
//
// Rank r of N reads one contiguous part of the input: .npy rows
// [R*r/N, R*(r+1)/N) at their byte offsets, CSV the lines that start in
// bytes [S*r/N, S*(r+1)/N) snapped forward to line starts (the header is
// read by every rank from the file's start; its line is rank 0's). Each
// rank runs its part through its own Session, and the ranks write one
// output file in input order: .npy rows at their offsets through MPI-IO
// while they run, CSV (and .npy from CSV) through a per-rank anonymous
// spool copied to offsets from an MPI_Exscan of the spools' sizes. The file
// is rank 0's AtomicFile temp, renamed into place only once every rank has
// succeeded; any rank's error stops the others (a message on a second
// communicator, polled once per tile) and the first failing rank reports
// it, with global line and row numbers.
//
// Not in parts: stdin, stdout and compressed files (no seeking), and quoted
// fields holding newlines (a part's edge may cut them): all refused.
//
// Thread-safety: called once, from main's thread; MPI runs at
// MPI_THREAD_SERIALIZED (the tile-draining thread calls MPI while the main
// thread waits in Session::Run).
#ifndef ROWFLOW_TOOLS_CLI_MPI_RUN_H_
#define ROWFLOW_TOOLS_CLI_MPI_RUN_H_

#include "graph/ir.h"
#include "tools/cli/frontend.h"

namespace rowflow::cli {

// Whether an MPI launcher started this process, by the variables Open MPI
// (OMPI_COMM_WORLD_SIZE), PMI (PMI_SIZE) and PMIx (PMIX_RANK) set.
bool LaunchedByMpi();

// The ParallelRun of tools/cli/run_parallel.h: false (having done nothing
// but MPI_Init and MPI_Finalize) when not launched by MPI or with 1 rank.
bool RunUnderMpi(const ir::Graph& graph, const RunFileOptions& a, bool quiet);

}  // namespace rowflow::cli

#endif  // ROWFLOW_TOOLS_CLI_MPI_RUN_H_
