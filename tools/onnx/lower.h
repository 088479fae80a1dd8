// Lowering of single ONNX nodes to rowflow operators: the core of the ONNX
// importer (tools/onnx/import.h). Internal to the rowflow_onnx library.
//
// Every ONNX value is either a host constant (an initializer, a Constant
// node) or a row value: a rowflow value plus its ONNX shape without the
// batch dimension (`logical`). The rowflow shape is `logical` without its
// leading unit dims, which broadcast the same way; so Unsqueeze(x[N, n]) to
// [N, 1, n] keeps x, and a keepdims ReduceSum of [N, n] to [N, 1] is a
// per-row scalar. Constants become rowflow constants where a row value uses
// them, in the form that use needs (MatMul's transposed weights, Gemm's
// alpha folded in, a bias without its unit batch dim).
//
// Thread-safety: one object per import, used by one thread.
#ifndef ROWFLOW_TOOLS_ONNX_LOWER_H_
#define ROWFLOW_TOOLS_ONNX_LOWER_H_

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "graph/activation.h"
#include "graph/builder.h"
#include "graph/ir.h"
#include "tools/onnx/activations.h"
#include "tools/onnx/tensor.h"

namespace rowflow::onnx_internal {

// The ONNX ops the importer lowers, for messages.
std::string SupportedOps();

// A value computed from the rows.
struct RowValue {
  ValueRef ref;
  std::string name;   // the rowflow value's name
  ir::Shape logical;  // ONNX shape without the batch dim
  ir::Shape shape;    // rowflow per-row shape: `logical` minus leading 1s
                      // (some or all of them)
  bool is_input = false;
};

// Whether `shape` is a suffix of `logical` and the rest of `logical` is 1s.
bool IsOnesThen(const ir::Shape& logical, const ir::Shape& shape);

// Lowers an ONNX graph into a GraphBuilder, one node at a time in
// topological order.
class Lowering {
 public:
  // `reserved` holds every ONNX value name; intermediate rowflow values get
  // fresh names outside it. Activation parameters in `exact_params` (by
  // "alpha/<output>", ReadExactParam) replace the float attributes they
  // round to.
  // Constant nodes' tensors are charged to `budget_bytes`.
  Lowering(GraphBuilder& builder, ir::DType dtype,
           std::set<std::string> reserved,
           std::map<std::string, double> exact_params, int64_t budget_bytes);

  Lowering(const Lowering&) = delete;
  Lowering& operator=(const Lowering&) = delete;

  // A graph input with per-row `shape` (the ONNX shape after the batch dim).
  void AddInput(const std::string& name, ir::Shape shape);
  // An initializer.
  void AddConstant(HostTensor tensor);
  // Lowers `node` of the default domain at `opset`; its inputs are defined.
  // Throws Error(kModel) saying what is wrong; the caller names the node.
  void Lower(const onnx::NodeProto& node, int64_t opset);
  // Lowers `node`, the last node of an activation's expansion, as `act` of
  // ONNX value `x` (FindExpansions).
  void LowerExpansion(const onnx::NodeProto& node, int64_t opset,
                      const FoundExpansions::Found& found);
  // Makes the ONNX value `name` a graph output (an IDENTITY node keeps its
  // name when it aliases another value). Throws Error(kModel).
  void Output(const std::string& name);

 private:
  struct Entry {
    std::shared_ptr<const HostTensor> tensor;  // set for constants
    RowValue row;
  };

  // Inputs and attributes of the current node.
  const Entry& In(int i) const;
  bool HasInput(int i) const;
  bool IsConst(int i) const { return In(i).tensor != nullptr; }
  const RowValue& Row(int i) const;
  const HostTensor& Const(int i) const;
  const HostTensor& FloatConst(int i) const;
  std::vector<int64_t> IntsInput(int i) const;
  void Arity(int min, int max) const;
  void KnownAttrs(const std::vector<std::string_view>& names) const;
  const onnx::AttributeProto* Attr(std::string_view name, int type) const;
  int64_t IntAttr(std::string_view name, int64_t fallback) const;
  std::string StringAttr(std::string_view name,
                         const std::string& fallback) const;
  double FloatAttr(std::string_view name, double fallback) const;

  // Names and values.
  std::string Fresh(const std::string& base);
  std::string InnerName(const std::string& suffix);
  void Define(const std::string& name, RowValue row);
  ValueRef Materialize(const HostTensor& t, const std::string& variant,
                       const ir::Shape& shape, std::vector<double> data);
  int64_t NormalizeAxis(int64_t axis, int64_t rank, const char* what) const;

  // One function per ONNX op (or op family).
  void Elementwise(ir::OpKind kind);
  void MatMul();
  void Gemm();
  ValueRef Contract(const RowValue& x, const HostTensor& b, bool b_is_kn,
                    double alpha, const std::string& sum_name, int64_t* units);
  void ReduceSum();
  void Activation();
  void Activate(const RowValue& x, ir::Activation act,
                std::optional<double> alpha, std::optional<double> beta);
  // ONNX's float `v` for `param` of the current node, or the exact double
  // rowflow's exporter saved for it (ReadExactParam) when that rounds to v.
  double ExactParam(ir::ActivationParam param, double v) const;
  void Clip();
  void LayerNormalization();
  // Refuses a normalization over `axis` of x other than its last.
  void CheckLastAxis(const RowValue& x, int64_t axis) const;
  void Identity();
  void Flatten();
  void Concat();
  void Unsqueeze();
  void Constant();

  GraphBuilder& builder_;
  ir::DType dtype_;
  std::set<std::string> reserved_;
  std::map<std::string, double> exact_params_;
  int64_t budget_bytes_;
  std::map<std::string, Entry> values_;
  std::map<std::string, ValueRef> constants_;  // by tensor + variant
  std::set<const HostTensor*> named_;          // tensors whose name is used
  std::set<std::string> output_names_;
  const onnx::NodeProto* node_ = nullptr;
  int64_t opset_ = 0;
  std::string out_;
};

}  // namespace rowflow::onnx_internal

#endif  // ROWFLOW_TOOLS_ONNX_LOWER_H_
