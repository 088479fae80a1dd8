// Export of rowflow graphs to ONNX: opset 13, IR version 7, one dynamic
// batch dimension "N" in front of every input and output, as ONNX Runtime
// and onnx.checker expect.
//
//   rowflow::SaveOnnx(rowflow::LoadGraph("model.pb"), "model.onnx");
//
// Per op: MULTIPLY -> Mul, ADD -> Add, SUM -> ReduceSum (axes input,
// keepdims=0), ACTIVATION -> its op or, where opset 13 has none (GELU,
// GELU_TANH, SILU), its expansion (tools/onnx/activations.h; Softmax and
// LogSoftmax with axis=-1), CONCAT -> Concat, RESHAPE -> Reshape by a
// constant INT64 [-1, dims...] ([dims...] for a constant's); per-row axes
// shift by one
// for the batch dim, and a row value of lower rank than its partner in a
// broadcast (or a scalar being stacked) is Unsqueezed after the batch dim.
// A MULTIPLY whose only reader is a SUM over the last axis, of a per-row
// vector by constant weights (the layer form, and each per-node unit),
// becomes one MatMul by the transposed weights instead, so ONNX runtimes
// run a GEMM and never build the (rows, k, n) product. Constants become
// initializers (typed float_data / double_data). Value and node names are
// kept; an activation parameter that is not a float is also saved exactly
// in the model metadata, so that import gives back the same graph.
//
// Refused (Error(kModel)): an output or a CONCAT input that does not depend
// on the rows next to one that does (ONNX constants have no batch dim).
//
// Thread-safety: free functions without shared state.
#ifndef ROWFLOW_TOOLS_ONNX_EXPORT_H_
#define ROWFLOW_TOOLS_ONNX_EXPORT_H_

#include <string>

#include "graph/ir.h"

namespace rowflow {

// The ONNX model bytes (a serialized ModelProto) of the validated `graph`.
std::string ExportOnnx(const ir::Graph& graph);

// Writes ExportOnnx(graph) to `path` ("-" is stdout) through a temp file
// renamed on success; Error(kIo) and nothing left behind on failure.
void SaveOnnx(const ir::Graph& graph, const std::string& path);

}  // namespace rowflow

#endif  // ROWFLOW_TOOLS_ONNX_EXPORT_H_
