#include "runtime/session.h"

#include <fmt/format.h>
#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/info.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>

#include "graph/error.h"
#include "runtime/plan.h"

namespace rowflow {

namespace flow = tbb::flow;

int64_t DefaultTileRows(bool all_tiny, int64_t intermediate_bytes_per_row,
                        int64_t io_bytes_per_row) {
  const int64_t per_row =
      std::max<int64_t>(1, intermediate_bytes_per_row + io_bytes_per_row);
  // About 1 MB of activations per tile keeps a stage's output in L2 for the
  // next stage; big layers still get >= 256 rows of GEMM work per call.
  // Tiny networks run at memory speed: ~1.5 MB of rows per tile keeps the
  // graph's cost per tile near 1 % and lets the kernel stream its output
  // (ops/tiny_mlp_kernels.h); 8192..131072 rows.
  const int64_t rows =
      all_tiny ? std::clamp<int64_t>((int64_t{3} << 19) / per_row / 64 * 64,
                                     8192, 131072)
               : std::clamp<int64_t>((int64_t{1} << 20) / per_row / 16 * 16,
                                     256, 1024);
  // Rows of megabytes (the memory budget admits them) would make 256-row
  // tiles of gigabytes: an automatic tile stays within 64 MiB, or one row.
  constexpr int64_t kMaxAutoTileBytes = int64_t{64} << 20;
  return std::clamp<int64_t>(kMaxAutoTileBytes / per_row, 1, rows);
}

// Rows of the tile that starts at global row `row`: up to the next
// multiple of `tile_rows`, so that tiles fall where one run over the whole
// input cuts them (a Dask partition, an MPI rank's part), at most `left`.
namespace {
int64_t TileRowsAt(int64_t tile_rows, int64_t row, int64_t left) {
  return std::min(tile_rows - row % tile_rows, left);
}
}  // namespace

struct Session::ImplBase {
  virtual ~ImplBase() = default;
  virtual const std::vector<StageInfo>& stages() const = 0;
  virtual int64_t flops_per_row() const = 0;
  virtual int64_t intermediate_bytes_per_row() const = 0;
  virtual bool all_tiny() const = 0;
  virtual int64_t input_width() const = 0;
  virtual int64_t output_width() const = 0;

  void SetLast(RunStats stats) {
    std::lock_guard<std::mutex> lock(stats_mutex);
    last = std::move(stats);
  }

  // The tile of a call over `rows` rows in memory: the Session's, or with
  // an automatic tile and fewer rows than threads x tile, the rows split
  // evenly over the threads (in whole row blocks), but no tile smaller than
  // min_split_rows, below which a thread's share costs less than handing it
  // over.
  int64_t CallTileRows(int64_t rows) const {
    if (!auto_tile || threads == 1 || rows >= threads * tile_rows)
      return tile_rows;
    const int64_t share = (rows + threads - 1) / threads + kSplitRowBlock - 1;
    return std::min(tile_rows, std::max(share / kSplitRowBlock * kSplitRowBlock,
                                        min_split_rows));
  }

  // Split tiles are whole multiples of this (the panel kernel's row blocks
  // on AVX2 and of its dot-product kernel; ops/gemm.h).
  static constexpr int64_t kSplitRowBlock = 8;

  SessionOptions options;
  int threads = 1;
  int64_t tile_rows = 1;
  bool auto_tile = false;      // tile_rows chosen from the plan
  int64_t min_split_rows = 1;  // the smallest tile a split makes
  int max_in_flight = 1;
  mutable std::mutex stats_mutex;
  RunStats last;  // of the Run that finished last
};

template <typename T>
struct Session::Impl final : Session::ImplBase {
  // One tile of rows in flight: its buffers and where it sits in the input.
  struct Tile {
    int64_t seq = 0;
    int64_t first_row = 0;
    int64_t rows = 0;
    std::vector<T*> buffers;  // by plan buffer id
    std::vector<T> storage;   // intermediates, own input and output
    T* own_input = nullptr;   // streaming runs read rows here
    T* own_output = nullptr;  // and write results here
    std::chrono::steady_clock::time_point start;  // when the source emitted it
    // Inputs arrived so far at each join (a stage reading several stages).
    std::vector<std::atomic<int>> arrived;
  };

  // What one Run call holds while it runs: its arena and its tiles. Made
  // on first use and kept for later calls, so that a call reuses the
  // arena's threads and the tile buffers of the call before it;
  // concurrent calls each take their own.
  struct Context {
    explicit Context(int threads) : arena(threads) {}
    tbb::task_arena arena;
    std::vector<std::unique_ptr<Tile>> tiles;  // every tile ever made
    std::vector<Tile*> free_tiles;  // capacity reserved: no allocation
    std::mutex free_mutex;
  };

  Plan<T> plan;
  std::vector<std::string> node_names;  // by graph node id, for errors
  std::vector<int> join_slot;  // by stage: its Tile::arrived entry, or -1
  int joins = 0;
  std::mutex idle_mutex;
  std::vector<std::unique_ptr<Context>> idle;  // contexts no call holds

  Impl(const ir::Graph& graph, const PlanOptions& options)
      : plan(BuildPlan<T>(graph, options)) {
    for (const ir::Node& n : graph.nodes) node_names.push_back(n.name);
    join_slot.assign(plan.stages.size(), -1);
    for (size_t s = 0; s < plan.stages.size(); ++s) {
      if (plan.stages[s].deps.size() > 1) join_slot[s] = joins++;
    }
  }

  const std::vector<StageInfo>& stages() const override { return plan.stages; }
  int64_t flops_per_row() const override { return plan.flops_per_row; }
  int64_t intermediate_bytes_per_row() const override {
    return plan.IntermediateBytesPerRow();
  }
  bool all_tiny() const override { return plan.all_tiny; }
  int64_t input_width() const override { return plan.input_width; }
  int64_t output_width() const override { return plan.output_width; }

  // Takes an idle context (or makes one) for the length of one call and
  // gives it back when the call ends, however it ends.
  class ContextLease {
   public:
    explicit ContextLease(Impl& impl) : impl_(impl) {
      {
        std::lock_guard<std::mutex> lock(impl.idle_mutex);
        if (!impl.idle.empty()) {
          context_ = std::move(impl.idle.back());
          impl.idle.pop_back();
        }
      }
      if (!context_) context_ = std::make_unique<Context>(impl.threads);
    }
    ~ContextLease() {
      std::lock_guard<std::mutex> lock(impl_.idle_mutex);
      impl_.idle.push_back(std::move(context_));
    }
    ContextLease(const ContextLease&) = delete;
    ContextLease& operator=(const ContextLease&) = delete;
    Context& operator*() { return *context_; }

   private:
    Impl& impl_;
    std::unique_ptr<Context> context_;
  };

  Tile* Acquire(Context& c) {
    std::lock_guard<std::mutex> lock(c.free_mutex);
    if (c.free_tiles.empty()) {
      RF_CHECK(static_cast<int>(c.tiles.size()) < max_in_flight + 2);
      c.tiles.push_back(MakeTile());
      return c.tiles.back().get();
    }
    Tile* t = c.free_tiles.back();
    c.free_tiles.pop_back();
    return t;
  }

  void Release(Context& c, Tile* t) {
    std::lock_guard<std::mutex> lock(c.free_mutex);
    c.free_tiles.push_back(t);
  }

  std::unique_ptr<Tile> MakeTile() {
    auto t = std::make_unique<Tile>();
    // Each buffer starts on a 64-byte boundary of one allocation.
    const int64_t align = 64 / sizeof(T);
    auto padded = [&](int64_t width) {
      return (width * tile_rows + align - 1) / align * align;
    };
    int64_t total = align;
    for (int64_t w : plan.buffer_widths) total += padded(w);
    t->storage.resize(total);
    T* p = t->storage.data();
    p += (align - (reinterpret_cast<uintptr_t>(p) / sizeof(T)) % align) % align;
    t->buffers.resize(plan.buffer_widths.size());
    for (size_t b = 0; b < plan.buffer_widths.size(); ++b) {
      t->buffers[b] = p;
      p += padded(plan.buffer_widths[b]);
    }
    t->own_input = t->buffers[kInputBuffer];
    t->own_output = t->buffers[kOutputBuffer];
    t->arrived = std::vector<std::atomic<int>>(joins);
    return t;
  }

  // Runs the flow graph on a context of its own. `feed(tile)` fills the
  // next tile and returns false at the end of the input; `drain(tile)`
  // takes a finished tile, in order. Throws Error(kInterrupted) when
  // `cancel` turned true before the input ended.
  template <typename Feed, typename Drain>
  RunStats Execute(Feed&& feed, Drain&& drain,
                   const std::atomic<bool>* cancel) {
    ContextLease lease(*this);
    Context& c = *lease;
    {
      std::lock_guard<std::mutex> lock(c.free_mutex);
      c.free_tiles.clear();
      c.free_tiles.reserve(max_in_flight + 2);
      for (auto& t : c.tiles) {
        c.free_tiles.push_back(t.get());
        // A failed run can leave a join half counted.
        for (auto& a : t->arrived) a.store(0, std::memory_order_relaxed);
      }
    }
    RunStats stats;
    std::vector<std::atomic<bool>> seen(threads);
    const auto start = std::chrono::steady_clock::now();
    int64_t next_seq = 0;
    int64_t tiles_done = 0, rows_done = 0;
    bool cancelled = false;
    const bool record = options.record_tile_latency;
    const auto parallelism = AllowThreads();
    c.arena.execute([&] {
      flow::graph g;
      flow::input_node<Tile*> source(g, [&](tbb::flow_control& fc) -> Tile* {
        if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) {
          cancelled = true;
          fc.stop();
          return nullptr;
        }
        Tile* t = Acquire(c);
        t->seq = next_seq;
        if (!feed(t)) {
          Release(c, t);
          fc.stop();
          return nullptr;
        }
        ++next_seq;
        if (record) t->start = std::chrono::steady_clock::now();
        return t;
      });
      flow::limiter_node<Tile*> limiter(g, max_in_flight);
      flow::make_edge(source, limiter);
      std::vector<std::unique_ptr<flow::function_node<Tile*, Tile*>>>
          stage_nodes;
      std::vector<std::unique_ptr<flow::graph_node>> join_nodes;
      for (size_t s = 0; s < plan.stages.size(); ++s) {
        stage_nodes.push_back(
            std::make_unique<flow::function_node<Tile*, Tile*>>(
                g, flow::unlimited, [&, s](Tile* t) {
                  seen[tbb::this_task_arena::current_thread_index() % threads]
                      .store(true, std::memory_order_relaxed);
                  RunStage(s, t);
                  return t;
                }));
        ConnectInputs(g, s, limiter, stage_nodes, join_nodes);
      }
      flow::sequencer_node<Tile*> sequencer(g, [](Tile* const& t) -> size_t {
        return static_cast<size_t>(t->seq);
      });
      flow::make_edge(*stage_nodes.back(), sequencer);
      flow::function_node<Tile*, flow::continue_msg> sink(
          g, flow::serial, [&](Tile* t) {
            drain(t);
            ++tiles_done;
            rows_done += t->rows;
            if (record) {
              stats.tile_latency_us.push_back(
                  std::chrono::duration<double, std::micro>(
                      std::chrono::steady_clock::now() - t->start)
                      .count());
            }
            Release(c, t);
            return flow::continue_msg();
          });
      flow::make_edge(sequencer, sink);
      flow::make_edge(sink, limiter.decrementer());
      source.activate();
      g.wait_for_all();
    });
    if (cancelled) {
      throw MakeError(ErrorKind::kInterrupted, "interrupted after {} rows",
                      rows_done);
    }
    stats.rows = rows_done;
    stats.tiles = tiles_done;
    for (auto& s : seen) stats.threads_used += s.load() ? 1 : 0;
    stats.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    return stats;
  }

  // N threads means N, even above the core count: TBB's workers are
  // capped at the core count unless a global_control raises the cap (set
  // only then: making one takes a global lock).
  std::optional<tbb::global_control> AllowThreads() const {
    std::optional<tbb::global_control> g;
    if (threads > tbb::info::default_concurrency()) {
      g.emplace(tbb::global_control::max_allowed_parallelism, threads);
    }
    return g;
  }

  // Runs the `rows` rows of `in` into `out` in tiles of at most
  // `tile_rows`, all at once, without the flow graph: a call split over the
  // threads (CallTileRows) has no more tiles than threads, so nothing waits for
  // a tile to be handed on and no order needs keeping. Tiles are cut as Execute
  // cuts them, so the bits are the same.
  RunStats RunSplit(const T* in, T* out, int64_t rows, int64_t tile_rows,
                    int64_t first_row, const std::atomic<bool>* cancel) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::pair<int64_t, int64_t>> cuts;  // (row, rows) per tile
    for (int64_t r = 0; r < rows;) {
      const int64_t n = TileRowsAt(tile_rows, first_row + r, rows - r);
      cuts.emplace_back(r, n);
      r += n;
    }
    ContextLease lease(*this);
    Context& c = *lease;
    {
      std::lock_guard<std::mutex> lock(c.free_mutex);
      while (static_cast<int64_t>(c.tiles.size()) <
             static_cast<int64_t>(cuts.size())) {
        c.tiles.push_back(MakeTile());
      }
    }
    std::vector<std::atomic<bool>> seen(threads);
    std::atomic<int64_t> rows_done{0};
    std::atomic<bool> cancelled{false};
    const bool record = options.record_tile_latency;
    std::vector<double> latency_us(record ? cuts.size() : 0);
    const auto parallelism = AllowThreads();
    c.arena.execute([&] {
      tbb::parallel_for(
          size_t{0}, cuts.size(),
          [&](size_t i) {
            if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) {
              cancelled.store(true, std::memory_order_relaxed);
              return;
            }
            seen[tbb::this_task_arena::current_thread_index() % threads].store(
                true, std::memory_order_relaxed);
            // This lease's tiles, one per index: no lock.
            Tile* t = c.tiles[i].get();
            const auto [r, n] = cuts[i];
            const auto tile_start =
                record ? std::chrono::steady_clock::now() : decltype(start){};
            t->seq = static_cast<int64_t>(i);
            t->first_row = first_row + r;
            t->rows = n;
            t->buffers[kInputBuffer] =
                const_cast<T*>(in) + r * plan.input_width;
            t->buffers[kOutputBuffer] = out + r * plan.output_width;
            for (size_t s = 0; s < plan.stages.size(); ++s) RunStage(s, t);
            if (record) {
              latency_us[i] = std::chrono::duration<double, std::micro>(
                                  std::chrono::steady_clock::now() - tile_start)
                                  .count();
            }
            rows_done.fetch_add(n, std::memory_order_relaxed);
          },
          tbb::simple_partitioner());
    });
    if (cancelled.load()) {
      throw MakeError(ErrorKind::kInterrupted, "interrupted after {} rows",
                      rows_done.load());
    }
    RunStats stats;
    stats.rows = rows;
    stats.tiles = static_cast<int64_t>(cuts.size());
    stats.tile_latency_us = std::move(latency_us);
    for (auto& s : seen) stats.threads_used += s.load() ? 1 : 0;
    stats.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    return stats;
  }

  // Runs the rows [0, rows) of `in` into `out` as one tile on the calling
  // thread, without the flow graph: the stages in plan order (each reads
  // only earlier stages), the same checks and errors as Execute.
  RunStats RunInline(const T* in, T* out, int64_t rows, int64_t first_row,
                     const std::atomic<bool>* cancel) {
    if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) {
      throw MakeError(ErrorKind::kInterrupted, "interrupted after 0 rows");
    }
    RunStats stats;
    if (rows == 0) return stats;
    const auto start = std::chrono::steady_clock::now();
    ContextLease lease(*this);
    Context& c = *lease;
    // The lease is this call's alone: its first tile needs no lock.
    if (c.tiles.empty()) c.tiles.push_back(MakeTile());
    Tile* t = c.tiles.front().get();
    t->seq = 0;
    t->first_row = first_row;
    t->rows = rows;
    t->buffers[kInputBuffer] = const_cast<T*>(in);
    t->buffers[kOutputBuffer] = out;
    for (size_t s = 0; s < plan.stages.size(); ++s) RunStage(s, t);
    const auto end = std::chrono::steady_clock::now();
    if (options.record_tile_latency) {
      stats.tile_latency_us.push_back(
          std::chrono::duration<double, std::micro>(end - start).count());
    }
    stats.rows = rows;
    stats.tiles = 1;
    stats.threads_used = plan.stages.empty() ? 0 : 1;
    stats.seconds = std::chrono::duration<double>(end - start).count();
    return stats;
  }

  // Wires stage `s` to the stages it reads from: straight from the limiter
  // when it reads only input rows, from its one producer, or through a
  // join that passes the tile on when the last of its producers is done
  // with it (a count per tile: one node per join, however many inputs).
  void ConnectInputs(
      flow::graph& g, size_t s, flow::limiter_node<Tile*>& limiter,
      std::vector<std::unique_ptr<flow::function_node<Tile*, Tile*>>>& nodes,
      std::vector<std::unique_ptr<flow::graph_node>>& joins) {
    const std::vector<int>& deps = plan.stages[s].deps;
    if (deps.empty()) {
      flow::make_edge(limiter, *nodes[s]);
      return;
    }
    if (deps.size() == 1) {
      flow::make_edge(*nodes[deps[0]], *nodes[s]);
      return;
    }
    using Join = flow::multifunction_node<Tile*, std::tuple<Tile*>>;
    const int slot = join_slot[s];
    const int need = static_cast<int>(deps.size());
    auto join = std::make_unique<Join>(
        g, flow::unlimited,
        [slot, need](Tile* const& t, typename Join::output_ports_type& out) {
          // acq_rel: the last arrival sees every producer's writes.
          std::atomic<int>& arrived = t->arrived[slot];
          if (arrived.fetch_add(1, std::memory_order_acq_rel) + 1 < need)
            return;
          // No producer sends this tile again before it is reused.
          arrived.store(0, std::memory_order_relaxed);
          std::get<0>(out).try_put(t);
        });
    for (int d : deps) flow::make_edge(*nodes[d], *join);
    flow::make_edge(flow::output_port<0>(*join), *nodes[s]);
    joins.push_back(std::move(join));
  }

  void RunStage(size_t s, Tile* t) {
    const StageInfo& info = plan.stages[s];
    try {
      if (options.stage_hook) options.stage_hook(info, t->first_row, t->rows);
      plan.kernels[s]->Run(t->buffers.data(), t->rows);
    } catch (const std::exception& e) {
      const Error* re = dynamic_cast<const Error*>(&e);
      const std::string node = info.nodes.empty()
                                   ? std::string(StageKindName(info.kind))
                                   : node_names[info.nodes.back()];
      throw MakeError(re ? re->kind() : ErrorKind::kInternal,
                      "node '{}' ({}): rows {}-{}: {}", node, info.label,
                      t->first_row, t->first_row + t->rows - 1, e.what());
    }
  }
};

namespace {

void CheckOptions(const SessionOptions& o) {
  if (o.threads < 0 || o.threads > kMaxThreads) {
    throw MakeError(ErrorKind::kUsage,
                    "threads must be 0 (all cores) or 1..{}; got {}",
                    kMaxThreads, o.threads);
  }
  if (o.tile_rows < 0 || o.tile_rows > kMaxTileRows) {
    throw MakeError(ErrorKind::kUsage,
                    "tile rows must be 0 (automatic) or 1..{}; got {}",
                    kMaxTileRows, o.tile_rows);
  }
  if (o.max_tiles_in_flight < 0 || o.max_tiles_in_flight > 4 * kMaxThreads) {
    throw MakeError(ErrorKind::kUsage,
                    "tiles in flight must be 0 (automatic) or 1..{}; got {}",
                    4 * kMaxThreads, o.max_tiles_in_flight);
  }
}

}  // namespace

int64_t MinSplitRows(int64_t flops_per_row) {
  // Handing a tile to another thread costs a few microseconds (a worker's
  // wake-up and the flow graph); below this much work the caller is done
  // sooner on its own.
  constexpr int64_t kMinSplitFlops = int64_t{1} << 20;
  const int64_t per_row = std::max<int64_t>(flops_per_row, 1);
  return std::clamp<int64_t>((kMinSplitFlops + per_row - 1) / per_row, 1,
                             kMaxTileRows);
}

Session::Session(const ir::Graph& graph, const SessionOptions& options) {
  CheckOptions(options);
  if (graph.dtype == ir::DType::kF32) {
    impl_ = std::make_unique<Impl<float>>(graph, options.plan);
  } else {
    impl_ = std::make_unique<Impl<double>>(graph, options.plan);
  }
  impl_->options = options;
  impl_->threads =
      options.threads > 0 ? options.threads : tbb::info::default_concurrency();
  impl_->max_in_flight = options.max_tiles_in_flight > 0
                             ? options.max_tiles_in_flight
                             : std::max(4, 2 * impl_->threads);
  const int64_t io_bytes =
      (graph.InputWidth() + graph.OutputWidth()) * ir::DTypeSize(graph.dtype);
  impl_->auto_tile = options.tile_rows == 0;
  impl_->min_split_rows = MinSplitRows(impl_->flops_per_row());
  impl_->tile_rows =
      options.tile_rows > 0
          ? options.tile_rows
          : DefaultTileRows(impl_->all_tiny(),
                            impl_->intermediate_bytes_per_row(), io_bytes);
}

Session::~Session() = default;

template <typename T>
Session::Impl<T>& Session::Typed() const {
  auto* impl = dynamic_cast<Impl<T>*>(impl_.get());
  if (impl == nullptr) {
    throw MakeError(ErrorKind::kUsage,
                    "rows are f{}; the graph's dtype differs", sizeof(T) * 8);
  }
  return *impl;
}

template <typename T>
RowMatrix<T> Session::Run(const RowMatrix<T>& rows) {
  RowMatrix<T> out(rows.rows, Typed<T>().plan.output_width);
  Run<T>(ConstRowSpan<T>{rows.data.data(), rows.rows, rows.cols},
         RowSpan<T>{out.data.data(), out.rows, out.cols});
  return out;
}

template <typename T>
void Session::Run(ConstRowSpan<T> in, RowSpan<T> out,
                  const RunControl& control) {
  Impl<T>& impl = Typed<T>();
  if (control.first_row < 0) {
    throw MakeError(ErrorKind::kUsage, "first_row must be >= 0; got {}",
                    control.first_row);
  }
  if (in.cols != impl.plan.input_width) {
    throw MakeError(ErrorKind::kInput, "expected {} columns per row, got {}",
                    impl.plan.input_width, in.cols);
  }
  if (out.cols != impl.plan.output_width || out.rows != in.rows) {
    throw MakeError(ErrorKind::kUsage,
                    "the output holds {} rows of {} columns; expected {} of {}",
                    out.rows, out.cols, in.rows, impl.plan.output_width);
  }
  const int64_t tile_rows = impl.CallTileRows(in.rows);
  // One tile, cut where Execute would cut it (at multiples of the tile
  // from row 0 of the whole input).
  if (TileRowsAt(tile_rows, control.first_row, in.rows) == in.rows) {
    impl.SetLast(impl.RunInline(in.data, out.data, in.rows, control.first_row,
                                control.cancel));
    return;
  }
  if (tile_rows < impl.tile_rows) {  // split over the threads
    impl.SetLast(impl.RunSplit(in.data, out.data, in.rows, tile_rows,
                               control.first_row, control.cancel));
    return;
  }
  int64_t next_row = 0;
  RunStats stats = impl.Execute(
      [&](typename Impl<T>::Tile* t) {
        if (next_row >= in.rows) return false;
        t->first_row = control.first_row + next_row;
        t->rows = TileRowsAt(tile_rows, t->first_row, in.rows - next_row);
        // The tile reads and writes the caller's rows in place.
        t->buffers[kInputBuffer] = const_cast<T*>(in.data) + next_row * in.cols;
        t->buffers[kOutputBuffer] = out.data + next_row * out.cols;
        next_row += t->rows;
        return true;
      },
      [](typename Impl<T>::Tile*) {}, control.cancel);
  impl.SetLast(std::move(stats));
}

template <typename T>
void Session::Run(RowSource<T>& source, RowSink<T>& sink,
                  const RunControl& control) {
  Impl<T>& impl = Typed<T>();
  if (control.first_row < 0) {
    throw MakeError(ErrorKind::kUsage, "first_row must be >= 0; got {}",
                    control.first_row);
  }
  if (source.cols() != impl.plan.input_width) {
    throw MakeError(ErrorKind::kInput, "expected {} columns per row, got {}",
                    impl.plan.input_width, source.cols());
  }
  int64_t next_row = 0, rows_done = 0;
  const int64_t tile_rows = impl.tile_rows;
  const auto& progress =
      control.progress ? control.progress : impl.options.progress;
  RunStats stats = impl.Execute(
      [&](typename Impl<T>::Tile* t) {
        t->buffers[kInputBuffer] = t->own_input;
        t->buffers[kOutputBuffer] = t->own_output;
        t->first_row = control.first_row + next_row;
        t->rows = source.Read(t->own_input,
                              TileRowsAt(tile_rows, t->first_row, tile_rows));
        next_row += t->rows;
        return t->rows > 0;
      },
      [&](typename Impl<T>::Tile* t) {
        sink.Write(t->own_output, t->rows);
        rows_done += t->rows;
        if (progress) progress(rows_done);
      },
      control.cancel);
  // A cancel that came after the last tile entered the graph (Ctrl-C, or a
  // progress callback that failed while the last tiles were written) still
  // leaves no output: the sink is committed only by a run not cancelled.
  if (control.cancel != nullptr && control.cancel->load()) {
    throw MakeError(ErrorKind::kInterrupted, "interrupted after {} rows",
                    rows_done);
  }
  sink.Commit();
  impl.SetLast(std::move(stats));
}

int Session::threads() const { return impl_->threads; }
int64_t Session::tile_rows() const { return impl_->tile_rows; }
int Session::max_tiles_in_flight() const { return impl_->max_in_flight; }
const std::vector<StageInfo>& Session::stages() const {
  return impl_->stages();
}
int64_t Session::flops_per_row() const { return impl_->flops_per_row(); }
int64_t Session::input_width() const { return impl_->input_width(); }
int64_t Session::output_width() const { return impl_->output_width(); }
RunStats Session::last_run() const {
  std::lock_guard<std::mutex> lock(impl_->stats_mutex);
  return impl_->last;
}

template RowMatrix<float> Session::Run(const RowMatrix<float>&);
template RowMatrix<double> Session::Run(const RowMatrix<double>&);
template void Session::Run(ConstRowSpan<float>, RowSpan<float>,
                           const RunControl&);
template void Session::Run(ConstRowSpan<double>, RowSpan<double>,
                           const RunControl&);
template void Session::Run(RowSource<float>&, RowSink<float>&,
                           const RunControl&);
template void Session::Run(RowSource<double>&, RowSink<double>&,
                           const RunControl&);

}  // namespace rowflow
