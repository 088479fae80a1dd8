// rowflow run MODEL -i IN -o OUT: streams rows through a Session, in order,
// from CSV / .npy / stdin into CSV / .npy / stdout.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "graph/error.h"
#include "graph/ir.h"
#include "runtime/compress.h"
#include "runtime/row_check.h"
#include "runtime/row_io.h"
#include "runtime/session.h"
#include "tools/cli/cli_util.h"
#include "tools/cli/commands.h"
#include "tools/cli/frontend.h"
#include "tools/cli/progress_line.h"
#include "tools/cli/run_parallel.h"

namespace rowflow::cli {
namespace {

ParallelRun g_parallel_run = nullptr;  // SetParallelRun

// Range checks here, before anything is opened, so that a bad option is a
// usage error with a message naming the flag.
void CheckOptions(const RunFileOptions& o) {
  if (o.threads < 0 || o.threads > kMaxThreads) {
    throw MakeError(ErrorKind::kUsage, "--threads must be in 1..{}; got {}",
                    kMaxThreads, o.threads);
  }
  if (o.tile_rows < 0 || o.tile_rows > kMaxTileRows) {
    throw MakeError(ErrorKind::kUsage, "--tile must be in 1..{}; got {}",
                    kMaxTileRows, o.tile_rows);
  }
}

// One character from a dialect option: itself, "tab" for a tab, "auto"
// (where `allow_auto`) for '\0'.
char DialectChar(const std::string& text, const char* option, bool allow_auto) {
  if (text == "tab" || text == "\\t" || text == "\t") return '\t';
  if (allow_auto && text == "auto") return '\0';
  if (text.size() != 1 || text[0] == '"' || text[0] == '\n' ||
      text[0] == '\r') {
    throw MakeError(ErrorKind::kUsage,
                    "{} must be one character other than '\"' and a newline{}; "
                    "got '{}'",
                    option, allow_auto ? ", 'tab' or 'auto'" : "", text);
  }
  return text[0];
}

// The CSV reading options of the command line.
CsvOptions MakeCsvOptions(const RunFileOptions& a, const ir::Graph& graph) {
  CsvOptions o;
  o.header = a.header;
  o.max_line_bytes = a.max_line_bytes;
  o.columns = a.columns;
  o.keep = a.keep;
  if (!a.delimiter.empty())
    o.delimiter = DialectChar(a.delimiter, "--delimiter", true);
  if (!a.decimal.empty()) {
    if (a.decimal != "." && a.decimal != ",") {
      throw MakeError(ErrorKind::kUsage,
                      "--decimal must be '.' or ','; got '{}'", a.decimal);
    }
    o.decimal = a.decimal[0];
  }
  if (!a.comment.empty())
    o.comment = DialectChar(a.comment, "--comment", false);
  o.skip_blank = a.skip_blank;
  if (a.na_given) {
    size_t pos = 0;
    for (;;) {
      const size_t comma = a.na.find(',', pos);
      o.na.push_back(a.na.substr(pos, comma - pos));
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
  }
  for (int id : graph.inputs) {
    const ir::Value& v = graph.values[static_cast<size_t>(id)];
    o.inputs.emplace_back(v.name, ir::NumElements(v.shape));
  }
  if (!a.keep.empty()) o.pass_through = std::make_shared<CsvPassThrough>();
  return o;
}

// The outputs (name, width), for the output header.
std::vector<std::pair<std::string, int64_t>> OutputColumns(
    const ir::Graph& graph) {
  std::vector<std::pair<std::string, int64_t>> outputs;
  for (int id : graph.outputs) {
    const ir::Value& v = graph.values[static_cast<size_t>(id)];
    outputs.emplace_back(v.name, ir::NumElements(v.shape));
  }
  return outputs;
}

// npy for "*.npy" (also "*.npy.gz", "*.npy.zst"), else CSV; "-" is CSV;
// --format decides when given.
bool IsNpy(const std::string& path, const std::string& format) {
  if (!format.empty()) return format == "npy";
  return path != "-" && StripCompressionSuffix(path).ends_with(".npy");
}

}  // namespace

RunFormats PlanRunFormats(const ir::Graph& graph, const RunFileOptions& a) {
  CheckOptions(a);
  CheckNotSameFile(a.input, a.output);
  const bool npy_in = IsNpy(a.input, a.format);
  if (npy_in && a.header) {
    throw MakeError(ErrorKind::kUsage,
                    "--header applies to CSV input; {} is read as .npy, whose "
                    "header is not a line",
                    a.input == "-" ? "<stdin>" : a.input);
  }
  const bool npy_out = IsNpy(a.output, a.format);
  const bool csv_options = !a.columns.empty() || !a.keep.empty() ||
                           !a.delimiter.empty() || !a.decimal.empty() ||
                           !a.comment.empty() || a.skip_blank || a.na_given;
  if (npy_in && csv_options) {
    throw MakeError(ErrorKind::kUsage,
                    "--columns, --keep, --delimiter, --na, --decimal, "
                    "--comment and --skip-blank read CSV input; {} is .npy",
                    a.input == "-" ? "<stdin>" : a.input);
  }
  if (npy_out && (!a.keep.empty() || a.output_header)) {
    throw MakeError(ErrorKind::kUsage,
                    "--keep and --output-header write CSV output; {} is .npy",
                    a.output == "-" ? "<stdout>" : a.output);
  }
  CsvOptions csv;
  if (!npy_in) csv = MakeCsvOptions(a, graph);
  return {npy_in, npy_out, std::move(csv)};
}

std::string RunFormats::SinkHeader(const ir::Graph& graph,
                                   const RunFileOptions& a) const {
  if (npy_out || !(a.output_header || (a.header && !npy_in))) return "";
  return CsvHeaderLine(
      csv.pass_through ? csv.pass_through->names : std::vector<std::string>{},
      OutputColumns(graph));
}

namespace {

// Whether reading `path` may wait for a writer: a pipe, FIFO, terminal or
// socket, not a file.
bool InputMayWait(const std::string& path) {
  struct stat st;
  const int r =
      path == "-" ? fstat(STDIN_FILENO, &st) : stat(path.c_str(), &st);
  return r == 0 && !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode);
}

template <typename T>
RunFileResult RunTyped(const ir::Graph& graph, const RunFileOptions& a) {
  const RunFormats f = PlanRunFormats(graph, a);
  const bool npy_in = f.npy_in;
  std::unique_ptr<RowSource<T>> source =
      npy_in ? OpenNpySource<T>(a.input, graph.InputWidth())
             : OpenCsvSource<T>(a.input, graph.InputWidth(), f.csv);
  CsvSinkOptions sink_options;
  sink_options.pass_through = f.csv.pass_through;
  sink_options.header = f.SinkHeader(graph, a);  // after the source read it
  std::unique_ptr<RowSink<T>> sink =
      f.npy_out ? OpenNpySink<T>(a.output, graph.OutputWidth())
                : OpenCsvSink<T>(a.output, graph.OutputWidth(), sink_options);

  SessionOptions options;
  options.threads = static_cast<int>(a.threads);
  // A pipe's reader waits in read() on an arena thread; with one thread the
  // tile read before it would wait too, and a filter whose writer waits for
  // that tile's output (a streaming job) would hang. A second arena thread
  // runs the tiles while the first waits.
  if (options.threads == 1 && InputMayWait(a.input)) options.threads = 2;
  options.tile_rows = a.tile_rows;
  options.stage_hook = TestFaultHook();
  Session session(graph, options);
  RunControl control;
  control.cancel = a.cancel;
  if (a.progress) {
    control.progress = [&](int64_t rows) {
      a.progress(rows, source->progress());
    };
  }

  const auto start = std::chrono::steady_clock::now();
  const RowLocator where{a.input == "-" ? "<stdin>" : a.input, !npy_in,
                         a.header};
  if (a.check_finite) {
    FiniteCheckSource<T> checked_source(*source, where);
    FiniteCheckSink<T> checked_sink(*sink, graph.OutputWidth(), where,
                                    checked_source.row_lines());
    session.Run<T>(checked_source, checked_sink, control);
  } else {
    session.Run<T>(*source, *sink, control);
  }
  RunFileResult result;
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  const RunStats stats = session.last_run();
  result.rows = stats.rows;
  // The threads that ran tiles, not the arena's size: --threads 1024 over
  // one tile says 1 thread.
  result.threads_used = stats.threads_used;
  result.tile_rows = session.tile_rows();
  return result;
}

struct RunArgs {
  RunFileOptions file;
  std::string model;
  bool quiet = false;
  const CLI::Option* na_opt = nullptr;
  const CLI::Option* threads_opt = nullptr;
  const CLI::Option* tile_opt = nullptr;
};

void Run(RunArgs& a) {
  a.file.na_given = a.na_opt->count() > 0;
  // 0 is "not given" in RunFileOptions; on the command line it is refused.
  if (a.threads_opt->count() > 0 && a.file.threads == 0) {
    throw MakeError(ErrorKind::kUsage, "--threads must be in 1..{}; got 0",
                    kMaxThreads);
  }
  if (a.tile_opt->count() > 0 && a.file.tile_rows == 0) {
    throw MakeError(ErrorKind::kUsage, "--tile must be in 1..{}; got 0",
                    kMaxTileRows);
  }
  const ir::Graph graph = LoadModel(a.model);
  if (g_parallel_run != nullptr && g_parallel_run(graph, a.file, a.quiet))
    return;
  double fraction = -1;
  ProgressLine progress(!a.quiet && isatty(STDERR_FILENO),
                        [&fraction] { return fraction; });
  a.file.progress = [&](int64_t rows, double read) {
    fraction = read;
    progress.Update(rows);
  };
  const RunFileResult r = RunFile(graph, a.file);
  progress.Clear();
  if (a.quiet) return;
  std::fprintf(
      stderr,
      "rowflow: %lld rows in %.2f s (%s rows/s), %d thread%s, tile %lld\n",
      static_cast<long long>(r.rows), r.seconds,
      FormatSi(r.seconds > 0 ? static_cast<double>(r.rows) / r.seconds : 0)
          .c_str(),
      r.threads_used, r.threads_used == 1 ? "" : "s",
      static_cast<long long>(r.tile_rows));
}

}  // namespace

void SetParallelRun(ParallelRun run) { g_parallel_run = run; }

RunFileResult RunFile(const ir::Graph& graph, const RunFileOptions& o) {
  return graph.dtype == ir::DType::kF32 ? RunTyped<float>(graph, o)
                                        : RunTyped<double>(graph, o);
}

void AddRunCommand(CLI::App& app) {
  auto a = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand("run",
                                     "Run a model over rows: CSV/.npy/stdin "
                                     "in, CSV/.npy/stdout out, in input order");
  cmd->add_option("model", a->model, "Model file (.pb or .pbtxt)")->required();
  cmd->add_option("-i,--input", a->file.input,
                  "Input rows: .csv, .npy or - (stdin); gzip/zstd "
                  "detected from the bytes")
      ->required();
  cmd->add_option("-o,--output", a->file.output,
                  "Output rows: .csv, .npy or - (stdout); .gz/.zst "
                  "compress; never the input file")
      ->required();
  a->threads_opt =
      cmd->add_option("--threads", a->file.threads,
                      "Worker threads, 1..1024 (default: all cores)")
          ->check(NumberCheck<int64_t>());
  a->tile_opt = cmd->add_option("--tile", a->file.tile_rows,
                                "Rows per tile (default: the plan's choice)")
                    ->check(NumberCheck<int64_t>());
  cmd->add_option("--format", a->file.format,
                  "Row format of input and output, overriding the "
                  "extension (- is csv)")
      ->check(CLI::IsMember({"csv", "npy"}));
  cmd->add_flag("--header", a->file.header,
                "CSV input's first line names its columns; the output gets "
                "a header line too");
  cmd->add_flag("--output-header", a->file.output_header,
                "Write a header line naming the kept columns and the outputs");
  cmd->add_option("--columns", a->file.columns,
                  "The model's input columns, in its order: names, 1-based "
                  "indices, ranges ('x1,x2,x5-x9', '2-65')");
  cmd->add_option("--keep", a->file.keep,
                  "Columns copied unchanged before the predictions (IDs), "
                  "same syntax as --columns");
  cmd->add_option("--delimiter", a->file.delimiter,
                  "CSV field separator: one character, 'tab', or 'auto' "
                  "(sniffed from the first line); default ','");
  a->na_opt = cmd->add_option(
      "--na", a->file.na,
      "Comma-separated tokens read as NaN, e.g. 'NA,,NaN,null' (default: "
      "refused)");
  cmd->add_option("--decimal", a->file.decimal,
                  "Decimal mark: '.' (default) or ','");
  cmd->add_option("--comment", a->file.comment,
                  "Skip lines starting with this character, e.g. '#'");
  cmd->add_flag("--skip-blank", a->file.skip_blank,
                "Skip blank lines anywhere");
  cmd->add_option("--max-line-bytes", a->file.max_line_bytes,
                  "Longest accepted CSV input line (default 1 MiB)")
      ->check(NumberCheck<int64_t>());
  cmd->add_flag("--check-finite", a->file.check_finite,
                "Fail at the first NaN or infinity in the input or output, "
                "naming row and column");
  cmd->add_flag("-q,--quiet", a->quiet,
                "No progress line and no summary on stderr");
  cmd->footer(
      "Examples:\n"
      "  rowflow run seed.pb -i rows.csv -o predictions.csv\n"
      "  cat rows.csv | rowflow run seed.pb -i - -o - | head\n"
      "  rowflow run seed.pb -i rows.npy -o predictions.npy --threads 4\n"
      "  rowflow run seed.pb -i rows.csv.gz -o predictions.csv.zst\n"
      "Exit codes: 2 usage, 3 invalid model, 4 invalid input rows, 5 output\n"
      "not writable; a reader closing stdout early (| head) is exit 0. No\n"
      "partial output file is ever left behind.");
  cmd->callback([a] { Run(*a); });
}

}  // namespace rowflow::cli
