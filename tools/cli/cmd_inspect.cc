// rowflow inspect MODEL [--json]: what a model is and how it would run.
#include <fmt/format.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "graph/error.h"
#include "runtime/session.h"
#include "tools/cli/cli_util.h"
#include "tools/cli/commands.h"
#include "tools/cli/frontend.h"

namespace rowflow::cli {
namespace {

// The facts inspect prints, gathered once for both output forms.
struct Summary {
  std::map<std::string, int64_t> ops;          // "SUM" -> count
  std::map<std::string, int64_t> activations;  // "RELU" -> count
  int64_t parameters = 0;
  int64_t flops_per_row = 0;
  int64_t tile_rows = 0;
  std::vector<StageInfo> stages;
};

Summary Summarize(const ir::Graph& g) {
  Summary s;
  for (const ir::Node& n : g.nodes) {
    ++s.ops[std::string(ir::OpName(n.op))];
    if (n.op == ir::OpKind::kActivation)
      ++s.activations[std::string(ir::ActivationName(n.activation))];
  }
  for (const ir::Tensor& t : g.constants)
    s.parameters += ir::NumElements(t.shape);
  const Session session(g);  // plans only; no threads start before Run
  s.flops_per_row = session.flops_per_row();
  s.tile_rows = session.tile_rows();
  s.stages = session.stages();
  return s;
}

std::string Counts(const std::map<std::string, int64_t>& counts) {
  std::string out;
  for (const auto& [name, n] : counts)
    out += fmt::format("{}{} {}", out.empty() ? "" : ", ", name, n);
  return out;
}

std::string ValueList(const ir::Graph& g, const std::vector<int>& ids) {
  std::string out;
  for (int id : ids) {
    out += fmt::format("{}{} {}", out.empty() ? "" : ", ", g.values[id].name,
                       ir::ShapeToString(g.values[id].shape));
  }
  return out;
}

std::string Text(const std::string& path, const ir::Graph& g,
                 const Summary& s) {
  std::string out;
  out += fmt::format("model:       {} ({})\n", g.name, path);
  out += fmt::format("verdict:     valid\n");
  out += fmt::format("dtype:       {}\n", ir::DTypeName(g.dtype));
  out += fmt::format("inputs:      {} (row width {})\n", ValueList(g, g.inputs),
                     g.InputWidth());
  out += fmt::format("outputs:     {} (row width {})\n",
                     ValueList(g, g.outputs), g.OutputWidth());
  out += fmt::format("nodes:       {} ({})\n", g.nodes.size(), Counts(s.ops));
  if (!s.activations.empty())
    out += fmt::format("activations: {}\n", Counts(s.activations));
  out += fmt::format("parameters:  {} in {} constants\n", s.parameters,
                     g.constants.size());
  out += fmt::format("flops/row:   {}\n", s.flops_per_row);
  out += fmt::format("tile rows:   {}\n", s.tile_rows);
  for (const auto& [key, value] : g.metadata)
    out += fmt::format("metadata:    {} = {}\n", key, value);
  out += fmt::format("plan:        {} stage{}\n", s.stages.size(),
                     s.stages.size() == 1 ? "" : "s");
  constexpr size_t kShownNodes = 8;
  for (size_t i = 0; i < s.stages.size(); ++i) {
    const StageInfo& st = s.stages[i];
    std::string nodes;
    for (size_t k = 0; k < st.nodes.size() && k < kShownNodes; ++k) {
      nodes += (k == 0 ? "" : ", ") + g.nodes[st.nodes[k]].name;
    }
    if (st.nodes.size() > kShownNodes)
      nodes += fmt::format(", ... ({} nodes)", st.nodes.size());
    out += fmt::format("  {:>3}  {:<12} {}{}{}\n", i, StageKindName(st.kind),
                       st.label, nodes.empty() ? "" : "  <- ", nodes);
  }
  return out;
}

// `doc` one key a line, and the plan one stage a line.
std::string JsonText(const Json& doc) {
  std::string out = "{";
  for (const auto& [key, value] : doc.items()) {
    out += out.size() == 1 ? "\n  " : ",\n  ";
    out += JsonLine(key) + ": ";
    if (key != "plan" || value.empty()) {
      out += JsonLine(value);
      continue;
    }
    for (size_t i = 0; i < value.size(); ++i)
      out += (i == 0 ? "[\n    " : ",\n    ") + JsonLine(value[i]);
    out += "\n  ]";
  }
  return out + "\n}\n";
}

Json JsonValues(const ir::Graph& g, const std::vector<int>& ids) {
  Json out = Json::array();
  for (int id : ids) {
    const ir::Value& v = g.values[id];
    out.push_back({{"name", v.name}, {"shape", v.shape}});
  }
  return out;
}

}  // namespace

std::string InspectJson(const std::string& path, const ir::Graph& g) {
  const Summary s = Summarize(g);
  Json doc;
  doc["file"] = path;
  doc["valid"] = true;
  doc["name"] = g.name;
  doc["dtype"] = ir::DTypeName(g.dtype);
  doc["inputs"] = JsonValues(g, g.inputs);
  doc["outputs"] = JsonValues(g, g.outputs);
  doc["input_width"] = g.InputWidth();
  doc["output_width"] = g.OutputWidth();
  doc["nodes"] = g.nodes.size();
  doc["ops"] = Json(s.ops);
  doc["activations"] = Json(s.activations);
  doc["parameters"] = s.parameters;
  doc["constants"] = g.constants.size();
  doc["flops_per_row"] = s.flops_per_row;
  doc["tile_rows"] = s.tile_rows;
  doc["metadata"] = Json(g.metadata);
  Json plan = Json::array();
  for (const StageInfo& st : s.stages) {
    Json nodes = Json::array();
    for (int n : st.nodes) nodes.push_back(g.nodes[n].name);
    plan.push_back({{"kind", StageKindName(st.kind)},
                    {"label", st.label},
                    {"flops_per_row", st.flops_per_row},
                    {"deps", st.deps},
                    {"nodes", std::move(nodes)}});
  }
  doc["plan"] = std::move(plan);
  return JsonText(doc);
}

namespace {

void Inspect(const std::string& path, bool json) {
  ir::Graph graph;
  try {
    graph = LoadModel(path);
  } catch (const Error& e) {
    // The verdict goes to stdout like every other answer; main still prints
    // the error on stderr and exits 3.
    WriteStdout(
        json ? JsonText({{"file", path}, {"valid", false}, {"error", e.what()}})
             : fmt::format("verdict:     invalid: {}\n", e.what()));
    throw;
  }
  WriteStdout(json ? InspectJson(path, graph)
                   : Text(path, graph, Summarize(graph)));
}

}  // namespace

void AddInspectCommand(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("inspect",
                                     "Show a model's inputs, outputs, ops, "
                                     "parameters, FLOPs and execution plan");
  cmd->add_option("model", *path, "Model file (.pb or .pbtxt)")->required();
  cmd->add_flag("--json", *json, "Print one JSON object instead of text");
  cmd->footer(
      "Example:\n"
      "  rowflow inspect seed.pb --json\n"
      "An invalid model prints its verdict and exits 3.");
  cmd->callback([path, json] { Inspect(*path, *json); });
}

}  // namespace rowflow::cli
