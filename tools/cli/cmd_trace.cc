// rowflow trace MODEL --row 3,5: every node's value for one input row, in
// topological order, printed the way the seed notebook prints them.
//
// Lines group what the notebook computes as one value: a unit's
// "(x * w).sum()" plus its bias and activation print as
// "node_0_0: input 26, output 26"; a layer-form layer as
// "node_0: input [26, -13], output [26, 0]"; other nodes as "name: value".
// The graph's outputs come last ("output: 182"). --all prints every node.
#include <fmt/format.h>

#include <charconv>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "graph/dense_match.h"
#include "graph/error.h"
#include "runtime/reference.h"
#include "tools/cli/cli_util.h"
#include "tools/cli/commands.h"

namespace rowflow::cli {
namespace {

// Parses "3,5" into exactly `width` numbers of T; Error(kUsage) otherwise.
template <typename T>
RowMatrix<T> ParseRow(std::string_view text, int64_t width) {
  std::vector<std::string_view> fields;
  for (size_t start = 0;;) {
    const size_t comma = text.find(',', start);
    fields.push_back(text.substr(start, comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (static_cast<int64_t>(fields.size()) != width) {
    throw MakeError(ErrorKind::kUsage, "--row: expected {} values, got {}",
                    width, fields.size());
  }
  RowMatrix<T> row(1, width);
  for (size_t i = 0; i < fields.size(); ++i) {
    std::string_view f = fields[i];
    while (!f.empty() && (f.front() == ' ' || f.front() == '\t'))
      f.remove_prefix(1);
    while (!f.empty() && (f.back() == ' ' || f.back() == '\t'))
      f.remove_suffix(1);
    if (f.size() > 1 && f[0] == '+' && f[1] != '-') f.remove_prefix(1);
    auto [end, ec] =
        std::from_chars(f.data(), f.data() + f.size(), row.data[i]);
    if (f.empty() || ec == std::errc::invalid_argument ||
        end != f.data() + f.size()) {
      throw MakeError(ErrorKind::kUsage,
                      "--row: value {} is not a number: '{}'", i + 1,
                      fields[i]);
    }
    if (ec == std::errc::result_out_of_range) {
      throw MakeError(ErrorKind::kUsage,
                      "--row: value {} is out of range for f{}: '{}'", i + 1,
                      sizeof(T) * 8, fields[i]);
    }
  }
  return row;
}

// How lines are grouped: which node's line a node belongs to.
struct Grouping {
  std::vector<int> producer;   // by value id: node id, or -1
  std::vector<int> consumers;  // by value id: number of consuming nodes
  std::vector<bool> absorbed;  // by node id: printed as part of another line
};

// Marks each contraction's MULTIPLY, and its SUM when a bias ADD follows,
// as absorbed into the line of its last node: a unit's "(x * w).sum()" and
// bias print as one value (graph/dense_match.h).
void AbsorbContractions(const ir::Graph& g, Grouping& gr) {
  for (const ir::DenseMatch& match : ir::FindContractions(g)) {
    const ir::DenseUnit& unit = match.parts[0];
    gr.absorbed[unit.multiply] = true;
    if (unit.bias_add >= 0) gr.absorbed[unit.sum] = true;
  }
}

template <typename T>
std::string Trace(const ir::Graph& g, const RowMatrix<T>& row, bool all) {
  const std::vector<std::vector<T>> values = EvaluateAllValues(g, row);
  auto value = [&](int v) {
    return FormatValue(values[v].data(), g.values[v].shape);
  };
  std::string out;
  if (all) {
    for (const ir::Node& n : g.nodes) {
      const std::string act =
          n.op == ir::OpKind::kActivation
              ? " " + std::string(ir::ActivationName(n.activation))
              : "";
      out += fmt::format("{} ({}{}): {}\n", n.name, ir::OpName(n.op), act,
                         value(n.output));
    }
    return out;
  }
  Grouping gr{std::vector<int>(g.values.size(), -1),
              std::vector<int>(g.values.size(), 0),
              std::vector<bool>(g.nodes.size(), false)};
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    gr.producer[g.nodes[n].output] = static_cast<int>(n);
    for (int v : g.nodes[n].inputs) ++gr.consumers[v];
  }
  for (int v : g.outputs) ++gr.consumers[v];  // an output is never absorbed
  // An activation whose input is used only by it: one "input X, output Y"
  // line at the activation, named after the unit ("<unit>_input") if any.
  std::vector<int> pre(g.nodes.size(), -1);  // activation -> its input node
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const ir::Node& node = g.nodes[n];
    const int p =
        node.op == ir::OpKind::kActivation ? gr.producer[node.inputs[0]] : -1;
    if (p < 0 || gr.consumers[g.nodes[p].output] != 1) continue;
    pre[n] = p;
    gr.absorbed[p] = true;
  }
  AbsorbContractions(g, gr);
  auto is_output = [&](int v) {
    for (int o : g.outputs) {
      if (o == v) return true;
    }
    return false;
  };
  constexpr std::string_view kUnit = "_input";
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const ir::Node& node = g.nodes[n];
    if (gr.absorbed[n]) continue;
    const std::string& head = pre[n] >= 0 ? g.nodes[pre[n]].name : node.name;
    const bool unit = head.size() > kUnit.size() && head.ends_with(kUnit);
    const std::string name =
        unit ? head.substr(0, head.size() - kUnit.size()) : node.name;
    if (pre[n] >= 0) {
      out += fmt::format("{}: input {}, output {}\n", name,
                         value(g.nodes[pre[n]].output), value(node.output));
    } else if (unit) {  // a unit without activation: output = input
      out += fmt::format("{}: input {}, output {}\n", name, value(node.output),
                         value(node.output));
    } else if (!is_output(node.output)) {
      out += fmt::format("{}: {}\n", node.name, value(node.output));
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

template <typename T>
void TraceTyped(const ir::Graph& g, const std::string& row_text, bool all) {
  WriteStdout(Trace(g, ParseRow<T>(row_text, g.InputWidth()), all));
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
