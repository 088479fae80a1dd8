// Fuzz target: layer-spec text plus in-memory weight files ->
// BuildGraphFromSpecText (MemoryWeightReader) -> a validated graph.
//
// Input layout: the spec text, then any number of weight files, each
// introduced by a line "#@file NAME" (a comment to the spec parser):
//
//   input { width: 2 }  layer { units: 1 weights { csv: "w.csv" } }
//   #@file w.csv
//   2,7
//
// The input's length picks the form: even builds the layer form, odd the
// per-node form. Beyond "only rowflow::Error(kModel)", a built graph must be
// within the budget and save and load back (what `rowflow build` promises).
#include "graph/spec.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "graph/builder.h"
#include "graph/error.h"
#include "graph/serialize.h"
#include "graph/validate.h"
#include "graph/weights_file.h"
#include "tests/fuzz/fuzz_util.h"

namespace rowflow::fuzz {
namespace {

constexpr std::string_view kFileMarker = "\n#@file ";

// Splits the input into the spec text and its files {name -> bytes}.
std::string_view SplitFiles(std::string_view input,
                            std::map<std::string, std::string>* files) {
  size_t at = input.find(kFileMarker);
  const std::string_view spec = input.substr(0, at);
  while (at != std::string_view::npos) {
    const size_t name_begin = at + kFileMarker.size();
    const size_t name_end = input.find('\n', name_begin);
    if (name_end == std::string_view::npos) break;
    const size_t next = input.find(kFileMarker, name_end);
    const size_t body_end =
        next == std::string_view::npos ? input.size() : next;
    (*files)[std::string(input.substr(name_begin, name_end - name_begin))] =
        std::string(input.substr(name_end + 1, body_end - name_end - 1));
    at = next;
  }
  return spec;
}

}  // namespace
}  // namespace rowflow::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rowflow;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::map<std::string, std::string> files;
  const std::string_view spec = fuzz::SplitFiles(input, &files);
  const DenseForm form =
      size % 2 == 0 ? DenseForm::kLayer : DenseForm::kPerNode;
  ValidateOptions options;
  options.memory_budget_bytes = fuzz::kSpecBudgetBytes;
  ir::Graph graph;
  try {
    graph = BuildGraphFromSpecText(spec, "fuzz.pbtxt",
                                   MemoryWeightReader(std::move(files)), form,
                                   options);
  } catch (const Error& e) {
    fuzz::CheckError(e, ErrorKind::kModel);
    return 0;
  }
  if (GraphFootprintBytes(graph) > fuzz::kSpecBudgetBytes) {
    fuzz::Fail("built a graph over the budget");
  }
  try {
    LoadOptions load;
    load.validate = options;
    const std::string bytes = SerializeGraph(graph, Encoding::kBinary);
    const ir::Graph again = ParseGraph(bytes, "built.pb", load);
    if (SerializeGraph(again, Encoding::kBinary) != bytes) {
      fuzz::Fail("a built graph changed on save -> load -> save");
    }
  } catch (const Error& e) {
    fuzz::Fail("a built graph does not load back", e.what());
  }
  return 0;
}
