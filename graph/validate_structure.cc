#include "graph/validate_structure.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "graph/error.h"
#include "graph/op_schema.h"
#include "graph/text.h"
#include "graph/validate.h"

namespace rowflow::internal {

using ir::Graph;
using ir::Node;
using ir::OpKind;
using ir::Value;
using ir::ValueKind;

bool IsValidName(std::string_view s, bool multiline) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      const bool space = c == '\n' || c == '\t' || c == '\r';
      if ((c < 0x20 || c == 0x7f) && !(multiline && space)) return false;
      ++i;
      continue;
    }
    const size_t len = Utf8Length(s, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

namespace {

constexpr const char* kPrintable = "expected printable UTF-8 text";

std::string DescribeKind(ValueKind kind, int index) {
  switch (kind) {
    case ValueKind::kInput:
      return fmt::format("input #{}", index);
    case ValueKind::kConstant:
      return fmt::format("constant #{}", index);
    case ValueKind::kNode:
      return fmt::format("node #{}", index);
  }
  return fmt::format("unknown kind {}", static_cast<int>(kind));
}

// Where a (consistent) value comes from, for messages.
std::string ValueWhere(const Graph& graph, int id) {
  const Value& v = graph.values[id];
  switch (v.kind) {
    case ValueKind::kInput:
      return fmt::format("input '{}'", v.name);
    case ValueKind::kConstant:
      return fmt::format("constant '{}'", v.name);
    case ValueKind::kNode:
      break;
  }
  return fmt::format("output '{}' of {}", v.name,
                     NodeWhere(graph.nodes[v.index]));
}

void CheckEnums(const Graph& graph) {
  if (graph.dtype != ir::DType::kF32 && graph.dtype != ir::DType::kF64) {
    Fail("unknown dtype {}; expected F32 or F64",
         static_cast<int>(graph.dtype));
  }
  for (const Node& node : graph.nodes) {
    if (!ir::IsKnownOp(node.op)) {
      Fail("node '{}': unknown op {}; expected one of {}", node.name,
           static_cast<int>(node.op), ir::OpNameList());
    }
  }
}

// Every id in range and every value defined by exactly the one input,
// constant or node that its kind and index name: hand-built IR included.
void CheckValueTable(const Graph& graph) {
  const int count = static_cast<int>(graph.values.size());
  // `who` makes the message only on failure: this runs over every node.
  auto check_id = [&](int id, auto who) {
    if (id < 0 || id >= count) {
      Fail("{} refers to value id {}; expected 0..{}", who(), id, count - 1);
    }
  };
  auto check_defines = [&](int id, ValueKind kind, int index, auto who) {
    check_id(id, who);
    const Value& v = graph.values[id];
    if (v.kind != kind || v.index != index) {
      Fail("{} defines value '{}', which says it is {}; expected {}", who(),
           v.name, DescribeKind(v.kind, v.index), DescribeKind(kind, index));
    }
  };
  for (size_t i = 0; i < graph.inputs.size(); ++i) {
    check_defines(graph.inputs[i], ValueKind::kInput, static_cast<int>(i),
                  [&] { return fmt::format("input #{}", i); });
  }
  for (size_t i = 0; i < graph.constants.size(); ++i) {
    check_defines(graph.constants[i].value, ValueKind::kConstant,
                  static_cast<int>(i),
                  [&] { return fmt::format("constant #{}", i); });
  }
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& node = graph.nodes[i];
    check_defines(node.output, ValueKind::kNode, static_cast<int>(i),
                  [&] { return NodeWhere(node) + " output"; });
    for (size_t k = 0; k < node.inputs.size(); ++k) {
      check_id(node.inputs[k],
               [&] { return fmt::format("{} input #{}", NodeWhere(node), k); });
    }
  }
  for (int id = 0; id < count; ++id) {
    const Value& v = graph.values[id];
    bool ok = false;
    if (v.index >= 0) {
      const size_t index = static_cast<size_t>(v.index);
      switch (v.kind) {
        case ValueKind::kInput:
          ok = index < graph.inputs.size() && graph.inputs[index] == id;
          break;
        case ValueKind::kConstant:
          ok = index < graph.constants.size() &&
               graph.constants[index].value == id;
          break;
        case ValueKind::kNode:
          ok = index < graph.nodes.size() && graph.nodes[index].output == id;
          break;
      }
    }
    if (!ok) {
      Fail("value '{}' (id {}) says it is {}, which does not define it", v.name,
           id, DescribeKind(v.kind, v.index));
    }
  }
  std::vector<bool> listed(count, false);
  for (size_t i = 0; i < graph.outputs.size(); ++i) {
    const int id = graph.outputs[i];
    check_id(id, [&] { return fmt::format("output #{}", i); });
    if (listed[id])
      Fail("output '{}' is listed twice; expected each output once",
           graph.values[id].name);
    listed[id] = true;
  }
}

void CheckNames(const Graph& graph) {
  if (!IsValidName(graph.name)) {
    Fail("graph name is not valid UTF-8 or has control characters; {}",
         kPrintable);
  }
  for (const auto& [key, text] : graph.metadata) {
    if (!IsValidName(key)) {
      Fail("a metadata key is not valid UTF-8 or has control characters; {}",
           kPrintable);
    }
    if (!IsValidName(text, /*multiline=*/true)) {
      Fail("metadata '{}' is not valid UTF-8 or has control characters; {}",
           key, kPrintable);
    }
  }
  std::unordered_map<std::string_view, int> seen;
  seen.reserve(std::max(graph.values.size(), graph.nodes.size()));
  for (size_t id = 0; id < graph.values.size(); ++id) {
    const std::string& name = graph.values[id].name;
    if (name.empty()) {
      Fail("{} has no name; expected a non-empty value name",
           ValueWhere(graph, static_cast<int>(id)));
    }
    if (!IsValidName(name)) {
      Fail(
          "value #{} ({}): name is not valid UTF-8 or has control "
          "characters; {}",
          id, DescribeKind(graph.values[id].kind, graph.values[id].index),
          kPrintable);
    }
    auto [it, inserted] = seen.emplace(name, static_cast<int>(id));
    if (!inserted) {
      Fail("duplicate value name '{}': {} and {}; expected each name once",
           name, ValueWhere(graph, it->second),
           ValueWhere(graph, static_cast<int>(id)));
    }
  }
  seen.clear();
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& node = graph.nodes[i];
    if (node.name.empty()) {
      Fail("node #{} ({}) has no name; expected a non-empty node name", i,
           ir::OpName(node.op));
    }
    if (!IsValidName(node.name)) {
      Fail(
          "node #{} ({}): name is not valid UTF-8 or has control "
          "characters; {}",
          i, ir::OpName(node.op), kPrintable);
    }
    auto [it, inserted] = seen.emplace(node.name, static_cast<int>(i));
    if (!inserted) {
      Fail(
          "duplicate node name '{}': nodes #{} and #{}; expected each name "
          "once",
          node.name, it->second, i);
    }
  }
}

}  // namespace

std::string NodeWhere(const Node& node) {
  if (!ir::IsKnownOp(node.op)) return fmt::format("node '{}'", node.name);
  return fmt::format("node '{}' ({})", node.name, ir::OpName(node.op));
}

void CheckGraphSize(int64_t nodes, int64_t values, int64_t node_inputs,
                    int64_t outputs) {
  auto check = [](const char* what, int64_t count, int64_t limit) {
    if (count > limit) {
      Fail("too many {} for rowflow's limits; expected at most {}, got {}",
           what, limit, count);
    }
  };
  check("nodes", nodes, kMaxNodes);
  check("values (inputs, constants and node outputs)", values, kMaxValues);
  check("node inputs (summed over all nodes)", node_inputs, kMaxNodeInputs);
  check("graph outputs", outputs, kMaxOutputs);
}

void CheckStructure(const Graph& graph) {
  int64_t node_inputs = 0;
  for (const Node& node : graph.nodes)
    node_inputs += static_cast<int64_t>(node.inputs.size());
  CheckGraphSize(static_cast<int64_t>(graph.nodes.size()),
                 static_cast<int64_t>(graph.values.size()), node_inputs,
                 static_cast<int64_t>(graph.outputs.size()));
  CheckEnums(graph);
  CheckValueTable(graph);
  CheckNames(graph);
}

}  // namespace rowflow::internal
