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
#include "tools/onnx/import.h"

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

// Loads the bytes with `load`: a refusal must be one Error(kModel); an
// accepted graph is valid, so any error from the checks above is a finding.
template <typename Load>
void LoadAndCheck(Load load, const char* finding) {
  ir::Graph graph;
  try {
    graph = load();
  } catch (const Error& e) {
    CheckError(e, ErrorKind::kModel);
    return;
  }
  try {
    CheckAccepted(graph);
  } catch (const Error& e) {
    Fail(finding, e.what());
  }
}

// The rowflow model path: parse, validate, then the checks above.
void LoadRowflow(std::string_view bytes) {
  LoadAndCheck(
      [&] {
        return ParseGraph(bytes, "fuzz.pb", FuzzLoadOptions(kLoadBudgetBytes));
      },
      "an accepted graph failed to plan or to round-trip");
}

// The ONNX path under the same limits.
void LoadOnnx(std::string_view bytes) {
  OnnxImportOptions options;
  options.max_file_bytes = kMaxModelBytes;
  options.validate.memory_budget_bytes = kLoadBudgetBytes;
  LoadAndCheck([&] { return ImportOnnx(bytes, "fuzz.onnx", options); },
               "an imported ONNX graph failed to plan or to round-trip");
}

}  // namespace
}  // namespace rowflow::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  rowflow::fuzz::LoadRowflow(bytes);
  rowflow::fuzz::LoadOnnx(bytes);
  return 0;
}
