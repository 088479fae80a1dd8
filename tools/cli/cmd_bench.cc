// rowflow bench: in-memory throughput of a model or a built-in workload over
// a sweep of thread counts and tile sizes, with a check that every point of
// the sweep produced bitwise-identical output, set against the machine's
// limits (tools/cli/machine_limits.h) at the same thread counts.
#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <thread>

#include "graph/error.h"
#include "graph/serialize.h"
#include "runtime/row_io.h"
#include "runtime/session.h"
#include "tools/cli/cli_util.h"
#include "tools/cli/commands.h"
#include "tools/cli/machine_limits.h"
#include "tools/cli/workloads.h"

namespace rowflow::cli {
namespace {

struct BenchArgs {
  std::string model;
  std::string workload;
  int64_t rows = 0;
  std::vector<int> threads;
  std::vector<int64_t> tiles;
  int repeat = 5;
  bool json = false;
  std::string dtype;  // "", "f32" or "f64": --workload's dtype
  bool limits_only = false, no_limits = false;
  std::string save_model, save_input;
};

// The machine's limits at one thread count.
struct Limit {
  int threads;
  double fma_f32, fma_f64;  // GFLOP/s
  double copy;              // read + write GB/s
};

struct Limits {
  std::string isa;
  int64_t copy_bytes = 0;
  std::vector<Limit> at;

  const Limit* Find(int threads) const {
    for (const Limit& l : at) {
      if (l.threads == threads) return &l;
    }
    return nullptr;
  }
};

// 0 threads is all cores, as SessionOptions has it.
int ResolveThreads(int t) {
  return t > 0 ? t
               : std::max(
                     1, static_cast<int>(std::thread::hardware_concurrency()));
}

std::vector<int> SweepThreads(const BenchArgs& args) {
  if (!args.threads.empty()) return args.threads;
  return {1, ResolveThreads(0)};
}

Limits MeasureLimits(const std::vector<int>& sweep) {
  std::vector<int> threads;
  for (int t : sweep) {
    if (std::find(threads.begin(), threads.end(), ResolveThreads(t)) ==
        threads.end())
      threads.push_back(ResolveThreads(t));
  }
  Limits out;
  out.copy_bytes = CopyBufferBytes();
  const std::vector<double> copy =
      MeasureCopyBandwidth(threads, out.copy_bytes);
  for (size_t i = 0; i < threads.size(); ++i) {
    const FmaLimit fma = MeasureFmaLimit(threads[i]);
    out.isa = fma.isa;
    out.at.push_back({threads[i], fma.gflops_f32, fma.gflops_f64, copy[i]});
  }
  return out;
}

double Rounded(double v, double scale) { return std::round(v * scale) / scale; }

void PrintLimits(const Limits& limits, bool json) {
  for (const Limit& l : limits.at) {
    if (json) {
      WriteStdout(JsonLine({{"threads", l.threads},
                            {"fma_isa", limits.isa},
                            {"fma_gflops_f32", Rounded(l.fma_f32, 10)},
                            {"fma_gflops_f64", Rounded(l.fma_f64, 10)},
                            {"copy_gbytes_per_s", Rounded(l.copy, 100)},
                            {"copy_buffer_bytes", limits.copy_bytes}}) +
                  "\n");
      continue;
    }
    if (&l == &limits.at.front()) {
      WriteStdout(fmt::format(
          "machine limits, best of 3: FMA loop ({}), memcpy of {} MiB "
          "(read + write)\n{:>7} {:>16} {:>16} {:>10}\n",
          limits.isa, limits.copy_bytes >> 20, "threads", "FMA f32 GFLOP/s",
          "FMA f64 GFLOP/s", "copy GB/s"));
    }
    WriteStdout(fmt::format("{:>7} {:>16.1f} {:>16.1f} {:>10.1f}\n", l.threads,
                            l.fma_f32, l.fma_f64, l.copy));
  }
}

struct Point {
  int threads;
  int64_t tile;
  double median, min, max;  // rows/s
  double p50_us, p99_us;
  int64_t peak_rss_kb;
  bool identical;
};

// Resets the kernel's peak-RSS mark so each point reports its own peak.
void ResetPeakRss() { std::ofstream("/proc/self/clear_refs") << "5"; }

int64_t PeakRssKb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6));
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1,
                    static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// The sweep over one graph of dtype T (float for F32, double for F64).
template <typename T>
void BenchTyped(const BenchArgs& args, const Workload& w,
                const std::string& name, int64_t rows, const Limits* limits) {
  const RowMatrix<T> input = WorkloadRows<T>(w.graph, rows);
  const std::string_view dtype = ir::DTypeName(w.graph.dtype);
  // What a row moves through memory at least: its input and its output.
  const int64_t bytes_per_row =
      (w.graph.InputWidth() + w.graph.OutputWidth()) * int64_t{sizeof(T)};
  const std::vector<int> threads = SweepThreads(args);
  std::vector<int64_t> tiles =
      args.tiles.empty() ? std::vector<int64_t>{0} : args.tiles;

  std::optional<std::vector<T>> first_output;
  std::vector<Point> points;
  for (int64_t tile : tiles) {
    for (int t : threads) {
      SessionOptions options;
      options.threads = t;
      options.tile_rows = tile;
      options.record_tile_latency = true;
      Session session(w.graph, options);
      ResetPeakRss();
      RowMatrix<T> out = session.Run(input);  // warm-up: pools, pages, caches
      std::vector<double> rates, latencies;
      for (int k = 0; k < args.repeat; ++k) {
        out = session.Run(input);
        rates.push_back(static_cast<double>(rows) / session.last_run().seconds);
        const auto& lat = session.last_run().tile_latency_us;
        latencies.insert(latencies.end(), lat.begin(), lat.end());
      }
      if (!first_output) first_output = out.data;
      Point p{t,
              session.tile_rows(),
              Percentile(rates, 0.5),
              *std::min_element(rates.begin(), rates.end()),
              *std::max_element(rates.begin(), rates.end()),
              Percentile(latencies, 0.5),
              Percentile(latencies, 0.99),
              PeakRssKb(),
              out.data == *first_output};
      points.push_back(p);
      const double flops = static_cast<double>(session.flops_per_row());
      // Scaling against 1 thread at the same tile size, when measured.
      double scaling = 0;
      for (const Point& q : points) {
        if (q.threads == 1 && q.tile == p.tile)
          scaling = p.median / (q.median * p.threads);
      }
      const double gflops = p.median * flops / 1e9;
      const double gbytes = p.median * static_cast<double>(bytes_per_row) / 1e9;
      const Limit* limit =
          limits ? limits->Find(ResolveThreads(p.threads)) : nullptr;
      const double fma_limit =
          limit ? (sizeof(T) == 4 ? limit->fma_f32 : limit->fma_f64) : 0;
      if (args.json) {
        // Rates in whole rows/s and the rest at the precision the text
        // table shows: the digits past it are timing noise.
        const auto rounded = Rounded;
        Json point = {{"workload", name},
                      {"dtype", dtype},
                      {"rows", rows},
                      {"threads", p.threads},
                      {"tile_rows", p.tile},
                      {"rows_per_s", std::llround(p.median)},
                      {"rows_per_s_min", std::llround(p.min)},
                      {"rows_per_s_max", std::llround(p.max)},
                      {"gflops", rounded(p.median * flops / 1e9, 100)},
                      {"p50_us", rounded(p.p50_us, 10)},
                      {"p99_us", rounded(p.p99_us, 10)},
                      {"peak_rss_kb", p.peak_rss_kb},
                      {"scaling", rounded(scaling, 1000)},
                      {"identical_output", p.identical},
                      {"bytes_per_row", bytes_per_row},
                      {"gbytes_per_s", rounded(gbytes, 100)}};
        if (limit) {
          point["fma_limit_gflops"] = rounded(fma_limit, 10);
          point["fma_fraction"] = rounded(gflops / fma_limit, 1000);
          point["copy_limit_gbytes_per_s"] = rounded(limit->copy, 100);
          point["copy_fraction"] = rounded(gbytes / limit->copy, 1000);
        }
        WriteStdout(JsonLine(point) + "\n");
      } else {
        if (points.size() == 1) {
          WriteStdout(fmt::format(
              "{} ({}): {} rows, {} FLOP/row, {} B/row in + out, median of {} "
              "runs\n"
              "{:>7} {:>6} {:>14} {:>21} {:>8} {:>9} {:>9} {:>10} {:>8} "
              "{:>9}{}\n",
              name, dtype, rows, session.flops_per_row(), bytes_per_row,
              args.repeat, "threads", "tile", "rows/s", "min..max", "GFLOP/s",
              "p50 us", "p99 us", "peak RSS", "scaling", "identical",
              limits ? fmt::format(" {:>7} {:>8}", "of FMA", "of copy")
                     : std::string()));
        }
        auto percent = [](double v) {
          return fmt::format("{:.0f} %", 100 * v);
        };
        WriteStdout(fmt::format(
            "{:>7} {:>6} {:>14} {:>21} {:>8.1f} {:>9.0f} {:>9.0f} {:>7} MB "
            "{:>8} {:>9}{}\n",
            p.threads, p.tile, FormatSi(p.median),
            FormatSi(p.min) + ".." + FormatSi(p.max), gflops, p.p50_us,
            p.p99_us, p.peak_rss_kb / 1024,
            scaling > 0 ? fmt::format("{:.2f}", scaling) : std::string("-"),
            p.identical ? "yes" : "NO",
            limit ? fmt::format(" {:>7} {:>8}", percent(gflops / fma_limit),
                                percent(gbytes / limit->copy))
                  : std::string()));
      }
    }
  }
  if (!args.json) {
    const bool all = std::all_of(points.begin(), points.end(),
                                 [](const Point& p) { return p.identical; });
    WriteStdout(all ? "every point produced bitwise-identical output\n"
                    : "OUTPUT DIFFERS between points of the sweep\n");
    if (limits) PrintLimits(*limits, false);
  }
}

// --save-model / --save-input: the files a peer needs to run the same
// network on the same rows.
template <typename T>
void SaveInputRows(const ir::Graph& graph, int64_t rows,
                   const std::string& path) {
  const RowMatrix<T> input = WorkloadRows<T>(graph, rows);
  std::unique_ptr<RowSink<T>> sink = OpenNpySink<T>(path, input.cols);
  sink->Write(input.data.data(), input.rows);
  sink->Commit();
}

void CheckThreads(const std::vector<int>& threads) {
  for (int t : threads) {
    if (t < 0 || t > kMaxThreads) {
      throw MakeError(ErrorKind::kUsage,
                      "--threads must be 0 (all cores) or 1..{}; got {}",
                      kMaxThreads, t);
    }
  }
}

void RunBench(const BenchArgs& args) {
  CheckThreads(args.threads);
  if (args.limits_only && args.no_limits) {
    throw Error(ErrorKind::kUsage, "give --limits or --no-limits, not both");
  }
  if (args.limits_only) {
    if (!args.model.empty() || !args.workload.empty() ||
        !args.save_model.empty() || !args.save_input.empty() ||
        !args.dtype.empty()) {
      throw Error(ErrorKind::kUsage,
                  "--limits measures the machine alone; give it without a "
                  "MODEL, --workload, --dtype or --save-*");
    }
    PrintLimits(MeasureLimits(SweepThreads(args)), args.json);
    return;
  }
  if (args.model.empty() == args.workload.empty()) {
    throw Error(ErrorKind::kUsage,
                "bench takes a MODEL or --workload NAME (one of them); "
                "see 'rowflow bench --help'");
  }
  if (!args.dtype.empty() && !args.model.empty()) {
    throw Error(ErrorKind::kUsage,
                "--dtype picks a --workload's dtype; a MODEL has its own");
  }
  if (args.repeat < 1 || args.repeat > 1000) {
    throw MakeError(ErrorKind::kUsage, "--repeat must be 1..1000; got {}",
                    args.repeat);
  }
  if (!args.save_input.empty() && !args.save_input.ends_with(".npy")) {
    throw MakeError(ErrorKind::kUsage,
                    "--save-input writes .npy; got '{}' (name it *.npy)",
                    args.save_input);
  }
  const ir::DType dtype =
      args.dtype == "f64" ? ir::DType::kF64 : ir::DType::kF32;
  Workload w = args.workload.empty()
                   ? Workload{"", LoadModel(args.model), 1'000'000}
                   : MakeWorkload(args.workload, dtype);
  const std::string name = args.workload.empty() ? w.graph.name : w.name;
  const int64_t rows = args.rows > 0 ? args.rows : w.default_rows;
  if (args.rows < 0 ||
      rows > (int64_t{1} << 34) / std::max<int64_t>(1, w.graph.InputWidth())) {
    throw MakeError(ErrorKind::kUsage,
                    "--rows must be 1..(16 G values of input); got {}",
                    args.rows);
  }
  const bool f32 = w.graph.dtype == ir::DType::kF32;
  if (!args.save_model.empty() || !args.save_input.empty()) {
    if (!args.save_model.empty())
      SaveGraph(w.graph, args.save_model, EncodingForPath(args.save_model));
    if (!args.save_input.empty()) {
      f32 ? SaveInputRows<float>(w.graph, rows, args.save_input)
          : SaveInputRows<double>(w.graph, rows, args.save_input);
    }
    return;
  }
  std::optional<Limits> limits;
  if (!args.no_limits) limits = MeasureLimits(SweepThreads(args));
  const Limits* l = limits ? &*limits : nullptr;
  f32 ? BenchTyped<float>(args, w, name, rows, l)
      : BenchTyped<double>(args, w, name, rows, l);
}

}  // namespace

void AddBenchCommand(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "In-memory throughput over threads x tile sizes");
  cmd->add_option("model", args->model, "Model file (.pb or .pbtxt)");
  cmd->add_option("--workload", args->workload,
                  "Built-in workload: seed, mid, wide, tanh");
  cmd->add_option("--rows", args->rows,
                  "Input rows (default: the workload's, or 1 M)")
      ->check(NumberCheck<int64_t>());
  cmd->add_option("--threads", args->threads,
                  "Thread counts, comma-separated (default 1,all)")
      ->delimiter(',')
      ->check(NumberCheck<int>());
  cmd->add_option("--tile", args->tiles,
                  "Tile sizes, comma-separated (default: the plan's)")
      ->delimiter(',')
      ->check(NumberCheck<int64_t>());
  cmd->add_option("--repeat", args->repeat, "Timed runs per point (default 5)")
      ->check(NumberCheck<int>());
  cmd->add_option("--dtype", args->dtype,
                  "The workload's dtype: f32 (default) or f64")
      ->check(CLI::IsMember({"f32", "f64"}));
  cmd->add_flag("--json", args->json, "One JSON object per point");
  cmd->add_flag("--limits", args->limits_only,
                "Only measure the machine's limits (FMA loop, memcpy) at "
                "the --threads counts");
  cmd->add_flag("--no-limits", args->no_limits,
                "Skip the limits every sweep measures first (~2 s)");
  cmd->add_option("--save-model", args->save_model,
                  "Write the workload's model (.pb, or text .pbtxt) and exit");
  cmd->add_option("--save-input", args->save_input,
                  "Write its --rows input rows as .npy and exit");
  cmd->footer(
      "Every sweep is set against the machine's limits at the same thread\n"
      "counts: GFLOP/s as a share of the FMA loop's (of the model's dtype),\n"
      "bytes in + out per row as a share of memcpy's read + write GB/s.\n"
      "Example:\n  rowflow bench --workload mid --threads 1,2 --tile 256,1024 "
      "--repeat 5\n"
      "  rowflow bench --workload wide --dtype f64 --threads 2\n"
      "  rowflow bench model.pb --rows 1000000 --json --no-limits\n"
      "  rowflow bench --limits --threads 1,2 --json\n"
      "  rowflow bench --workload mid --rows 4096 --save-model mid.pb "
      "--save-input mid.npy");
  cmd->callback([args] { RunBench(*args); });
}

}  // namespace rowflow::cli
