// The in-memory IR of a rowflow graph: values (graph inputs, constants and
// node outputs) connected by nodes, each value with its per-row shape.
//
// A Graph straight from the loader or a hand edit is unchecked; Validate()
// (graph/validate.h) sorts its nodes topologically and infers every shape.
// Everything downstream (ops, runtime, tools) takes a validated Graph.
//
// Thread-safety: plain data; const access from many threads is safe.
#ifndef ROWFLOW_GRAPH_IR_H_
#define ROWFLOW_GRAPH_IR_H_

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace rowflow::ir {

// Element type of every value in a graph.
enum class DType : uint8_t { kF32, kF64 };

// The on-disk operator set.
enum class OpKind : uint8_t {
  kMultiply,
  kAdd,
  kSum,
  kActivation,
  kConcat,
  kReshape,
};

// The activations; their names, parameters and shape rules are rows of
// graph/activation.h's table.
enum class Activation : uint8_t {
  kIdentity,
  kRelu,
  kTanh,
  kSigmoid,
  kLeakyRelu,
  kSoftplus,
  kSoftmax,
  kElu,
  kGelu,
  kGeluTanh,
  kSilu,
  kHardSigmoid,
  kLogSoftmax,
  kClip,
  kErf,
  kLayerNorm,
};

// Per-row shape (rank 0-2): the row dimension is implicit.
using Shape = std::vector<int64_t>;

// Number of elements of `shape` (1 for a scalar). The caller guarantees it
// does not overflow (validation checks that first).
int64_t NumElements(const Shape& shape);

// "[2, 3]" for messages; "[]" for a scalar.
std::string ShapeToString(const Shape& shape);

// The shortest text that reads back as `v`, as std::to_chars writes it
// ("182", "0.1", "1e+06", "inf", "-inf"), except that every NaN is "nan"
// (to_chars writes "-nan" when its sign bit is set). The one number printer
// of messages, trace, dot and CSV output.
std::string NumberToString(float v);
std::string NumberToString(double v);

// Writes NumberToString(v) at `out` and returns its end; `limit - out` must
// be at least kMaxNumberChars. Inline: CSV output calls it per value.
inline constexpr int kMaxNumberChars = 32;
template <typename T>
inline char* WriteNumber(char* out, char* limit, T v) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>);
  if (std::isnan(v)) [[unlikely]] {
    std::memcpy(out, "nan", 3);
    return out + 3;
  }
  return std::to_chars(out, limit, v).ptr;
}

// Upper-case names as in the model file: "MULTIPLY", "RELU", "F32".
std::string_view OpName(OpKind op);
std::string_view ActivationName(Activation act);
std::string_view DTypeName(DType dtype);

// Bytes per element of `dtype`.
inline int64_t DTypeSize(DType dtype) { return dtype == DType::kF32 ? 4 : 8; }

// Where a value comes from.
enum class ValueKind : uint8_t { kInput, kConstant, kNode };

// A named value. `index` is the position in Graph::inputs for kInput, in
// Graph::constants for kConstant, and in Graph::nodes for kNode.
struct Value {
  std::string name;
  ValueKind kind = ValueKind::kNode;
  int index = -1;
  Shape shape;  // per-row shape; constants: the tensor's whole shape
};

// A constant tensor; no row dimension, broadcast to every row. Values are
// stored as double and are exactly representable in the graph's dtype.
struct Tensor {
  int value = -1;  // id of the value it defines
  Shape shape;
  std::vector<double> data;  // row-major, NumElements(shape) entries
};

// One operator application.
struct Node {
  std::string name;
  OpKind op = OpKind::kMultiply;
  std::vector<int> inputs;                        // value ids
  int output = -1;                                // value id
  int64_t axis = -1;                              // kSum, kConcat
  Activation activation = Activation::kIdentity;  // kActivation
  // The parameters, where the activation takes them (graph/activation.h);
  // the loader, the spec and GraphBuilder fill in the table's defaults.
  double alpha = 0.01;
  double beta = 0.5;
  Shape shape = {};  // kReshape: the output's per-row shape
};

// A whole network. Value ids index `values`.
struct Graph {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<Value> values;
  std::vector<int> inputs;   // value ids, in row-column order
  std::vector<int> outputs;  // value ids, in row-column order
  std::vector<Node> nodes;   // topological order once validated
  std::vector<Tensor> constants;
  std::map<std::string, std::string> metadata;

  // Id of the value named `name`, or -1.
  int FindValue(std::string_view name) const;
  // Id of the node named `name`, or -1.
  int FindNode(std::string_view name) const;
  // Columns of one input row: the inputs' elements, concatenated.
  int64_t InputWidth() const;
  // Columns of one output row: the outputs' elements, concatenated.
  int64_t OutputWidth() const;
};

// The model-file version this build writes and the newest it reads.
inline constexpr uint32_t kFormatVersion = 1;

}  // namespace rowflow::ir

#endif  // ROWFLOW_GRAPH_IR_H_
