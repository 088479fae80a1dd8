// The activations in ONNX: one row per rowflow activation saying which
// ONNX op it is read from and written as, and, where ONNX has no op for it
// at the exporter's opset, the subgraph (its expansion) written instead and
// recognised on import in the forms PyTorch's exporters write. The
// importer (tools/onnx/lower.h) and the exporter (tools/onnx/export.h) read
// only this table for activations. Internal to the rowflow_onnx library.
//
// Thread-safety: immutable tables; free functions without shared state.
#ifndef ROWFLOW_TOOLS_ONNX_ACTIVATIONS_H_
#define ROWFLOW_TOOLS_ONNX_ACTIVATIONS_H_

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "graph/activation.h"
#include "graph/ir.h"
#include "tools/onnx/tensor.h"

namespace rowflow::onnx_internal {

// An expression over the activation's input x, as ONNX nodes of the
// default domain without attributes. kMul and kAdd are n-ary: they match
// their ONNX nodes in any association and operand order, so their operands
// are never a kMul (kAdd) again; kAlt matches any of its operands and is
// written as the first.
struct Expr {
  enum class Kind : uint8_t { kX, kConst, kOp, kMul, kAdd, kAlt };
  Kind kind = Kind::kX;
  std::string op;    // kOp: the ONNX op ("Erf")
  double value = 0;  // kConst: matches a scalar within 2^-23 relative
  std::vector<Expr> args;
};

// How one rowflow activation maps to ONNX. Parameters map by name (alpha,
// beta: graph/activation.h) with rowflow's defaults, which are ONNX's.
struct OnnxActivation {
  ir::Activation act;
  std::string_view op;  // read, and written when the export opset has it;
                        // empty: ONNX has none
  int64_t since_opset;  // the first opset with `op`
  std::string_view approximate;  // Gelu's 'approximate' picking this row
  const Expr* expansion;         // written when `op` is not; nullptr: none
};

// Every row, in ir::Activation order.
std::span<const OnnxActivation> OnnxActivations();
// The row of `act`, a valid activation.
const OnnxActivation& GetOnnxActivation(ir::Activation act);
// Whether some row reads ONNX op `op`.
bool IsActivationOp(std::string_view op);
// "Relu, Tanh, ...": the ONNX ops read as activations, for messages.
std::string ActivationOpList();

// Model metadata keys under which the exporter saves a parameter that is
// not a float exactly (ONNX's attributes are floats): "rowflow.alpha/<the
// node's output>". The key "rowflow.leaky_relu_alpha/<output>" of older
// exports reads as alpha.
std::string ExactParamKey(ir::ActivationParam param, std::string_view output);
// Reads metadata entry (key, value) into `exact` (by "alpha/<output>")
// when it is such a key; returns whether it was.
bool ReadExactParam(const std::string& key, const std::string& value,
                    std::map<std::string, double>* exact);

// The single-element constants of `graph` by name, from `initializers` and
// Constant nodes: the operands an expansion's kConst can match.
std::map<std::string, double> ScalarConstants(
    const onnx::GraphProto& graph, std::span<const HostTensor> initializers);

// Activations found as expansions in `graph` (its nodes in topological
// `order`): the node computing act(x) and the other nodes of the
// expansion, each read only inside it (and no graph output).
struct FoundExpansions {
  struct Found {
    ir::Activation act;
    std::string x;                // the ONNX value it applies to
    std::optional<double> alpha;  // a parameter read from the pattern
    int64_t axis = -1;            // LAYER_NORM: the ReduceMeans' axis
  };
  std::map<int, Found> roots;  // by node index
  std::set<int> absorbed;      // node indices
};
FoundExpansions FindExpansions(const onnx::GraphProto& graph,
                               const std::vector<int>& order,
                               const std::map<std::string, double>& scalars);
// Adds to `found` the layer norms PyTorch writes below opset 17 as
// ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div (tools/onnx/norm_pattern.cc),
// where none of their nodes is in `found` yet; FindExpansions calls it.
void FindLayerNorms(const onnx::GraphProto& graph,
                    const std::map<std::string, double>& scalars,
                    FoundExpansions* found);

}  // namespace rowflow::onnx_internal

#endif  // ROWFLOW_TOOLS_ONNX_ACTIVATIONS_H_
