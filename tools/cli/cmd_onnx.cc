// rowflow import-onnx MODEL.onnx -o MODEL.pb and rowflow export-onnx
// MODEL.pb -o MODEL.onnx: ONNX interop over tools/onnx/import.h and
// tools/onnx/export.h. Both write their output atomically.
#include <cstdio>
#include <memory>
#include <string>

#include "graph/error.h"
#include "graph/serialize.h"
#include "tools/cli/cli_util.h"
#include "tools/cli/commands.h"
#include "tools/onnx/export.h"
#include "tools/onnx/import.h"

namespace rowflow::cli {
namespace {

struct OnnxArgs {
  std::string in;
  std::string out;
  bool quiet = false;
};

void RunImport(const OnnxArgs& args) {
  const ir::Graph graph = ImportOnnxFile(args.in);
  SaveGraph(graph, args.out, EncodingForPath(args.out));
  if (args.quiet) return;
  size_t parameters = 0;
  for (const ir::Tensor& t : graph.constants) parameters += t.data.size();
  std::fprintf(stderr,
               "rowflow: imported %s (%s): %zu inputs, %zu nodes, %zu "
               "parameters -> %s\n",
               args.in.c_str(), std::string(ir::DTypeName(graph.dtype)).c_str(),
               graph.inputs.size(), graph.nodes.size(), parameters,
               args.out.c_str());
}

void RunExport(const OnnxArgs& args) {
  const ir::Graph graph = LoadModel(args.in);
  try {
    SaveOnnx(graph, args.out);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kModel) throw;  // I/O errors name the output
    throw Error(e.kind(), args.in + ": " + e.what());
  }
  if (args.quiet) return;
  std::fprintf(stderr,
               "rowflow: exported %s (%s, %zu nodes) as ONNX opset 13 -> %s\n",
               args.in.c_str(), std::string(ir::DTypeName(graph.dtype)).c_str(),
               graph.nodes.size(), args.out.c_str());
}

CLI::App* AddCommand(CLI::App& app, const char* name, const char* help,
                     std::shared_ptr<OnnxArgs> args, const char* in_help,
                     const char* out_help) {
  CLI::App* cmd = app.add_subcommand(name, help);
  cmd->add_option("model", args->in, in_help)->required();
  cmd->add_option("-o,--output", args->out, out_help)->required();
  cmd->add_flag("-q,--quiet", args->quiet, "Print no summary line");
  return cmd;
}

}  // namespace

void AddOnnxCommands(CLI::App& app) {
  auto import_args = std::make_shared<OnnxArgs>();
  CLI::App* import_cmd = AddCommand(
      app, "import-onnx",
      "Convert an ONNX model (feed-forward subset) to a rowflow model file",
      import_args, "ONNX model to read (.onnx)",
      "Model file to write: text when it ends in .pbtxt or .txt, else binary; "
      "'-' is stdout");
  import_cmd->footer(
      "Example:\n"
      "  rowflow import-onnx mlp.onnx -o mlp.pb\n"
      "  rowflow run mlp.pb -i rows.csv -o -\n"
      "Imports MatMul, Gemm, Add, Mul, ReduceSum, Relu, LeakyRelu, Tanh,\n"
      "Sigmoid, Softplus, Softmax and LogSoftmax (last axis), Elu,\n"
      "HardSigmoid, Gelu (opset 20), GELU and SiLU as PyTorch expands them,\n"
      "Identity, Flatten, Reshape, Squeeze, Unsqueeze, Concat and Constant\n"
      "(opsets 7-22); the first dim of each input is the batch. Anything\n"
      "else is refused, naming the node. Exit codes: 3 invalid or\n"
      "unsupported model, 5 output not writable.");
  import_cmd->callback([import_args] { RunImport(*import_args); });

  auto export_args = std::make_shared<OnnxArgs>();
  CLI::App* export_cmd = AddCommand(
      app, "export-onnx",
      "Convert a rowflow model file to ONNX (opset 13, dynamic batch 'N')",
      export_args, "Model file to read (.pb or .pbtxt)",
      "ONNX model to write; '-' is stdout");
  export_cmd->footer(
      "Example:\n"
      "  rowflow export-onnx seed.pb -o seed.onnx\n"
      "Exit codes: 3 invalid model (or one ONNX cannot express),\n"
      "5 output not writable.");
  export_cmd->callback([export_args] { RunExport(*export_args); });
}

}  // namespace rowflow::cli
