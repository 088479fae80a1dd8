// GraphBuilder: the C++ API for writing a rowflow graph in code, node by
// node as the seed does, or a dense layer at a time.
//
//   rowflow::GraphBuilder b("seed_2_2");
//   auto x = b.Input("x", {2});
//   auto w = b.Constant("w", {2}, {1, 1});
//   b.Output(b.Sum(b.Multiply(x, w)));
//   rowflow::ir::Graph g = b.Build();  // validated
//
// Thread-safety: a builder is used by one thread at a time.
#ifndef ROWFLOW_GRAPH_BUILDER_H_
#define ROWFLOW_GRAPH_BUILDER_H_

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "graph/ir.h"
#include "graph/validate.h"

namespace rowflow {

// A value of the graph under construction.
struct ValueRef {
  int id = -1;
};

// The two first-class forms of a dense layer (DESIGN.md "Operators").
enum class DenseForm {
  // MULTIPLY(x, W) -> SUM -> ADD(b) -> ACTIVATION
  kLayer,
  // per unit: SUM(MULTIPLY(x, w_i)) -> ADD(b_i) -> ACTIVATION; then CONCAT
  kPerNode,
};

// Options of GraphBuilder::Dense.
struct DenseOptions {
  ir::Activation activation = ir::Activation::kIdentity;
  // The activation's parameters (graph/activation.h); unset: its defaults.
  std::optional<double> alpha = std::nullopt;
  DenseForm form = DenseForm::kLayer;
  std::optional<double> beta = std::nullopt;
};

class GraphBuilder {
 public:
  explicit GraphBuilder(std::string name, ir::DType dtype = ir::DType::kF32);

  GraphBuilder(const GraphBuilder&) = delete;
  GraphBuilder& operator=(const GraphBuilder&) = delete;

  // Every call that adds a value throws Error(kModel) when its name is
  // already taken; the rest is checked by Build.

  // A graph input with per-row `shape`; inputs fill a row's columns in order.
  ValueRef Input(const std::string& name, ir::Shape shape);
  // A constant (weights), rounded to the graph's dtype.
  ValueRef Constant(const std::string& name, ir::Shape shape,
                    std::vector<double> data);

  // The operators. An empty `name` picks a fresh one ("mul_3").
  ValueRef Multiply(ValueRef a, ValueRef b, const std::string& name = "");
  ValueRef Add(ValueRef a, ValueRef b, const std::string& name = "");
  ValueRef Sum(ValueRef a, int64_t axis = -1, const std::string& name = "");
  // ACTIVATION `act` with its `alpha` and `beta` (graph/activation.h);
  // unset ones take the table's defaults, and an activation ignores the
  // parameters it does not take. Build refuses non-finite ones.
  ValueRef Activation(ValueRef a, ir::Activation act,
                      std::optional<double> alpha = {},
                      const std::string& name = "");
  ValueRef Activation(ValueRef a, ir::Activation act,
                      std::optional<double> alpha, std::optional<double> beta,
                      const std::string& name = "");
  ValueRef Concat(const std::vector<ValueRef>& parts, int64_t axis = -1,
                  const std::string& name = "");
  // RESHAPE: `a`'s elements, row-major, as per-row `shape` (rank 1-2, the
  // same element count).
  ValueRef Reshape(ValueRef a, ir::Shape shape, const std::string& name = "");

  // A dense layer over the vector `x`: `weights` is (units, width) row-major
  // (row i = unit i's weights), `bias` has `units` entries or none. Nodes are
  // named after `name`: "<name>" is the layer's output; per-node units are
  // "<name>_<i>" (the activation output), "<name>_<i>_input" (the sum, after
  // the bias) and "<name>_<i>_mul".
  ValueRef Dense(ValueRef x, const std::string& name, int64_t units,
                 std::vector<double> weights, std::vector<double> bias,
                 const DenseOptions& options = {});

  // Marks `v` as a graph output; outputs fill a row's columns in order.
  void Output(ValueRef v);
  // Sets a metadata entry carried in the model file.
  void SetMetadata(const std::string& key, const std::string& value);

  // The validated graph; throws Error(kModel) naming the faulty node.
  ir::Graph Build(const ValidateOptions& options = {});

 private:
  ValueRef AddValue(const std::string& name, ir::ValueKind kind, int index,
                    ir::Shape shape);
  ValueRef AddNode(ir::Node node, const std::string& prefix);
  std::string FreshName(const std::string& prefix);
  double Round(double v) const;

  ir::Graph graph_;
  std::unordered_map<std::string, int> ids_;  // value id of each name
  int next_id_ = 0;
};

}  // namespace rowflow

#endif  // ROWFLOW_GRAPH_BUILDER_H_
