// rowflow build SPEC.pbtxt -o MODEL [--per-node]: a layer spec (DESIGN.md
// "Layer specs") to a validated model file, binary or text by -o's name.
#include <cstdio>
#include <memory>
#include <string>

#include "graph/serialize.h"
#include "graph/spec.h"
#include "tools/cli/commands.h"

namespace rowflow::cli {
namespace {

struct BuildArgs {
  std::string spec;
  std::string out;
  bool per_node = false;
  bool quiet = false;
};

void RunBuild(const BuildArgs& args) {
  const DenseForm form =
      args.per_node ? DenseForm::kPerNode : DenseForm::kLayer;
  const ir::Graph graph = BuildGraphFromSpec(args.spec, form);
  SaveGraph(graph, args.out, EncodingForPath(args.out));
  if (args.quiet) return;
  size_t parameters = 0;
  for (const ir::Tensor& t : graph.constants) parameters += t.data.size();
  std::fprintf(
      stderr,
      "rowflow: built %s (%s, %s form): %zu nodes, %zu parameters -> %s\n",
      graph.name.c_str(), std::string(ir::DTypeName(graph.dtype)).c_str(),
      args.per_node ? "per-node" : "layer", graph.nodes.size(), parameters,
      args.out.c_str());
}

}  // namespace

void AddBuildCommand(CLI::App& app) {
  auto args = std::make_shared<BuildArgs>();
  CLI::App* cmd = app.add_subcommand(
      "build", "Build a model file from a layer spec (protobuf text format)");
  cmd->add_option("spec", args->spec, "Layer spec, e.g. model.pbtxt")
      ->required();
  cmd->add_option("-o,--output", args->out,
                  "Model file to write: text when it ends in .pbtxt or .txt, "
                  "else binary; '-' is stdout")
      ->required();
  cmd->add_flag("--per-node", args->per_node,
                "Emit the seed's per-node form (one SUM(MULTIPLY) per unit, "
                "then CONCAT) instead of the layer form");
  cmd->add_flag("-q,--quiet", args->quiet, "Print no summary line");
  cmd->footer(
      "Example:\n"
      "  rowflow build tools/examples/seed_4_5.pbtxt -o seed.pb\n"
      "  rowflow build tools/examples/seed_4_5.pbtxt -o seed.pbtxt --per-node\n"
      "Weight files named in the spec (npy: / csv:) are read relative to the\n"
      "spec's folder and may not leave it. Exit codes: 2 usage, 3 invalid\n"
      "spec or weights, 5 output not writable.");
  cmd->callback([args] { RunBuild(*args); });
}

}  // namespace rowflow::cli
