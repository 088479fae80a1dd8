// Import of ONNX models (Debian's libonnx-dev, any IR version, opsets 7..22)
// into validated rowflow graphs: the feed-forward subset a Linear / ReLU /
// Tanh network exports to, lowered to rowflow's operators.
//
//   ir::Graph g = rowflow::ImportOnnxFile("model.onnx");
//   rowflow::SaveGraph(g, "model.pb", rowflow::Encoding::kBinary);
//
// What maps to what (the rest is refused, naming the node, its op type and
// the opset): MatMul / Gemm -> MULTIPLY by the (k, n) weights + SUM(-1)
// (+ ADD of the bias; alpha and beta folded in); Add / Mul -> ADD /
// MULTIPLY; ReduceSum -> SUM; the activation ops and the GELU / SiLU
// expansions of tools/onnx/activations.h -> ACTIVATION; Concat -> CONCAT;
// Identity -> no node; Squeeze, Unsqueeze, Reshape, Flatten -> no node where
// they add or drop unit dims, else RESHAPE; Constant and
// initializers (FLOAT or DOUBLE, raw_data or typed fields) -> constants
// where rows use them. The
// first dim of every graph input is the batch (dynamic or fixed): it becomes
// rowflow's row dimension; the other dims must be fixed. Inputs decide the
// dtype (all FLOAT: F32, all DOUBLE: F64). Rowflow values keep the ONNX
// value names.
//
// Thread-safety: free functions without shared state.
#ifndef ROWFLOW_TOOLS_ONNX_IMPORT_H_
#define ROWFLOW_TOOLS_ONNX_IMPORT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "graph/ir.h"
#include "graph/validate.h"

namespace rowflow {

struct OnnxImportOptions {
  // Larger files are refused before they are read; also protobuf's limit.
  int64_t max_file_bytes = int64_t{1} << 30;
  // The rowflow graph's budget; it also bounds the host copy of all
  // initializers, checked before they are decoded.
  ValidateOptions validate;
};

// Parses ONNX model `bytes` and lowers them to a validated graph; `source`
// names them in messages. Every refusal is Error(kModel) "<source>: ...",
// with "node '<name>' (<OpType>, opset N): " where a node is at fault. Never
// reads outside `bytes`, whatever they hold (the fuzz target's entry).
ir::Graph ImportOnnx(std::string_view bytes, std::string_view source,
                     const OnnxImportOptions& options = {});

// Reads the regular file at `path` and imports it; a missing or unreadable
// file is Error(kModel) too.
ir::Graph ImportOnnxFile(const std::string& path,
                         const OnnxImportOptions& options = {});

// Whether `bytes` parse as an ONNX ModelProto with an IR version and a
// graph (not whether rowflow can import it): for the hint when an ONNX file
// is given where a rowflow model belongs.
bool IsOnnxModel(std::string_view bytes);

}  // namespace rowflow

#endif  // ROWFLOW_TOOLS_ONNX_IMPORT_H_
