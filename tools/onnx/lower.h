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

// Whether the importer evaluates `op` on the host, in double, when every
// input is a constant (Sqrt, Add, ..., Reshape: lower_fold.cc).
bool FoldsOnHost(std::string_view op);
// "Add, Sub, ..., Squeeze": the ops folded on the host, for messages.
std::string FoldedOps();

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

  // Whether Lower reads ONNX op `op` (of the default domain) over row
  // values: the ops with a handler and the activation ops.
  static bool LowersRows(std::string_view op);

  // A graph input with per-row `shape` (the ONNX shape after the batch dim).
  void AddInput(const std::string& name, ir::Shape shape);
  // An initializer.
  void AddConstant(HostTensor tensor);
  // Lowers `node` of the default domain at `opset`, an op that LowersRows
  // or FoldsOnHost; its inputs are defined. A node over constants only is
  // folded on the host. Throws Error(kModel) saying what is wrong; the
  // caller names the node.
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
  // Refuses attributes outside `names`; before opset 6 every op may have
  // consumed_inputs (a memory-reuse hint without meaning for the result).
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
  // A rowflow constant computed on the host (BatchNormalization's scale),
  // named `base` or a fresh variant of it; `data` rounds to the dtype.
  ValueRef Derived(const std::string& base, const ir::Shape& shape,
                   std::vector<double> data);
  // x * -1, exact: how rowflow subtracts.
  ValueRef Negate(const RowValue& x, const std::string& name);
  // Defines out_ as row value `x` with ONNX shape `logical` (the same
  // elements in the same row-major order): a relabelling where x's rowflow
  // shape fits `logical`, else SUMs over its length-1 axes (bitwise the
  // identity) to drop unit dims, else a RESHAPE to `logical` without its
  // leading unit dims.
  void Relabel(const RowValue& x, const ir::Shape& logical);
  int64_t NormalizeAxis(int64_t axis, int64_t rank, const char* what) const;
  // Input 1's dims lined up for numpy broadcasting against input 0 of
  // `rank` dims (batch included) under the `broadcast` and `axis`
  // attributes of opsets before 7; `dims` unchanged from opset 7.
  ir::Shape LegacyBroadcast(const ir::Shape& dims, size_t rank) const;

  using Handler = void (*)(Lowering&);
  static const std::map<std::string_view, Handler>& Ops();

  // One function per ONNX op (or op family).
  enum class BinaryOp { kAdd, kSub, kMul, kDiv };
  void Elementwise(BinaryOp op);
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
  void Squeeze();
  void Reshape();
  void Transpose();
  // The arguments of Squeeze and Unsqueeze (axes: an attribute before
  // opset 13, an input from 13), Reshape (shape: an attribute before opset
  // 5) and Transpose (perm over `rank` dims, reversed by default), checking
  // attributes and arity.
  std::optional<std::vector<int64_t>> AxesArg() const;
  std::vector<int64_t> ReshapeArg() const;
  std::vector<int64_t> PermArg(size_t rank) const;
  // ONNX's result shapes for input dims `in`: Squeeze (`batch`: in[0] is
  // the batch, which stays) and Reshape (0 copies, -1 infers).
  ir::Shape SqueezeDims(const ir::Shape& in,
                        const std::optional<std::vector<int64_t>>& axes,
                        bool batch) const;
  ir::Shape ReshapeDims(const ir::Shape& in,
                        const std::vector<int64_t>& shape) const;
  ir::Shape UnsqueezeDims(const ir::Shape& in, const std::vector<int64_t>& axes,
                          bool batch) const;
  void Cast();
  int32_t CastTarget() const;  // Cast's 'to': an ONNX element type
  void Dropout();
  void Constant();
  void BatchNormalization();
  void PRelu();
  void Selu();
  void HardSwish();
  // Evaluates the current node, whose inputs are all constants, on the
  // host (lower_fold.cc).
  void Fold();
  // Charges a folded constant of shape `dims` to the memory budget.
  void ChargeBudget(const ir::Shape& dims);

  GraphBuilder& builder_;
  ir::DType dtype_;
  std::set<std::string> reserved_;
  std::map<std::string, double> exact_params_;
  int64_t budget_bytes_;
  std::map<std::string, Entry> values_;
  std::map<std::string, ValueRef> constants_;  // by tensor + variant
  std::set<const HostTensor*> named_;          // tensors whose name is used
  std::set<std::string> output_names_;
  // ONNX values no rowflow value stands for (Dropout's mask), with why.
  std::map<std::string, std::string> uncomputed_;
  std::shared_ptr<const HostTensor> minus_one_;  // for Negate
  const onnx::NodeProto* node_ = nullptr;
  int64_t opset_ = 0;
  std::string out_;
};

}  // namespace rowflow::onnx_internal

#endif  // ROWFLOW_TOOLS_ONNX_LOWER_H_
