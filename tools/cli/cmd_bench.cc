// rowflow bench: in-memory throughput of a model or a built-in workload over
// a sweep of thread counts and tile sizes, with a check that every point of
// the sweep produced bitwise-identical output.
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
#include "runtime/session.h"
#include "tools/cli/cli_util.h"
#include "tools/cli/commands.h"
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
};

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
                const std::string& name, int64_t rows) {
  const RowMatrix<T> input = WorkloadRows<T>(w.graph, rows);
  const std::string_view dtype = ir::DTypeName(w.graph.dtype);
  std::vector<int> threads = args.threads;
  if (threads.empty())
    threads = {1, static_cast<int>(std::thread::hardware_concurrency())};
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
      if (args.json) {
        // Rates in whole rows/s and the rest at the precision the text
        // table shows: the digits past it are timing noise.
        auto rounded = [](double v, double scale) {
          return std::round(v * scale) / scale;
        };
        const Json point = {{"workload", name},
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
                            {"identical_output", p.identical}};
        WriteStdout(JsonLine(point) + "\n");
      } else {
        if (points.size() == 1) {
          WriteStdout(fmt::format(
              "{} ({}): {} rows, {} FLOP/row, median of {} runs\n"
              "{:>7} {:>6} {:>14} {:>21} {:>8} {:>9} {:>9} {:>10} {:>8} "
              "{:>9}\n",
              name, dtype, rows, session.flops_per_row(), args.repeat,
              "threads", "tile", "rows/s", "min..max", "GFLOP/s", "p50 us",
              "p99 us", "peak RSS", "scaling", "identical"));
        }
        WriteStdout(fmt::format(
            "{:>7} {:>6} {:>14} {:>21} {:>8.1f} {:>9.0f} {:>9.0f} {:>7} MB "
            "{:>8} {:>9}\n",
            p.threads, p.tile, FormatSi(p.median),
            FormatSi(p.min) + ".." + FormatSi(p.max), p.median * flops / 1e9,
            p.p50_us, p.p99_us, p.peak_rss_kb / 1024,
            scaling > 0 ? fmt::format("{:.2f}", scaling) : std::string("-"),
            p.identical ? "yes" : "NO"));
      }
    }
  }
  if (!args.json) {
    const bool all = std::all_of(points.begin(), points.end(),
                                 [](const Point& p) { return p.identical; });
    WriteStdout(all ? "every point produced bitwise-identical output\n"
                    : "OUTPUT DIFFERS between points of the sweep\n");
  }
}

void RunBench(const BenchArgs& args) {
  if (args.model.empty() == args.workload.empty()) {
    throw Error(ErrorKind::kUsage,
                "bench takes a MODEL or --workload NAME (one of them); "
                "see 'rowflow bench --help'");
  }
  if (args.repeat < 1 || args.repeat > 1000) {
    throw MakeError(ErrorKind::kUsage, "--repeat must be 1..1000; got {}",
                    args.repeat);
  }
  Workload w = args.workload.empty()
                   ? Workload{"", LoadModel(args.model), 1'000'000}
                   : MakeWorkload(args.workload);
  const std::string name = args.workload.empty() ? w.graph.name : w.name;
  const int64_t rows = args.rows > 0 ? args.rows : w.default_rows;
  if (args.rows < 0 ||
      rows > (int64_t{1} << 34) / std::max<int64_t>(1, w.graph.InputWidth())) {
    throw MakeError(ErrorKind::kUsage,
                    "--rows must be 1..(16 G values of input); got {}",
                    args.rows);
  }
  if (w.graph.dtype == ir::DType::kF32) {
    BenchTyped<float>(args, w, name, rows);
  } else {
    BenchTyped<double>(args, w, name, rows);
  }
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
  cmd->add_flag("--json", args->json, "One JSON object per point");
  cmd->footer(
      "Example:\n  rowflow bench --workload mid --threads 1,2 --tile 256,1024 "
      "--repeat 5\n"
      "  rowflow bench model.pb --rows 1000000 --json");
  cmd->callback([args] { RunBench(*args); });
}

}  // namespace rowflow::cli
