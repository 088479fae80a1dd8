// ONNX import through rowflow::onnx alone: onnx_app IN.onnx OUT.pb imports
// the model and saves it as a rowflow model file.
#include <cstdio>

#include "graph/error.h"
#include "graph/serialize.h"
#include "tools/onnx/import.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: onnx_app IN.onnx OUT.pb\n");
    return 2;
  }
  try {
    const rowflow::ir::Graph graph = rowflow::ImportOnnxFile(argv[1]);
    rowflow::SaveGraph(graph, argv[2], rowflow::Encoding::kBinary);
    std::printf("%zu nodes\n", graph.nodes.size());
  } catch (const rowflow::Error& e) {
    std::fprintf(stderr, "onnx_app: %s\n", e.what());
    return 1;
  }
  return 0;
}
