// The ONNX importer's model level: parsing, opsets, graph inputs,
// initializers and graph outputs. The node order is onnx_nodes.h's; single
// nodes are lowered by onnx_internal::Lowering (onnx_lower.h).
#include "tools/onnx/import.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/stubs/logging.h>

#include <algorithm>
#include <climits>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "graph/builder.h"
#include "graph/error.h"
#include "graph/serialize.h"
#include "graph/text.h"
#include "graph/weights_file.h"
#include "tools/onnx/activations.h"
#include "tools/onnx/lower.h"
#include "tools/onnx/nodes.h"
#include "tools/onnx/tensor.h"

namespace rowflow {
namespace {

using onnx_internal::HostTensor;
using onnx_internal::IsDefaultDomain;
using onnx_internal::NodeWhere;

constexpr int64_t kMinOpset = 1;
constexpr int64_t kMaxOpset = 22;
// Model -> graph -> node -> attribute -> tensor is 5 deep; subgraphs add
// more, but nothing rowflow imports nests past this.
constexpr int kMaxNesting = 32;

// Messages stay one line whatever the names in the model hold.
std::string OneLine(std::string_view text) {
  std::string out;
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    out += c < 0x20 || c == 0x7f ? fmt::format("\\x{:02x}", c)
                                 : std::string(1, ch);
  }
  return out;
}

// Whether `bytes` load as a rowflow model: a common mix-up, worth a hint.
bool IsRowflowModel(std::string_view bytes) {
  // Parsing ONNX bytes as rowflow's proto3 logs invalid UTF-8 strings.
  google::protobuf::LogSilencer quiet;
  try {
    ParseGraph(bytes, "");
    return true;
  } catch (const Error&) {
    return false;
  }
}

// Parses all of `bytes` (at most INT_MAX) as a ModelProto, nested at most
// kMaxNesting deep; whether it parsed.
bool ParseBounded(std::string_view bytes, onnx::ModelProto* model) {
  google::protobuf::io::CodedInputStream input(
      reinterpret_cast<const uint8_t*>(bytes.data()),
      static_cast<int>(bytes.size()));
  input.SetTotalBytesLimit(static_cast<int>(bytes.size()));
  input.SetRecursionLimit(kMaxNesting);
  return model->ParseFromCodedStream(&input) && input.ConsumedEntireMessage();
}

onnx::ModelProto Parse(std::string_view bytes, int64_t limit) {
  if (bytes.empty()) Fail("empty file; expected an ONNX model");
  if (static_cast<int64_t>(bytes.size()) > limit) {
    Fail("file is {} bytes, over the size limit of {} bytes", bytes.size(),
         limit);
  }
  onnx::ModelProto model;
  const bool parsed = ParseBounded(bytes, &model);
  if (!parsed || !model.has_graph()) {
    if (IsRowflowModel(bytes))
      Fail("is a rowflow model file, not ONNX; run it as it is");
    if (parsed) Fail("has no graph; expected an ONNX ModelProto");
    Fail(
        "not a valid ONNX model (truncated or corrupt protobuf bytes, or "
        "nested more than {} deep)",
        kMaxNesting);
  }
  return model;
}

int64_t DefaultOpset(const onnx::ModelProto& model) {
  int64_t opset = -1;
  for (const auto& o : model.opset_import()) {
    if (IsDefaultDomain(o.domain())) opset = o.version();
  }
  if (opset < 0) {
    Fail(
        "declares no opset for the default ONNX domain; expected an "
        "opset_import entry");
  }
  if (opset < kMinOpset || opset > kMaxOpset) {
    Fail("opset {} is not supported; rowflow imports opsets {} to {}", opset,
         kMinOpset, kMaxOpset);
  }
  return opset;
}

// The per-row shape of graph input `vi` (its dims after the batch), and
// its element type in `*dtype` (which must agree across inputs).
ir::Shape InputShape(const onnx::ValueInfoProto& vi,
                     std::optional<ir::DType>* dtype) {
  const std::string name = EscapeForMessage(vi.name());
  if (!vi.type().has_tensor_type()) {
    Fail(
        "input '{}' is not a tensor; expected a FLOAT or DOUBLE tensor [batch, "
        "...]",
        name);
  }
  const auto& tt = vi.type().tensor_type();
  if (tt.elem_type() != onnx::TensorProto::FLOAT &&
      tt.elem_type() != onnx::TensorProto::DOUBLE) {
    Fail("input '{}' has element type {}; expected FLOAT or DOUBLE", name,
         onnx_internal::ElemTypeName(tt.elem_type()));
  }
  const ir::DType type = tt.elem_type() == onnx::TensorProto::FLOAT
                             ? ir::DType::kF32
                             : ir::DType::kF64;
  if (dtype->has_value() && **dtype != type) {
    Fail(
        "input '{}' is {} while an earlier input is {}; expected one element "
        "type",
        name, onnx_internal::ElemTypeName(tt.elem_type()),
        onnx_internal::ElemTypeName(onnx_internal::ElemType(**dtype)));
  }
  *dtype = type;
  if (!tt.has_shape() || tt.shape().dim_size() == 0) {
    Fail(
        "input '{}' has no dims; expected [batch, ...] with fixed dims after "
        "the batch",
        name);
  }
  const auto& dims = tt.shape().dim();
  if (dims.size() > 1 + kMaxRank) {
    Fail("input '{}' has {} dims; rowflow reads a batch dim plus at most {}",
         name, dims.size(), kMaxRank);
  }
  ir::Shape shape;
  for (int d = 1; d < dims.size(); ++d) {
    if (!dims[d].has_dim_value()) {
      Fail(
          "input '{}' dim {} is {}; expected a fixed size (only the first dim, "
          "the batch, may vary)",
          name, d,
          dims[d].has_dim_param()
              ? fmt::format("'{}'", EscapeForMessage(dims[d].dim_param()))
              : std::string("unknown"));
    }
    if (dims[d].dim_value() <= 0) {
      Fail("input '{}' dim {} is {}; expected at least 1", name, d,
           dims[d].dim_value());
    }
    shape.push_back(dims[d].dim_value());
  }
  return shape;
}

// Refuses the model when nodes have ops rowflow does not import, naming
// them all at once (the first few, then a count) before anything is
// lowered: one run of import-onnx tells what a model needs. A node is
// imported when Lowering reads its op over rows, when it is folded on the
// host (every input a constant, transitively), or when an expansion
// (FindExpansions) covers it.
void CheckOps(const onnx::GraphProto& g, const std::vector<int>& order,
              const onnx_internal::FoundExpansions& expansions,
              std::set<std::string> constants) {
  constexpr size_t kNodesShown = 4, kTypesShown = 8, kNameBytes = 40;
  int bad = 0;
  std::vector<std::string> nodes, types;
  size_t more_types = 0;
  for (int i : order) {
    const onnx::NodeProto& node = g.node(i);
    if (expansions.absorbed.count(i) > 0) continue;
    const std::string& op = node.op_type();
    bool all_const = node.input_size() > 0;
    for (const std::string& in : node.input()) {
      if (!in.empty() && constants.count(in) == 0) all_const = false;
    }
    const bool ours = IsDefaultDomain(node.domain());
    const bool folded = ours && all_const && onnx_internal::FoldsOnHost(op);
    if (ours && node.output_size() > 0 && (folded || op == "Constant"))
      constants.insert(node.output(0));
    if (expansions.roots.count(i) > 0 || folded ||
        (ours && onnx_internal::Lowering::LowersRows(op))) {
      continue;
    }
    const std::string type =
        EscapeForMessage(ours ? op : node.domain() + "." + op, kNameBytes);
    if (++bad <= static_cast<int>(kNodesShown)) {
      std::string name = node.name();
      if (name.empty() && node.output_size() > 0) name = node.output(0);
      // Ops folded on constants only have a reason worth a word.
      const char* why =
          ours && onnx_internal::FoldsOnHost(op) ? " on rows" : "";
      nodes.push_back(fmt::format(
          "'{}' ({}{})", EscapeForMessage(name, kNameBytes), type, why));
    }
    if (std::find(types.begin(), types.end(), type) != types.end()) continue;
    if (types.size() < kTypesShown) {
      types.push_back(type);
    } else {
      ++more_types;
    }
  }
  if (bad == 0) return;
  std::string text =
      bad == 1 ? "1 node has an op" : fmt::format("{} nodes have ops", bad);
  text += fmt::format(" rowflow does not import: {}", fmt::join(nodes, ", "));
  if (bad > static_cast<int>(kNodesShown))
    text += fmt::format(" and {} more", bad - static_cast<int>(kNodesShown));
  if (bad > 1) {
    text += fmt::format("; op types: {}", fmt::join(types, ", "));
    if (more_types > 0) text += fmt::format(" and {} more", more_types);
  }
  Fail("{}; see README, \"What import-onnx reads\"", text);
}

// rowflow reads one row of every input at a time, so the inputs' first
// dims must be one batch: fixed first dims that differ (x [2, 3] and y
// [1, 3], y broadcast over the batch) are another model.
void CheckSharedBatch(const onnx::GraphProto& g,
                      const std::set<std::string>& inputs) {
  const onnx::ValueInfoProto* first = nullptr;
  for (const onnx::ValueInfoProto& vi : g.input()) {
    const auto& dims = vi.type().tensor_type().shape().dim();
    if (inputs.count(vi.name()) == 0 || dims.empty() ||
        !dims[0].has_dim_value()) {
      continue;
    }
    if (first == nullptr) {
      first = &vi;
      continue;
    }
    const int64_t a = first->type().tensor_type().shape().dim(0).dim_value();
    if (dims[0].dim_value() != a) {
      Fail(
          "inputs '{}' and '{}' have batch dims {} and {}; rowflow reads one "
          "batch dim shared by every input (an input broadcast over the "
          "batch would be a constant)",
          EscapeForMessage(first->name()), EscapeForMessage(vi.name()), a,
          dims[0].dim_value());
    }
  }
}

ir::Graph Import(std::string_view bytes, const OnnxImportOptions& options) {
  const onnx::ModelProto model =
      Parse(bytes, std::min<int64_t>(options.max_file_bytes, INT_MAX));
  const int64_t opset = DefaultOpset(model);
  const onnx::GraphProto& g = model.graph();
  if (g.sparse_initializer_size() > 0) {
    Fail("has sparse initializers; rowflow reads dense ones only");
  }
  int64_t budget = options.validate.memory_budget_bytes;
  std::vector<HostTensor> initializers;
  std::set<std::string> leaves;  // graph inputs and initializers
  for (const onnx::TensorProto& t : g.initializer()) {
    const std::string what =
        fmt::format("initializer '{}'", EscapeForMessage(t.name()));
    if (!leaves.insert(t.name()).second) Fail("{} is defined twice", what);
    initializers.push_back(onnx_internal::ReadTensor(t, what, &budget));
    initializers.back().name = t.name();
  }
  std::optional<ir::DType> dtype;
  std::vector<std::pair<std::string, ir::Shape>> inputs;
  for (const onnx::ValueInfoProto& vi : g.input()) {
    if (leaves.count(vi.name()) > 0) continue;  // an initializer (IR < 4)
    inputs.emplace_back(vi.name(), InputShape(vi, &dtype));
    leaves.insert(vi.name());
  }
  if (inputs.empty())
    Fail("has no graph inputs besides initializers; expected one or more");
  std::set<std::string> input_names;
  for (const auto& in : inputs) input_names.insert(in.first);
  CheckSharedBatch(g, input_names);
  const std::vector<int> order = onnx_internal::SortNodes(model, leaves);

  std::set<std::string> reserved = leaves;
  for (const auto& node : g.node())
    reserved.insert(node.output().begin(), node.output().end());
  for (const auto& out : g.output()) reserved.insert(out.name());
  std::map<std::string, double> exact_params;
  GraphBuilder builder(g.name().empty() ? "onnx" : g.name(), *dtype);
  for (const auto& prop : model.metadata_props()) {
    if (!onnx_internal::ReadExactParam(prop.key(), prop.value(),
                                       &exact_params)) {
      builder.SetMetadata(prop.key(), prop.value());
    }
  }
  const onnx_internal::FoundExpansions expansions =
      onnx_internal::FindExpansions(
          g, order, onnx_internal::ScalarConstants(g, initializers));
  std::set<std::string> constants;
  for (const HostTensor& t : initializers) constants.insert(t.name);
  CheckOps(g, order, expansions, std::move(constants));
  onnx_internal::Lowering lowering(builder, *dtype, std::move(reserved),
                                   std::move(exact_params), budget);
  for (const auto& [name, shape] : inputs) lowering.AddInput(name, shape);
  for (HostTensor& t : initializers) lowering.AddConstant(std::move(t));
  for (int i : order) {
    const onnx::NodeProto& node = g.node(i);
    if (expansions.absorbed.count(i) > 0) continue;
    try {
      auto found = expansions.roots.find(i);
      if (found != expansions.roots.end()) {
        lowering.LowerExpansion(node, opset, found->second);
      } else {
        lowering.Lower(node, opset);
      }
    } catch (const Error& e) {
      throw Error(e.kind(),
                  fmt::format("{}: {}", NodeWhere(model, node), e.what()));
    }
  }
  if (g.output_size() == 0) Fail("has no graph outputs; expected one or more");
  for (const auto& out : g.output()) lowering.Output(out.name());
  return builder.Build(options.validate);
}

}  // namespace

bool IsOnnxModel(std::string_view bytes) {
  if (bytes.empty() || bytes.size() > static_cast<size_t>(INT_MAX))
    return false;
  onnx::ModelProto model;
  google::protobuf::LogSilencer quiet;
  return ParseBounded(bytes, &model) && model.ir_version() > 0 &&
         model.has_graph();
}

ir::Graph ImportOnnx(std::string_view bytes, std::string_view source,
                     const OnnxImportOptions& options) {
  if (options.max_file_bytes <= 0) {
    throw MakeError(ErrorKind::kUsage, "max_file_bytes must be > 0; got {}",
                    options.max_file_bytes);
  }
  try {
    return Import(bytes, options);
  } catch (const Error& e) {
    throw Error(e.kind(), OneLine(fmt::format("{}: {}", source, e.what())));
  }
}

ir::Graph ImportOnnxFile(const std::string& path,
                         const OnnxImportOptions& options) {
  const std::string bytes = ReadRegularFile(
      path, path, std::min<int64_t>(options.max_file_bytes, INT_MAX),
      /*no_follow=*/false);
  return ImportOnnx(bytes, path, options);
}

}  // namespace rowflow
