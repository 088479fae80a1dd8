// Fuzz target: model-file bytes (binary or text) -> ParseGraph (parse,
// convert, validate) -> plan a Session; nothing is run.
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

}  // namespace
}  // namespace rowflow::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rowflow;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  ir::Graph graph;
  try {
    graph = ParseGraph(bytes, "fuzz.pb",
                       fuzz::FuzzLoadOptions(fuzz::kLoadBudgetBytes));
  } catch (const Error& e) {
    fuzz::CheckError(e, ErrorKind::kModel);
    return 0;
  }
  // Past this point the graph is valid: any error at all is a finding.
  try {
    fuzz::CheckAccepted(graph);
  } catch (const Error& e) {
    fuzz::Fail("an accepted graph failed to plan or to round-trip", e.what());
  }
  return 0;
}
