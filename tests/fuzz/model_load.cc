// Fuzz target: model-file bytes (binary or text) -> ParseGraph (parse,
// convert, validate) -> plan a Session; nothing is run. The same bytes also
// go to the ONNX importer, ImportOnnx (parse, lower, validate), whose
// accepted graphs must plan the same way.
//
// Beyond "only rowflow::Error(kModel)", an accepted model must keep the
// validator's promises: its footprint is within the budget, it plans, and
// it saves and loads back to the same bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "graph/error.h"
#include "graph/serialize.h"
#include "graph/validate.h"
#include "runtime/session.h"
#include "tests/fuzz/fuzz_util.h"
#include "tools/onnx_import.h"

namespace rowflow::fuzz {
namespace {

void CheckAccepted(const ir::Graph& graph) {
  if (GraphFootprintBytes(graph) > kLoadBudgetBytes)
    Fail("accepted a graph over the budget");
  SessionOptions options;
  options.threads = 1;
  Session session(graph, options);
  if (session.stages().empty()) Fail("a valid graph planned to no stages");

  const std::string binary = SerializeGraph(graph, Encoding::kBinary);
  const ir::Graph again =
      ParseGraph(binary, "saved.pb", FuzzLoadOptions(kLoadBudgetBytes));
  if (SerializeGraph(again, Encoding::kBinary) != binary) {
    Fail("binary save -> load -> save changed the bytes");
  }
  // Text loses NaN payloads, so only "it loads back" is checked for it.
  ParseGraph(SerializeGraph(graph, Encoding::kText), "saved.pbtxt",
             FuzzLoadOptions(kLoadBudgetBytes));
}

// The rowflow model path: parse, validate, then the checks above.
void LoadRowflow(std::string_view bytes) {
  ir::Graph graph;
  try {
    graph = ParseGraph(bytes, "fuzz.pb", FuzzLoadOptions(kLoadBudgetBytes));
  } catch (const Error& e) {
    CheckError(e, ErrorKind::kModel);
    return;
  }
  // Past this point the graph is valid: any error at all is a finding.
  try {
    CheckAccepted(graph);
  } catch (const Error& e) {
    Fail("an accepted graph failed to plan or to round-trip", e.what());
  }
}

// The ONNX path under the same limits: every refusal is Error(kModel), and
// an imported graph is a validated rowflow graph like any other.
void LoadOnnx(std::string_view bytes) {
  OnnxImportOptions options;
  options.max_file_bytes = kMaxModelBytes;
  options.validate.memory_budget_bytes = kLoadBudgetBytes;
  ir::Graph graph;
  try {
    graph = ImportOnnx(bytes, "fuzz.onnx", options);
  } catch (const Error& e) {
    CheckError(e, ErrorKind::kModel);
    return;
  }
  try {
    CheckAccepted(graph);
  } catch (const Error& e) {
    Fail("an imported ONNX graph failed to plan or to round-trip", e.what());
  }
}

}  // namespace
}  // namespace rowflow::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  rowflow::fuzz::LoadRowflow(bytes);
  rowflow::fuzz::LoadOnnx(bytes);
  return 0;
}
