// rowflow trace MODEL --row 3,5: every node's value for one input row, in
// topological order, printed the way the seed notebook prints them.
//
// Lines group what the notebook computes as one value (graph/trace_lines.h):
// "node_0_0: input 26, output 26" for a unit, "node_0: input [26, -13],
// output [26, 0]" for a layer, "name: value" for other nodes. The graph's
// outputs come last ("output: 182"). --all prints every node.
#include <fmt/format.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "graph/activation.h"
#include "graph/error.h"
#include "graph/trace_lines.h"
#include "runtime/reference.h"
#include "runtime/row_io.h"
#include "tools/cli/cli_util.h"
#include "tools/cli/commands.h"
#include "tools/cli/frontend.h"

namespace rowflow::cli {

template <typename T>
std::string TraceText(const ir::Graph& g, const RowMatrix<T>& row, bool all) {
  const std::vector<std::vector<T>> values = EvaluateAllValues(g, row);
  auto value = [&](int v) {
    return FormatValue(values[v].data(), g.values[v].shape);
  };
  std::string out;
  if (all) {
    for (const ir::Node& n : g.nodes) {
      const std::string act =
          n.op == ir::OpKind::kActivation ? " " + ir::ActivationLabel(n) : "";
      out += fmt::format("{} ({}{}): {}\n", n.name, ir::OpName(n.op), act,
                         value(n.output));
    }
    return out;
  }
  for (const ir::TraceLine& line : ir::TraceLines(g)) {
    if (line.input >= 0) {
      out += fmt::format("{}: input {}, output {}\n", line.name,
                         value(line.input), value(line.output));
    } else {
      out += fmt::format("{}: {}\n", line.name, value(line.output));
    }
  }
  for (int v : g.outputs) {
    // A one-element output prints as the number, as `run` writes it.
    const bool single = ir::NumElements(g.values[v].shape) == 1;
    out += fmt::format("{}: {}\n", g.values[v].name,
                       single ? ir::NumberToString(values[v][0]) : value(v));
  }
  return out;
}

template std::string TraceText(const ir::Graph&, const RowMatrix<float>&, bool);
template std::string TraceText(const ir::Graph&, const RowMatrix<double>&,
                               bool);

namespace {

// --row's numbers; a refusal is a usage error naming the option.
template <typename T>
RowMatrix<T> ParseRow(const std::string& text, int64_t width) {
  RowMatrix<T> row(1, width);
  try {
    row.data = ParseCsvRow<T>(text, width);
  } catch (const Error& e) {
    throw MakeError(ErrorKind::kUsage, "--row: {}", e.what());
  }
  return row;
}

template <typename T>
void TraceTyped(const ir::Graph& g, const std::string& row_text, bool all) {
  WriteStdout(TraceText(g, ParseRow<T>(row_text, g.InputWidth()), all));
}

}  // namespace

void AddTraceCommand(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  auto row = std::make_shared<std::string>();
  auto all = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("trace",
                                     "Print every node's value for one input "
                                     "row, as the seed notebook prints them");
  cmd->add_option("model", *path, "Model file (.pb or .pbtxt)")->required();
  cmd->add_option("--row", *row, "The input row, comma-separated: --row 3,5")
      ->required();
  cmd->add_flag("--all", *all,
                "One line per node (name (OP): value), nothing grouped");
  cmd->footer(
      "Example:\n"
      "  rowflow trace seed.pb --row 3,5\n"
      "A row that does not parse, or has the wrong count, exits 2.");
  cmd->callback([=] {
    const ir::Graph graph = LoadModel(*path);
    if (graph.dtype == ir::DType::kF32) {
      TraceTyped<float>(graph, *row, *all);
    } else {
      TraceTyped<double>(graph, *row, *all);
    }
  });
}

}  // namespace rowflow::cli
