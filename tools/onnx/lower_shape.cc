// The ONNX ops that reduce or join row values, or add unit dims:
// ReduceSum, Concat, Unsqueeze, and Flatten (over Relabel, in
// lower_reshape.cc). Most reshapes only change a row value's logical ONNX
// shape (see lower.h); one that needs a unit dim inside the rowflow shape
// ([k] to [k, 1]) or another layout is a RESHAPE.
#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "graph/error.h"
#include "tools/onnx/lower.h"

namespace rowflow::onnx_internal {

using onnx::AttributeProto;

void Lowering::ReduceSum() {
  std::vector<int64_t> axes;
  if (opset_ < 13) {
    KnownAttrs({"axes", "keepdims"});
    Arity(1, 1);
    if (const AttributeProto* a = Attr("axes", AttributeProto::INTS)) {
      axes.assign(a->ints().begin(), a->ints().end());
    }
  } else {
    KnownAttrs({"keepdims", "noop_with_empty_axes"});
    Arity(1, 2);
    if (HasInput(1)) axes = IntsInput(1);
  }
  const bool keepdims = IntAttr("keepdims", 1) != 0;
  if (axes.empty()) {
    if (opset_ >= 13 && IntAttr("noop_with_empty_axes", 0) != 0) {
      values_[out_] = In(0);
      return;
    }
    Fail(
        "has no axes, so it sums every axis, the batch dimension included; "
        "rowflow sums within a row (expected axes >= 1)");
  }
  const RowValue& x = Row(0);
  const auto rank = static_cast<int64_t>(x.logical.size()) + 1;
  std::vector<int64_t> logical_axes;
  for (int64_t a : axes) {
    const int64_t axis = NormalizeAxis(a, rank, "axis");
    if (axis == 0) {
      Fail("axis {} is the batch dimension; rowflow sums within a row", a);
    }
    if (std::count(logical_axes.begin(), logical_axes.end(), axis - 1) > 0) {
      Fail("axis {} is listed twice", a);
    }
    logical_axes.push_back(axis - 1);
  }
  std::sort(logical_axes.rbegin(), logical_axes.rend());
  // Plan the SUMs (rowflow axes, counted from the end) on the shapes first,
  // so that the last one can take the output's name.
  ir::Shape logical = x.logical, shape = x.shape;
  std::vector<int64_t> sums;
  for (int64_t la : logical_axes) {
    const int64_t dropped = static_cast<int64_t>(logical.size() - shape.size());
    if (la >= dropped) {
      const int64_t ra = la - dropped;
      sums.push_back(ra - static_cast<int64_t>(shape.size()));
      shape.erase(shape.begin() + ra);
    }
    if (keepdims) {
      logical[la] = 1;
    } else {
      logical.erase(logical.begin() + la);
    }
    if (!IsOnesThen(logical, shape)) {
      Fail(
          "keepdims=1 would leave a unit dim inside the per-row shape ({} to "
          "{}); rowflow cannot express it (use keepdims=0)",
          ir::ShapeToString(x.logical), ir::ShapeToString(logical));
    }
  }
  ValueRef ref = x.ref;
  for (size_t i = 0; i < sums.size(); ++i) {
    ref = builder_.Sum(ref, sums[i],
                       i + 1 == sums.size() ? out_ : Fresh(out_ + "/sum"));
  }
  // No SUM at all when every axis was a unit dim rowflow drops.
  Define(out_, RowValue{ref, sums.empty() ? x.name : out_, logical, shape,
                        sums.empty() && x.is_input});
}

void Lowering::Flatten() {
  KnownAttrs({"axis"});
  Arity(1, 1);
  const RowValue& x = Row(0);
  const auto rank = static_cast<int64_t>(x.logical.size()) + 1;
  const int64_t given = IntAttr("axis", 1);
  // Flatten's axis may also be the rank itself.
  const int64_t axis =
      given == rank ? rank : NormalizeAxis(given, rank, "axis");
  int64_t outer = 1;
  for (int64_t d = 0; d + 1 < axis; ++d) outer *= x.logical[d];
  if (axis == 0 || outer != 1) {
    Fail(
        "axis {} folds the batch dimension into another one (shape {} per "
        "row); rowflow keeps the batch dimension apart",
        given, ir::ShapeToString(x.logical));
  }
  ir::Shape inner(x.logical.begin() + (axis - 1), x.logical.end());
  Relabel(x, {ir::NumElements(inner)});
}

void Lowering::Concat() {
  KnownAttrs({"axis"});
  Arity(1, -1);
  const AttributeProto* axis_attr = Attr("axis", AttributeProto::INT);
  // Before opset 4 the axis is optional, 1 by default.
  AttributeProto default_axis;
  default_axis.set_i(1);
  if (axis_attr == nullptr && opset_ < 4) axis_attr = &default_axis;
  if (axis_attr == nullptr) Fail("has no attribute 'axis'; expected one");
  std::vector<const RowValue*> parts;
  for (int i = 0; i < node_->input_size(); ++i) parts.push_back(&Row(i));
  const size_t rank = parts[0]->logical.size();
  size_t max_rank = 0;
  for (const RowValue* p : parts) {
    if (p->logical.size() != rank) {
      Fail("inputs have {} and {} dims per row; Concat expects equal ranks",
           rank, p->logical.size());
    }
    max_rank = std::max(max_rank, p->shape.size());
  }
  const int64_t axis =
      NormalizeAxis(axis_attr->i(), static_cast<int64_t>(rank) + 1, "axis");
  if (axis == 0) {
    Fail("axis {} is the batch dimension; rowflow concatenates within a row",
         axis_attr->i());
  }
  const auto la = static_cast<size_t>(axis - 1);
  ir::Shape logical = parts[0]->logical;
  logical[la] = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const ir::Shape& in = parts[i]->logical;
    for (size_t d = 0; d < rank; ++d) {
      if (d != la && in[d] != logical[d]) {
        Fail("input {} has shape {} per row; expected {} off axis {}", i,
             ir::ShapeToString(in), ir::ShapeToString(parts[0]->logical),
             axis_attr->i());
      }
    }
    if (in[la] > std::numeric_limits<int64_t>::max() - logical[la]) {
      Fail("the concatenated axis overflows int64 at input {}", i);
    }
    logical[la] += in[la];
  }
  std::vector<ValueRef> refs;
  ir::Shape shape;
  int64_t rf_axis = -1;
  if (max_rank == 0) {
    // Per-row scalars ([batch, 1] in ONNX) stack into a vector.
    if (la != rank - 1) {
      Fail(
          "joins per-row scalars into shape {}; rowflow stacks them into a "
          "vector only (along the last axis)",
          ir::ShapeToString(logical));
    }
    for (const RowValue* p : parts) refs.push_back(p->ref);
    shape = {static_cast<int64_t>(parts.size())};
  } else {
    const size_t dropped = rank - max_rank;
    if (la < dropped) {
      Fail(
          "joins along axis {}, a unit dim of shape {} per row; rowflow cannot "
          "stack vectors into a matrix",
          axis_attr->i(), ir::ShapeToString(parts[0]->logical));
    }
    for (size_t i = 0; i < parts.size(); ++i) {
      ValueRef ref = parts[i]->ref;
      if (parts[i]->shape.size() < max_rank) {
        // A per-row scalar joining vectors becomes a 1-vector first.
        if (max_rank != 1) {
          Fail(
              "input {} has shape {} per row, the others {} dims; rowflow "
              "cannot join them",
              i, ir::ShapeToString(parts[i]->logical), max_rank);
        }
        ref = builder_.Concat({ref}, -1, Fresh(parts[i]->name + "/vec"));
      }
      refs.push_back(ref);
    }
    rf_axis =
        static_cast<int64_t>(la - dropped) - static_cast<int64_t>(max_rank);
    shape.assign(logical.begin() + static_cast<int64_t>(dropped),
                 logical.end());
  }
  Define(out_,
         RowValue{builder_.Concat(refs, rf_axis, out_), out_, logical, shape});
}

ir::Shape Lowering::UnsqueezeDims(const ir::Shape& in,
                                  const std::vector<int64_t>& axes,
                                  bool batch) const {
  if (axes.empty()) Fail("has no axes; expected at least one");
  const int64_t out_rank = static_cast<int64_t>(in.size() + axes.size());
  std::vector<bool> inserted(static_cast<size_t>(out_rank), false);
  for (int64_t a : axes) {
    const auto axis = static_cast<size_t>(NormalizeAxis(a, out_rank, "axis"));
    if (inserted[axis]) Fail("axis {} is listed twice", a);
    inserted[axis] = true;
  }
  if (batch && inserted[0]) {
    Fail(
        "axis 0 would put a unit dim before the batch dimension; rowflow keeps "
        "the batch first");
  }
  ir::Shape out;
  for (size_t d = 0, next = 0; d < inserted.size(); ++d)
    out.push_back(inserted[d] ? 1 : in[next++]);
  return out;
}

void Lowering::Unsqueeze() {
  const std::optional<std::vector<int64_t>> axes = AxesArg();
  if (!axes) Fail("has no axes; expected them");
  const RowValue& x = Row(0);
  ir::Shape in{1};
  in.insert(in.end(), x.logical.begin(), x.logical.end());
  RowValue out = x;
  out.logical = UnsqueezeDims(in, *axes, /*batch=*/true);
  out.logical.erase(out.logical.begin());
  if (!IsOnesThen(out.logical, out.shape)) {
    // A unit dim inside the per-row shape ([k] to [k, 1]): a RESHAPE.
    Relabel(x, out.logical);
    return;
  }
  Define(out_, std::move(out));
}

}  // namespace rowflow::onnx_internal
