// rowflow dot MODEL [--collapse]: the graph in Graphviz DOT. Every value
// has one DOT node "v<id>" (its input, constant or producing node); edges
// are labeled with the per-row shape they carry. Collapsed, each fused plan
// stage (one dense layer, an elementwise chain) is one box "s<i>".
#include <fmt/format.h>

#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "graph/activation.h"
#include "graph/op_schema.h"
#include "runtime/plan.h"
#include "tools/cli/cli_util.h"
#include "tools/cli/commands.h"
#include "tools/cli/frontend.h"

namespace rowflow::cli {
namespace {

// Constants up to this many elements show their values.
constexpr int64_t kShownConstantElements = 8;

std::string ValueId(int v) { return fmt::format("\"v{}\"", v); }

std::string ConstantLabel(const ir::Graph& g, const ir::Value& v) {
  const ir::Tensor& t = g.constants[v.index];
  std::string label = v.name + "\n" + ir::ShapeToString(t.shape);
  if (static_cast<int64_t>(t.data.size()) <= kShownConstantElements) {
    // Stored as double; an F32 graph's weights print as the floats they are.
    const std::vector<float> f32(t.data.begin(), t.data.end());
    label += " = " + (g.dtype == ir::DType::kF32
                          ? FormatValue(f32.data(), t.shape)
                          : FormatValue(t.data.data(), t.shape));
  }
  return label;
}

std::string NodeLabel(const ir::Graph& g, const ir::Node& n) {
  std::string op(ir::OpName(n.op));
  const unsigned attributes = ir::GetOpSchema(n.op).attributes;
  if (attributes & ir::kActivationAttribute) op += " " + ir::ActivationLabel(n);
  if (attributes & ir::kAxisAttribute) op += fmt::format(" axis={}", n.axis);
  if (attributes & ir::kShapeAttribute)
    op += " shape=" + ir::ShapeToString(n.shape);
  std::string label = n.name + "\n" + op;
  const std::string& out = g.values[n.output].name;
  if (out != n.name) label += "\n-> " + out;
  return label;
}

// "dense 2->2 RELU" as "dense 2→2 RELU".
std::string StageLabel(const std::string& label) {
  std::string out;
  for (size_t i = 0; i < label.size(); ++i) {
    if (label.compare(i, 2, "->") == 0) {
      out += "\u2192";
      ++i;
    } else {
      out += label[i];
    }
  }
  return out;
}

}  // namespace

std::string DotText(const ir::Graph& g, bool collapse) {
  // box[v]: the DOT id standing for value v's producer.
  std::vector<std::string> box(g.values.size());
  for (size_t v = 0; v < g.values.size(); ++v)
    box[v] = ValueId(static_cast<int>(v));
  std::vector<int> stage_of(g.nodes.size(), -1);
  std::string out = fmt::format("digraph {} {{\n",
                                DotQuote(g.name.empty() ? "rowflow" : g.name));
  out += fmt::format(
      "  label={};\n  labelloc=t;\n  rankdir=LR;\n",
      DotQuote(fmt::format("{} ({})", g.name, ir::DTypeName(g.dtype))));
  out +=
      "  node [fontname=\"Helvetica\", fontsize=10];\n"
      "  edge [fontname=\"Helvetica\", fontsize=9];\n";
  if (collapse) {
    PlanOptions options;
    options.fuse_tiny = false;  // one box per layer, not one per tiny chain
    const std::vector<StageInfo> stages = DescribePlan(g, options);
    for (size_t s = 0; s < stages.size(); ++s) {
      if (stages[s].nodes.size() < 2) continue;
      const std::string id = fmt::format("\"s{}\"", s);
      const ir::Node& last = g.nodes[stages[s].nodes.back()];
      for (int n : stages[s].nodes) {
        stage_of[n] = static_cast<int>(s);
        box[g.nodes[n].output] = id;
      }
      out += fmt::format(
          "  {} [label={}, shape=box, style=\"rounded,filled\", "
          "fillcolor=\"#fdf2d0\"];\n",
          id, DotQuote(last.name + "\n" + StageLabel(stages[s].label)));
    }
  }
  for (int v : g.inputs) {
    out += fmt::format(
        "  {} [label={}, shape=ellipse, style=filled, "
        "fillcolor=\"#dbe9f6\"];\n",
        ValueId(v),
        DotQuote(g.values[v].name + "\n" +
                 ir::ShapeToString(g.values[v].shape)));
  }
  // Edges in first-seen order, each drawn once.
  std::vector<std::tuple<std::string, std::string, std::string>> edges;
  std::set<std::tuple<std::string, std::string, std::string>> seen_edges;
  std::set<int> used_constants;
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const ir::Node& node = g.nodes[n];
    const std::string& dst = box[node.output];
    if (stage_of[n] < 0) {
      out += fmt::format("  {} [label={}, shape=box, style=rounded];\n", dst,
                         DotQuote(NodeLabel(g, node)));
    }
    for (int u : node.inputs) {
      const bool constant = g.values[u].kind == ir::ValueKind::kConstant;
      if (box[u] == dst || (constant && stage_of[n] >= 0))
        continue;  // inside one box
      if (constant) used_constants.insert(u);
      std::tuple<std::string, std::string, std::string> edge{
          box[u], dst, ir::ShapeToString(g.values[u].shape)};
      if (seen_edges.insert(edge).second) edges.push_back(std::move(edge));
    }
  }
  for (int c : used_constants) {
    out += fmt::format(
        "  {} [label={}, shape=box, fontsize=8, height=0.2, style=filled, "
        "fillcolor=\"#eeeeee\"];\n",
        ValueId(c), DotQuote(ConstantLabel(g, g.values[c])));
  }
  for (const auto& [src, dst, label] : edges) {
    out += fmt::format("  {} -> {} [label={}];\n", src, dst, DotQuote(label));
  }
  // Graph outputs point at a plain "output" marker naming the row columns.
  for (size_t i = 0; i < g.outputs.size(); ++i) {
    const ir::Value& v = g.values[g.outputs[i]];
    out += fmt::format("  \"out{}\" [label={}, shape=plaintext];\n", i,
                       DotQuote("output: " + v.name));
    if (v.kind == ir::ValueKind::kConstant &&
        !used_constants.count(g.outputs[i])) {
      out += fmt::format("  {} [label={}, shape=box, fontsize=8];\n",
                         box[g.outputs[i]], DotQuote(ConstantLabel(g, v)));
    }
    out += fmt::format("  {} -> \"out{}\" [label={}];\n", box[g.outputs[i]], i,
                       DotQuote(ir::ShapeToString(v.shape)));
  }
  return out + "}\n";
}

void AddDotCommand(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  auto collapse = std::make_shared<bool>(false);
  auto expand = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("dot",
                                     "Print the model as a Graphviz DOT graph "
                                     "(render: rowflow dot m.pb | dot -Tsvg)");
  cmd->add_option("model", *path, "Model file (.pb or .pbtxt)")->required();
  cmd->add_flag("--collapse", *collapse,
                "One box per fused layer (default above 200 nodes)");
  cmd->add_flag("--expand", *expand, "Every node, even above 200 nodes")
      ->excludes("--collapse");
  cmd->footer(
      "Example:\n"
      "  rowflow dot seed.pb | dot -Tsvg > seed.svg");
  cmd->callback([=] {
    const ir::Graph graph = LoadModel(*path);
    const bool big = graph.nodes.size() > kAutoCollapseNodes;
    WriteStdout(DotText(graph, *collapse || (big && !*expand)));
  });
}

}  // namespace rowflow::cli
