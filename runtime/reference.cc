#include "runtime/reference.h"

#include <algorithm>

#include "graph/error.h"
#include "ops/activation.h"
#include "ops/registry.h"

namespace rowflow {
namespace {

template <typename T>
void CheckInput(const ir::Graph& graph, const RowMatrix<T>& input) {
  const bool f32 = graph.dtype == ir::DType::kF32;
  if (f32 != (sizeof(T) == 4)) {
    throw MakeError(ErrorKind::kUsage, "graph '{}' is {}; rows are f{}",
                    graph.name, ir::DTypeName(graph.dtype), sizeof(T) * 8);
  }
  if (input.cols != graph.InputWidth()) {
    throw MakeError(ErrorKind::kInput,
                    "graph '{}': expected {} columns per row, got {}",
                    graph.name, graph.InputWidth(), input.cols);
  }
}

// An ACTIVATION node by the activation's scalar definition in long double
// (ops::ActivationReference), never by the vector kernels the plan runs, so
// that a wrong kernel cannot agree with itself. Parameters are rounded to T
// as the kernels round them.
template <typename T>
void ReferenceActivation(const ir::Node& node, const ops::Operand<T>& in,
                         const ir::Shape& out_shape, int64_t rows, T* out) {
  const ops::ActivationParams params{
      static_cast<double>(static_cast<T>(node.alpha)),
      static_cast<double>(static_cast<T>(node.beta))};
  const int64_t n = ir::NumElements(out_shape);
  const int64_t len = ops::IsLastAxis(node.activation) && !out_shape.empty()
                          ? out_shape.back()
                          : 1;
  std::vector<long double> x(len), y(len);
  for (int64_t r = 0; r < rows; ++r) {
    const T* src = in.data + (in.per_row ? r * n : 0);
    for (int64_t g = 0; g < n; g += len) {
      std::copy_n(src + g, len, x.begin());
      ops::ActivationReferenceGroup(node.activation, params, x.data(), len,
                                    y.data());
      for (int64_t i = 0; i < len; ++i)
        out[r * n + g + i] = static_cast<T>(y[i]);
    }
  }
}

}  // namespace

template <typename T>
std::vector<std::vector<T>> EvaluateAllValues(const ir::Graph& graph,
                                              const RowMatrix<T>& input) {
  CheckInput(graph, input);
  const int64_t rows = input.rows;
  std::vector<std::vector<T>> values(graph.values.size());
  // Inputs: slice each row's columns in input order.
  int64_t column = 0;
  for (int id : graph.inputs) {
    const int64_t n = ir::NumElements(graph.values[id].shape);
    std::vector<T>& v = values[id];
    v.resize(rows * n);
    for (int64_t r = 0; r < rows; ++r) {
      std::copy_n(input.row(r) + column, n, v.data() + r * n);
    }
    column += n;
  }
  for (const ir::Tensor& c : graph.constants) {
    values[c.value].assign(c.data.begin(), c.data.end());
  }
  std::vector<ops::Operand<T>> operands;
  for (const ir::Node& node : graph.nodes) {
    operands.clear();
    for (int id : node.inputs) {
      const ir::Value& v = graph.values[id];
      operands.push_back(
          {values[id].data(), &v.shape, v.kind != ir::ValueKind::kConstant});
    }
    const ir::Shape& out_shape = graph.values[node.output].shape;
    std::vector<T>& out = values[node.output];
    out.resize(rows * ir::NumElements(out_shape));
    if (node.op == ir::OpKind::kActivation) {
      ReferenceActivation(node, operands[0], out_shape, rows, out.data());
    } else {
      ops::GetOp(node.op).kernel<T>()(node, operands, out_shape, rows,
                                      out.data());
    }
  }
  return values;
}

template <typename T>
RowMatrix<T> EvaluateReference(const ir::Graph& graph,
                               const RowMatrix<T>& input) {
  std::vector<std::vector<T>> values = EvaluateAllValues(graph, input);
  RowMatrix<T> out(input.rows, graph.OutputWidth());
  int64_t column = 0;
  for (int id : graph.outputs) {
    const ir::Value& v = graph.values[id];
    const int64_t n = ir::NumElements(v.shape);
    for (int64_t r = 0; r < input.rows; ++r) {
      // A constant output is the same for every row.
      const T* src =
          values[id].data() + (v.kind == ir::ValueKind::kConstant ? 0 : r * n);
      std::copy_n(src, n, out.row(r) + column);
    }
    column += n;
  }
  return out;
}

template std::vector<std::vector<float>> EvaluateAllValues(
    const ir::Graph&, const RowMatrix<float>&);
template std::vector<std::vector<double>> EvaluateAllValues(
    const ir::Graph&, const RowMatrix<double>&);
template RowMatrix<float> EvaluateReference(const ir::Graph&,
                                            const RowMatrix<float>&);
template RowMatrix<double> EvaluateReference(const ir::Graph&,
                                             const RowMatrix<double>&);

}  // namespace rowflow
