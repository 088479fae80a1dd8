// What each on-disk operator means to the graph: its name, arity, the node
// attributes it reads and its shape rule. Kernels live in ops/registry.h,
// whose entries point back here.
//
// Adding an operator: its value in proto/rowflow.proto's Node.Op (the file
// format) and in ir::OpKind, a row in kSchemas (op_schema.cc), a row of
// kernels in ops/registry.cc. Names, validation, load/save, inspect and dot
// read the row; the compiler points at the switches (ONNX export, trace)
// that must decide what the new op means to them.
//
// Thread-safety: the schema table is immutable; read it from any thread.
#ifndef ROWFLOW_GRAPH_OP_SCHEMA_H_
#define ROWFLOW_GRAPH_OP_SCHEMA_H_

#include <span>
#include <string>
#include <string_view>

#include "graph/ir.h"

namespace rowflow::ir {

// Node attributes an operator reads (bits of OpSchema::attributes).
enum OpAttribute : unsigned {
  kAxisAttribute = 1,        // Node::axis
  kActivationAttribute = 2,  // Node::activation, alpha and beta
  kShapeAttribute = 4,       // Node::shape
};

// The static description of one operator.
struct OpSchema {
  OpKind kind;
  std::string_view name;  // as in the model file's enum ("MULTIPLY")
  int min_inputs;
  int max_inputs;       // -1: unbounded
  unsigned attributes;  // OpAttribute bits
  // The output's per-row shape from the inputs' per-row shapes (constants
  // count as values with their own shape). Throws Error(kModel) whose
  // message says what is wrong ("shapes [2] and [3] do not broadcast");
  // the caller prefixes the node.
  Shape (*infer)(const Node& node, std::span<const Shape* const> inputs);
};

// The schema of `op`, a valid OpKind.
const OpSchema& GetOpSchema(OpKind op);
// Every operator's schema, in OpKind order.
std::span<const OpSchema> AllOpSchemas();
// The schema named `name` ("SUM"), or nullptr.
const OpSchema* FindOpSchema(std::string_view name);
// Whether `op` (possibly read from a file) is an operator.
bool IsKnownOp(OpKind op);
// "MULTIPLY, ADD, ...": the operators' names, for messages.
std::string OpNameList();

// numpy's broadcast of two shapes; throws Error(kModel) when they do not.
Shape BroadcastShapes(const Shape& a, const Shape& b);

// `axis` resolved against `rank` (negative counts from the end); throws
// Error(kModel) when out of range.
int64_t NormalizeAxis(int64_t axis, int64_t rank);

}  // namespace rowflow::ir

#endif  // ROWFLOW_GRAPH_OP_SCHEMA_H_
