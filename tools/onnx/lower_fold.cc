// Constant folding: a node of the ops below whose inputs are all constants
// is evaluated on the host, in double, and its output rounded to its
// element type after each node — for + - * / and Sqrt that is bitwise what
// a runtime computing in that type gets. So models exported with
// do_constant_folding=False (BatchNormalization's parameters behind Sqrt,
// Div, ...; weights behind Transpose or Cast) import as well.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>
#include <utility>

#include "graph/error.h"
#include "graph/op_schema.h"
#include "tools/onnx/lower.h"

namespace rowflow::onnx_internal {
namespace {

constexpr std::string_view kFolded[] = {
    "Add",     "Sub",     "Mul",        "Div",      "Pow",
    "Sqrt",    "Neg",     "Reciprocal", "Cast",     "Transpose",
    "Reshape", "Flatten", "Squeeze",    "Unsqueeze"};

double RoundTo(ir::DType dtype, double v) {
  return dtype == ir::DType::kF32 ? static_cast<double>(static_cast<float>(v))
                                  : v;
}

// Row-major strides of `dims` seen from an `out`-shaped index: 0 along
// the dims it broadcasts (numpy's alignment of trailing dims).
std::vector<int64_t> BroadcastStrides(const ir::Shape& dims,
                                      const ir::Shape& out) {
  std::vector<int64_t> strides(out.size(), 0);
  int64_t stride = 1;
  for (size_t i = 0; i < dims.size(); ++i) {
    const size_t d = dims.size() - 1 - i;
    if (dims[d] != 1) strides[out.size() - 1 - i] = stride;
    stride *= dims[d];
  }
  return strides;
}

// For each element of `out` (row-major), the index into each input.
void ForEachIndex(const ir::Shape& out,
                  const std::vector<std::vector<int64_t>>& strides,
                  const std::function<void(const std::vector<int64_t>&)>& f) {
  const int64_t count = CheckedCount(out);
  std::vector<int64_t> at(out.size(), 0), index(strides.size(), 0);
  for (int64_t e = 0; e < count; ++e) {
    f(index);
    for (size_t d = out.size(); d-- > 0;) {
      for (size_t k = 0; k < strides.size(); ++k) index[k] += strides[k][d];
      if (++at[d] < out[d]) break;
      for (size_t k = 0; k < strides.size(); ++k)
        index[k] -= strides[k][d] * out[d];
      at[d] = 0;
    }
  }
}

std::vector<double> AsDoubles(const HostTensor& t) {
  if (!t.is_int) return t.values;
  return std::vector<double>(t.ints.begin(), t.ints.end());
}

}  // namespace

bool FoldsOnHost(std::string_view op) {
  // Identity and Dropout pass a constant on as they do a row value.
  return op == "Identity" || op == "Dropout" ||
         std::find(std::begin(kFolded), std::end(kFolded), op) !=
             std::end(kFolded);
}

std::string FoldedOps() { return fmt::format("{}", fmt::join(kFolded, ", ")); }

void Lowering::Fold() {
  const std::string& op = node_->op_type();
  if (op == "Identity") return Identity();
  if (op == "Dropout") return Dropout();
  HostTensor out;
  const HostTensor& a = Const(0);
  const bool binary =
      op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Pow";
  if (binary) {
    if (opset_ < 7) {
      KnownAttrs({"broadcast", "axis"});
    } else {
      KnownAttrs({});
    }
    Arity(2, 2);
    const HostTensor& x = FloatConst(0);
    // Pow's exponent may be an integer from opset 12.
    const HostTensor& y = op == "Pow" ? Const(1) : FloatConst(1);
    const ir::Shape ydims = LegacyBroadcast(y.dims, x.dims.size());
    out.dims = ir::BroadcastShapes(x.dims, ydims);
    out.dtype = x.dtype;
    const std::vector<double> yv = AsDoubles(y);
    std::function<double(double, double)> f;
    if (op == "Add") f = std::plus<double>();
    if (op == "Sub") f = std::minus<double>();
    if (op == "Mul") f = std::multiplies<double>();
    if (op == "Div") f = std::divides<double>();
    if (op == "Pow") f = [](double b, double e) { return std::pow(b, e); };
    ChargeBudget(out.dims);
    ForEachIndex(
        out.dims,
        {BroadcastStrides(x.dims, out.dims), BroadcastStrides(ydims, out.dims)},
        [&](const std::vector<int64_t>& i) {
          out.values.push_back(RoundTo(out.dtype, f(x.values[i[0]], yv[i[1]])));
        });
  } else if (op == "Sqrt" || op == "Neg" || op == "Reciprocal") {
    KnownAttrs({});
    Arity(1, 1);
    out = FloatConst(0);
    for (double& v : out.values) {
      v = RoundTo(out.dtype, op == "Sqrt"  ? std::sqrt(v)
                             : op == "Neg" ? -v
                                           : 1.0 / v);
    }
  } else if (op == "Cast") {
    KnownAttrs({"to", "saturate"});
    Arity(1, 1);
    const int32_t to = CastTarget();
    out.dims = a.dims;
    if (to == onnx::TensorProto::FLOAT || to == onnx::TensorProto::DOUBLE) {
      out.dtype =
          to == onnx::TensorProto::FLOAT ? ir::DType::kF32 : ir::DType::kF64;
      out.values = AsDoubles(a);
      for (double& v : out.values) v = RoundTo(out.dtype, v);
    } else if ((to == onnx::TensorProto::INT64 ||
                to == onnx::TensorProto::INT32) &&
               a.is_int) {
      out.is_int = true;
      out.ints = a.ints;
    } else {
      Fail(
          "casts constant '{}' ({}) to {}; rowflow folds casts to FLOAT or "
          "DOUBLE, and between integer types",
          a.name, a.is_int ? "integers" : ElemTypeName(ElemType(a.dtype)),
          ElemTypeName(to));
    }
  } else if (op == "Transpose") {
    const std::vector<int64_t> perm = PermArg(a.dims.size());
    out = a;
    out.dims.clear();
    std::vector<int64_t> strides_in(a.dims.size(), 1), strides(perm.size());
    for (size_t d = a.dims.size(); d-- > 1;)
      strides_in[d - 1] = strides_in[d] * a.dims[d];
    for (size_t i = 0; i < perm.size(); ++i) {
      out.dims.push_back(a.dims[perm[i]]);
      strides[i] = strides_in[perm[i]];
    }
    out.values.clear();
    out.ints.clear();
    ForEachIndex(out.dims, {strides}, [&](const std::vector<int64_t>& i) {
      if (a.is_int) {
        out.ints.push_back(a.ints[i[0]]);
      } else {
        out.values.push_back(a.values[i[0]]);
      }
    });
  } else {
    // The reshapes keep the data.
    out = a;
    if (op == "Reshape") {
      out.dims = ReshapeDims(a.dims, ReshapeArg());
    } else if (op == "Squeeze") {
      out.dims = SqueezeDims(a.dims, AxesArg(), /*batch=*/false);
    } else if (op == "Unsqueeze") {
      const std::optional<std::vector<int64_t>> axes = AxesArg();
      if (!axes) Fail("has no axes; expected them");
      out.dims = UnsqueezeDims(a.dims, *axes, /*batch=*/false);
    } else {
      RF_CHECK(op == "Flatten");
      KnownAttrs({"axis"});
      Arity(1, 1);
      const auto rank = static_cast<int64_t>(a.dims.size());
      const int64_t given = IntAttr("axis", 1);
      const int64_t axis =
          given == rank ? rank : NormalizeAxis(given, rank, "axis");
      int64_t outer = 1;
      for (int64_t d = 0; d < axis; ++d) outer *= a.dims[d];
      out.dims = {outer, CheckedCount(a.dims) / std::max<int64_t>(outer, 1)};
    }
  }
  if (!binary) ChargeBudget(out.dims);  // the binary ops charged it first
  out.name = out_;
  AddConstant(std::move(out));
}

void Lowering::ChargeBudget(const ir::Shape& dims) {
  const int64_t count = CheckedCount(dims);
  if (count < 0 || count > budget_bytes_ / 8) {
    Fail(
        "folds to a constant of shape {}, over the memory budget ({} bytes "
        "left)",
        ir::ShapeToString(dims), budget_bytes_);
  }
  budget_bytes_ -= count * 8;
}

}  // namespace rowflow::onnx_internal
