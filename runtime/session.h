// Session: runs a graph over many rows in parallel on a oneTBB flow graph.
//
// The graph is validated, planned into fused stages (runtime/plan.h) and, on
// every Run, wired into a tbb::flow::graph: a source emits tiles of rows, a
// limiter bounds the tiles in flight, one function_node per stage runs with
// unlimited concurrency (where branches meet, one join node per stage counts
// its producers' arrivals in the tile and passes the tile on after the
// last), and a sequencer restores row order before the sink.
// All of it runs inside the Session's one task_arena of exactly `threads`
// threads. Each Run takes its own set of tile buffers from a pool kept by
// the Session (made on first use, reused by later calls).
//
// Small batches: with an automatic tile, a Run over rows in memory that are
// fewer than threads x tile splits them evenly over the threads (tiles of
// whole 8-row blocks, none below MinSplitRows); and a Run whose rows fit one
// tile skips the flow graph and runs the stages on the calling thread, with
// the same cancel check (before the tile), errors and stats (one tile, one
// thread).
//
// Determinism: the same graph and input give bitwise-identical output for
// any thread count, any tile size and any number of concurrent calls.
//
// Thread-safety: Run may be called from several threads at once on one
// Session. The calls run concurrently, sharing the arena's `threads`
// threads; each call has its own tiles, so the memory a call holds stays
// bounded by tiles in flight x tile rows, per call.
#ifndef ROWFLOW_RUNTIME_SESSION_H_
#define ROWFLOW_RUNTIME_SESSION_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "graph/ir.h"
#include "runtime/plan.h"
#include "runtime/row_io.h"
#include "runtime/rows.h"

namespace rowflow {

// The most threads a Session accepts.
inline constexpr int kMaxThreads = 1024;
// The most rows a tile may hold.
inline constexpr int64_t kMaxTileRows = int64_t{1} << 20;

struct SessionOptions {
  int threads = 0;              // 0: all cores; else 1..kMaxThreads
  int64_t tile_rows = 0;        // 0: chosen from the plan (and split)
  int max_tiles_in_flight = 0;  // 0: 2 x threads (at least 4)
  PlanOptions plan;
  // Called after each tile reaches the sink, in row order, with the rows
  // done so far (streaming runs); for progress reports.
  std::function<void(int64_t rows_done)> progress;
  // Record each tile's latency (source to sink) in RunStats, for bench.
  bool record_tile_latency = false;
  // Test hook, called before each stage runs on a tile with the stage and
  // the tile's first row and row count; it may throw to inject a fault.
  std::function<void(const StageInfo& stage, int64_t first_row, int64_t rows)>
      stage_hook;
};

// Per-call controls of one Run.
struct RunControl {
  // Checked before each tile enters the graph: once it reads true the run
  // stops within the tiles in flight and Run throws Error(kInterrupted).
  // The streaming Run checks it once more before committing the sink, so a
  // cancel during the last tiles leaves no output either.
  const std::atomic<bool>* cancel = nullptr;
  // Replaces SessionOptions::progress for this call when set.
  std::function<void(int64_t rows_done)> progress;
  // The row number of this call's first row when it runs a part of a
  // bigger input (a rank's part under mpirun, a Dask partition): kernel
  // errors and stage_hook name rows from it, and tiles are cut where one
  // call over the whole input would cut them (at multiples of tile_rows
  // from row 0), so a part's error message is the whole run's. >= 0.
  int64_t first_row = 0;
};

// What a Run did.
struct RunStats {
  int64_t rows = 0;
  int64_t tiles = 0;
  // The threads that ran: distinct arena threads that ran a plan stage on a
  // tile, counted exactly (a flag per arena slot, set once per stage and
  // tile). At most min(threads, tiles x stages); 0 for no rows. The CSV
  // parse and print inside the source and sink are not counted.
  int threads_used = 0;
  double seconds = 0;
  std::vector<double> tile_latency_us;  // with record_tile_latency, in order
};

class Session {
 public:
  // Plans `graph` (validated; see graph/validate.h). Throws Error(kUsage)
  // for bad options.
  explicit Session(const ir::Graph& graph, const SessionOptions& options = {});
  ~Session();

  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Runs the graph over `rows` (rows, InputWidth) -> (rows, OutputWidth).
  // T must be the graph's dtype. Throws the first kernel error, naming the
  // node and the tile's rows; the Session stays usable.
  template <typename T>
  RowMatrix<T> Run(const RowMatrix<T>& rows);

  // The same over caller-owned memory, without a copy: tiles read `in` and
  // write `out` in place. `out` must have in.rows rows of OutputWidth; the
  // two must not overlap. On error `out` holds unspecified values.
  template <typename T>
  void Run(ConstRowSpan<T> in, RowSpan<T> out, const RunControl& control = {});

  // Streams `source` through the graph into `sink`, in order, with memory
  // bounded by tiles in flight x tile rows; commits the sink on success.
  template <typename T>
  void Run(RowSource<T>& source, RowSink<T>& sink,
           const RunControl& control = {});

  // The arena's size: the threads a Run may use (last_run() says how many
  // did).
  int threads() const;
  int64_t tile_rows() const;
  int max_tiles_in_flight() const;
  const std::vector<StageInfo>& stages() const;
  int64_t flops_per_row() const;
  int64_t input_width() const;
  int64_t output_width() const;
  // What the Run that finished last did (of concurrent calls, the last to
  // finish).
  RunStats last_run() const;

 private:
  struct ImplBase;
  template <typename T>
  struct Impl;
  // The Impl of dtype T; Error(kUsage) when the graph's dtype differs.
  template <typename T>
  Impl<T>& Typed() const;
  std::unique_ptr<ImplBase> impl_;
};

// The tile size the Session picks for `plan` when none is given: tiny
// networks take big tiles to amortize the per-tile cost, others the rows
// whose intermediates fit about 1 MB, within 256..1024, and
// never more than 64 MiB per tile.
int64_t DefaultTileRows(bool all_tiny, int64_t intermediate_bytes_per_row,
                        int64_t io_bytes_per_row);

// The fewest rows of a tile that a Run splitting a small batch over the
// threads (an automatic tile) gives each thread, for a plan of
// `flops_per_row`.
int64_t MinSplitRows(int64_t flops_per_row);

}  // namespace rowflow

#endif  // ROWFLOW_RUNTIME_SESSION_H_
