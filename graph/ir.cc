#include "graph/ir.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>

#include "graph/activation.h"
#include "graph/op_schema.h"

namespace rowflow::ir {

int64_t NumElements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string ShapeToString(const Shape& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

namespace {

template <typename T>
std::string Shortest(T v) {
  char buf[kMaxNumberChars];
  return std::string(buf, WriteNumber(buf, buf + sizeof(buf), v));
}

}  // namespace

std::string NumberToString(float v) { return Shortest(v); }
std::string NumberToString(double v) { return Shortest(v); }

std::string_view OpName(OpKind op) {
  return IsKnownOp(op) ? GetOpSchema(op).name : "?";
}

std::string_view ActivationName(Activation act) {
  const ActivationInfo* info = FindActivation(act);
  return info ? info->name : "?";
}

std::string_view DTypeName(DType dtype) {
  return dtype == DType::kF32 ? "F32" : "F64";
}

int Graph::FindValue(std::string_view value_name) const {
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i].name == value_name) return static_cast<int>(i);
  }
  return -1;
}

int Graph::FindNode(std::string_view node_name) const {
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].name == node_name) return static_cast<int>(i);
  }
  return -1;
}

int64_t Graph::InputWidth() const {
  int64_t width = 0;
  for (int id : inputs) width += NumElements(values[id].shape);
  return width;
}

int64_t Graph::OutputWidth() const {
  int64_t width = 0;
  for (int id : outputs) width += NumElements(values[id].shape);
  return width;
}

}  // namespace rowflow::ir
