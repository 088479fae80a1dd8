// The ONNX ops that reshape a row value or leave it as it is: Squeeze,
// Reshape, Transpose, Cast and Dropout, over Relabel. A reshape changes
// only a row value's logical ONNX shape (see lower.h) where it can, drops
// unit dims of its rowflow shape with SUMs over length-1 axes (so graphs
// that imported before still import as they did), and otherwise becomes a
// RESHAPE ([2, 3] to [6], [k] to [k, 1]). The same ops on constants are
// folded on the host (lower_fold.cc).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <limits>
#include <optional>
#include <utility>

#include "graph/error.h"
#include "graph/text.h"
#include "tools/onnx/lower.h"

namespace rowflow::onnx_internal {

using onnx::AttributeProto;

void Lowering::Relabel(const RowValue& x, const ir::Shape& logical) {
  RF_CHECK(ir::NumElements(logical) == ir::NumElements(x.logical));
  RowValue out = x;
  out.logical = logical;
  if (IsOnesThen(logical, x.shape)) {
    Define(out_, std::move(out));
    return;
  }
  // Drop unit dims of x's rowflow shape until it is `logical` without its
  // leading 1s (greedily: the ranks are at most 2).
  size_t lead = 0;
  while (lead < logical.size() && logical[lead] == 1) ++lead;
  const ir::Shape want(logical.begin() + static_cast<int64_t>(lead),
                       logical.end());
  std::vector<int64_t> drop;
  size_t j = 0;
  for (size_t d = 0; d < x.shape.size(); ++d) {
    if (j < want.size() && x.shape[d] == want[j]) {
      ++j;
    } else if (x.shape[d] == 1) {
      drop.push_back(static_cast<int64_t>(d));
    } else {
      break;
    }
  }
  if (j + drop.size() != x.shape.size() || j != want.size()) {
    // Another layout ([2, 4] to [8], [k] to [k, 1]): one RESHAPE. `want` is
    // not empty here (a single element drops with SUMs above), and Define
    // refuses a rank rowflow does not hold.
    Define(out_,
           RowValue{builder_.Reshape(x.ref, want, out_), out_, logical, want});
    return;
  }
  // SUM over a length-1 axis is bitwise the identity; the last axis first,
  // counted from the end.
  ValueRef ref = x.ref;
  ir::Shape shape = x.shape;
  for (auto it = drop.rbegin(); it != drop.rend(); ++it) {
    const int64_t axis = *it - static_cast<int64_t>(shape.size());
    shape.erase(shape.begin() + *it);
    ref = builder_.Sum(ref, axis,
                       it + 1 == drop.rend() ? out_ : Fresh(out_ + "/squeeze"));
  }
  Define(out_, RowValue{ref, out_, logical, shape});
}

std::optional<std::vector<int64_t>> Lowering::AxesArg() const {
  if (opset_ < 13) {
    KnownAttrs({"axes"});
    Arity(1, 1);
    const AttributeProto* a = Attr("axes", AttributeProto::INTS);
    if (a == nullptr) return std::nullopt;
    return std::vector<int64_t>(a->ints().begin(), a->ints().end());
  }
  KnownAttrs({});
  Arity(1, 2);
  if (!HasInput(1)) return std::nullopt;
  return IntsInput(1);
}

ir::Shape Lowering::SqueezeDims(const ir::Shape& in,
                                const std::optional<std::vector<int64_t>>& axes,
                                bool batch) const {
  const auto rank = static_cast<int64_t>(in.size());
  std::vector<bool> squeezed(in.size(), false);
  if (!axes) {
    // Every unit dim. (For a single row, ONNX drops the batch dim too; the
    // row's values are the same.)
    for (size_t d = batch ? 1 : 0; d < in.size(); ++d) squeezed[d] = in[d] == 1;
  }
  for (int64_t a : axes.value_or(std::vector<int64_t>{})) {
    const int64_t axis = NormalizeAxis(a, rank, "axis");
    if (batch && axis == 0) {
      Fail("axis {} is the batch dimension; rowflow keeps the batch dim", a);
    }
    if (in[axis] != 1) {
      Fail("axis {} has size {} (shape {}{}); Squeeze removes unit dims only",
           a, in[axis], ir::ShapeToString(in), batch ? ", batch first" : "");
    }
    squeezed[axis] = true;
  }
  ir::Shape out;
  for (size_t d = 0; d < in.size(); ++d) {
    if (!squeezed[d]) out.push_back(in[d]);
  }
  return out;
}

std::vector<int64_t> Lowering::ReshapeArg() const {
  if (opset_ < 5) {
    KnownAttrs({"shape"});
    Arity(1, 1);
    const AttributeProto* a = Attr("shape", AttributeProto::INTS);
    if (a == nullptr) Fail("has no attribute 'shape'; expected one");
    return std::vector<int64_t>(a->ints().begin(), a->ints().end());
  }
  KnownAttrs({"allowzero"});
  Arity(2, 2);
  return IntsInput(1);
}

ir::Shape Lowering::ReshapeDims(const ir::Shape& in,
                                const std::vector<int64_t>& shape) const {
  // 0 copies the input's dim (unless allowzero), one -1 is inferred.
  const bool allowzero = IntAttr("allowzero", 0) != 0;
  const std::string given = fmt::format("[{}]", fmt::join(shape, ", "));
  ir::Shape out;
  int64_t known = 1;
  size_t infer_at = shape.size();
  for (size_t i = 0; i < shape.size(); ++i) {
    int64_t d = shape[i];
    if (d == 0 && !allowzero) {
      if (i >= in.size()) {
        Fail("shape {} copies dim {} (a 0), but the input has {} dims", given,
             i, in.size());
      }
      d = in[i];
    }
    if (d == -1) {
      if (infer_at < shape.size())
        Fail("shape {} has more than one -1; expected at most one", given);
      infer_at = i;
    } else if (d <= 0) {
      Fail("shape {} has entry {}; expected sizes of at least 1, 0 or -1",
           given, shape[i]);
    } else if (known > std::numeric_limits<int64_t>::max() / d) {
      Fail("shape {} overflows int64", given);
    } else {
      known *= d;
    }
    out.push_back(d);
  }
  const int64_t count = CheckedCount(in);
  if (infer_at < shape.size() && count % known == 0) {
    out[infer_at] = count / known;
    known = count;
  }
  if (known != count) {
    Fail("shape {} does not hold the {} elements of shape {}", given, count,
         ir::ShapeToString(in));
  }
  return out;
}

std::vector<int64_t> Lowering::PermArg(size_t rank) const {
  KnownAttrs({"perm"});
  Arity(1, 1);
  std::vector<int64_t> perm;
  if (const AttributeProto* a = Attr("perm", AttributeProto::INTS)) {
    perm.assign(a->ints().begin(), a->ints().end());
  } else {
    for (size_t d = rank; d-- > 0;) perm.push_back(static_cast<int64_t>(d));
  }
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  for (size_t d = 0; d < rank; ++d) {
    if (sorted.size() != rank || sorted[d] != static_cast<int64_t>(d)) {
      Fail("perm [{}] is no permutation of the {} dims", fmt::join(perm, ", "),
           rank);
    }
  }
  return perm;
}

void Lowering::Squeeze() {
  const std::optional<std::vector<int64_t>> axes = AxesArg();
  const RowValue& x = Row(0);
  ir::Shape in{1};
  in.insert(in.end(), x.logical.begin(), x.logical.end());
  ir::Shape out = SqueezeDims(in, axes, /*batch=*/true);
  out.erase(out.begin());
  Relabel(x, out);
}

void Lowering::Reshape() {
  const std::vector<int64_t> shape = ReshapeArg();
  const RowValue& x = Row(0);
  // With the batch dim as 1, the batch stays apart when the result's first
  // dim is 1 too and comes from a 0 or -1.
  ir::Shape in{1};
  in.insert(in.end(), x.logical.begin(), x.logical.end());
  const bool batch_first =
      !shape.empty() &&
      (shape[0] == -1 || (shape[0] == 0 && IntAttr("allowzero", 0) == 0));
  ir::Shape out;
  if (batch_first) out = ReshapeDims(in, shape);
  if (!batch_first || out[0] != 1) {
    Fail(
        "shape [{}] does not keep the batch dimension apart (shape {} per "
        "row); rowflow needs a 0 or -1 first, then the dims of a row",
        fmt::join(shape, ", "), ir::ShapeToString(x.logical));
  }
  out.erase(out.begin());
  Relabel(x, out);
}

void Lowering::Transpose() {
  const RowValue& x = Row(0);
  const std::vector<int64_t> perm = PermArg(x.logical.size() + 1);
  if (perm[0] != 0) {
    Fail(
        "perm [{}] moves the batch dimension; rowflow keeps it first "
        "(transposing row values is supported only where it moves unit dims)",
        fmt::join(perm, ", "));
  }
  // Moving only unit dims keeps the row-major order of the elements.
  ir::Shape logical;
  int64_t last = -1;
  for (size_t i = 1; i < perm.size(); ++i) {
    const int64_t from = perm[i] - 1;
    logical.push_back(x.logical[from]);
    if (x.logical[from] == 1) continue;
    if (from < last) {
      Fail(
          "perm [{}] reorders the elements of a row (shape {} per row); "
          "rowflow transposes row values only where it moves unit dims",
          fmt::join(perm, ", "), ir::ShapeToString(x.logical));
    }
    last = from;
  }
  Relabel(x, logical);
}

int32_t Lowering::CastTarget() const {
  if (opset_ < 6) {
    // The element type by name, before opset 6.
    const std::string to = StringAttr("to", "");
    onnx::TensorProto::DataType type;
    if (!onnx::TensorProto::DataType_Parse(to, &type)) {
      Fail("attribute 'to' is '{}'; expected an element type such as FLOAT",
           EscapeForMessage(to));
    }
    return type;
  }
  const AttributeProto* a = Attr("to", AttributeProto::INT);
  if (a == nullptr) Fail("has no attribute 'to'; expected one");
  return static_cast<int32_t>(a->i());
}

void Lowering::Cast() {
  KnownAttrs({"to", "saturate"});
  Arity(1, 1);
  const RowValue& x = Row(0);
  const int32_t to = CastTarget();
  if (to != ElemType(dtype_)) {
    Fail(
        "casts row values to {}; rowflow graphs hold one element type ({} "
        "here)",
        ElemTypeName(to), ElemTypeName(ElemType(dtype_)));
  }
  values_[out_] = Entry{nullptr, x};
}

void Lowering::Dropout() {
  if (opset_ < 7) {
    KnownAttrs({"is_test", "ratio"});
    if (IntAttr("is_test", 0) == 0) {
      Fail(
          "is_test=0 (the default before opset 7) drops at random, as in "
          "training; rowflow imports is_test=1 (inference: the identity)");
    }
  } else if (opset_ < 12) {
    KnownAttrs({"ratio"});
  } else {
    KnownAttrs({"seed"});
  }
  Arity(1, opset_ < 12 ? 1 : 3);
  if (HasInput(2)) {
    const HostTensor& t = Const(2);
    if (!t.is_int || t.ints.size() != 1) {
      Fail("input 2 (training_mode) has shape {}; expected a BOOL scalar",
           ir::ShapeToString(t.dims));
    }
    if (t.ints[0] != 0) {
      Fail(
          "training_mode is true, so it drops at random; rowflow imports "
          "inference (training_mode false: the identity)");
    }
  }
  // Inference: the identity; the mask is not computed.
  values_[out_] = In(0);
  if (node_->output_size() > 1 && !node_->output(1).empty())
    uncomputed_[node_->output(1)] = "Dropout's mask";
}

}  // namespace rowflow::onnx_internal
