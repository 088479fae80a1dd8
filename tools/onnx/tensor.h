// ONNX tensors and attributes as host data, shared by the ONNX importer and
// exporter (tools/onnx/import.h, tools/onnx/export.h). Internal to the
// rowflow_onnx library: nothing outside it sees ONNX types.
//
// Thread-safety: free functions and plain data without shared state.
#ifndef ROWFLOW_TOOLS_ONNX_TENSOR_H_
#define ROWFLOW_TOOLS_ONNX_TENSOR_H_

#include <fmt/format.h>
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "graph/error.h"
#include "graph/ir.h"

namespace rowflow::onnx_internal {

// A constant read from an initializer or a Constant node: floating-point
// data as double (exact for FLOAT and DOUBLE), integer data (axes) as int64.
struct HostTensor {
  std::string name;
  bool is_int = false;
  ir::DType dtype = ir::DType::kF32;  // element type of float data
  std::vector<int64_t> dims;          // the ONNX shape, no batch dim implied
  std::vector<double> values;         // !is_int: product(dims) entries
  std::vector<int64_t> ints;          // is_int: product(dims) entries
};

// Reads `t` (FLOAT or DOUBLE; INT64 / INT32 for axes and shapes, BOOL for
// flags; raw_data or the typed field), named `what` in messages
// ("initializer 'W'"). The host bytes are charged to `*budget_bytes` before
// anything is allocated; sizes are checked against the shape first. Throws
// Error(kModel): external data, other element types, negative dims, a data
// length that does not match.
HostTensor ReadTensor(const onnx::TensorProto& t, const std::string& what,
                      int64_t* budget_bytes);

// ONNX's name of an element type for messages: "FLOAT16", or "type 99".
std::string ElemTypeName(int32_t elem_type);

// FLOAT or DOUBLE, the ONNX element type of `dtype`.
int32_t ElemType(ir::DType dtype);

// Fills `t` as a FLOAT/DOUBLE tensor `name` of shape `dims` holding `data`
// (row-major, already exact in `dtype`).
void WriteFloatTensor(const std::string& name, const ir::Shape& dims,
                      const std::vector<double>& data, ir::DType dtype,
                      onnx::TensorProto* t);

// Fills `t` as the 1-D INT64 tensor `name` holding `data`.
void WriteInt64Tensor(const std::string& name, const std::vector<int64_t>& data,
                      onnx::TensorProto* t);

// Number of elements of `dims`, or -1 when a dim is negative or the product
// overflows int64.
int64_t CheckedCount(const std::vector<int64_t>& dims);

}  // namespace rowflow::onnx_internal

#endif  // ROWFLOW_TOOLS_ONNX_TENSOR_H_
