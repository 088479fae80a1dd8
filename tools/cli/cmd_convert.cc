// rowflow convert IN OUT [--to text|binary]: a model file between the
// binary and text encodings. The model is loaded and validated, so an
// invalid file is refused rather than copied; the graph written is the same
// graph (names, constants bit for bit, metadata).
#include <memory>
#include <string>

#include "graph/error.h"
#include "graph/serialize.h"
#include "tools/cli/cli_util.h"
#include "tools/cli/commands.h"

namespace rowflow::cli {
namespace {

struct ConvertArgs {
  std::string in;
  std::string out;
  std::string to;  // "", "text" or "binary"
};

void RunConvert(const ConvertArgs& args) {
  const ir::Graph graph = LoadModel(args.in);
  const Encoding encoding = args.to.empty()     ? EncodingForPath(args.out)
                            : args.to == "text" ? Encoding::kText
                                                : Encoding::kBinary;
  SaveGraph(graph, args.out, encoding);
}

}  // namespace

void AddConvertCommand(CLI::App& app) {
  auto args = std::make_shared<ConvertArgs>();
  CLI::App* cmd = app.add_subcommand(
      "convert", "Convert a model file between binary (.pb) and text (.pbtxt)");
  cmd->add_option("in", args->in, "Model file to read (either encoding)")
      ->required();
  cmd->add_option("out", args->out,
                  "Model file to write: text when it ends in .pbtxt or .txt, "
                  "else binary; '-' is stdout")
      ->required();
  cmd->add_option("--to", args->to,
                  "Encoding to write, overriding OUT's extension")
      ->check(CLI::IsMember({"text", "binary"}));
  cmd->footer(
      "Example:\n"
      "  rowflow convert seed.pb seed.pbtxt\n"
      "  rowflow convert seed.pbtxt - --to text");
  cmd->callback([args] { RunConvert(*args); });
}

}  // namespace rowflow::cli
