#include "runtime/reference.h"

#include <algorithm>

#include "graph/error.h"
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
    ops::GetOp(node.op).kernel<T>()(node, operands, out_shape, rows,
                                    out.data());
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
