// The ONNX ops that compute: Add, Mul, MatMul, Gemm and the activations
// (tools/onnx/activations.h).
// MatMul and Gemm become the layer form (MULTIPLY by the (k, n) weights,
// SUM over the last axis, ADD of the bias), which the planner runs as a GEMM;
// Gemm's alpha and beta are folded into the constants.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <utility>

#include "graph/activation.h"
#include "graph/error.h"
#include "graph/op_schema.h"
#include "graph/text.h"
#include "graph/weights_file.h"
#include "tools/onnx/activations.h"
#include "tools/onnx/lower.h"

namespace rowflow::onnx_internal {

// Add and Mul map to ADD and MULTIPLY. Sub adds the negation, which is
// exact: x - c is ADD(x, -c), c - x is ADD(MULTIPLY(x, -1), c), x - y is
// ADD(x, MULTIPLY(y, -1)), each bitwise x - y. Div by a constant c
// multiplies by 1 / c (computed in double, rounded to the dtype): within
// 2 ulp of the division, exact for powers of two, and what lets the
// planner fold input standardisation (x - mu) / sd into the next layer;
// rowflow has no division of row values.
void Lowering::Elementwise(BinaryOp op) {
  if (opset_ < 7) {
    KnownAttrs({"broadcast", "axis"});
  } else {
    KnownAttrs({});
  }
  Arity(2, 2);
  RF_CHECK(!IsConst(0) || !IsConst(1));  // Lower folds those
  if (op == BinaryOp::kDiv && !IsConst(1)) {
    Fail(
        "divides by '{}', a value computed from the rows; rowflow divides by "
        "constants only (as a multiplication by 1 / c)",
        node_->input(1));
  }
  if (opset_ < 7 && IsConst(0)) {
    Fail(
        "input 0 is a constant and input 1 a value computed from the rows; "
        "before opset 7 only input 1 broadcasts, to input 0's shape");
  }
  const size_t rank = Row(IsConst(0) ? 1 : 0).logical.size();
  ValueRef refs[2];
  ir::Shape logical[2], shapes[2];
  // Row values first: c - x negates x before it reads c, in the order the
  // exporter writes the nodes back, so that graphs round-trip.
  for (int i : {IsConst(0) ? 1 : 0, IsConst(0) ? 0 : 1}) {
    if (!IsConst(i)) {
      const RowValue& v = Row(i);
      if (v.logical.size() != rank) {
        Fail(
            "inputs have {} and {} dims besides the batch; ONNX would line the "
            "batch dimension up with a row dimension, which rowflow cannot "
            "express",
            Row(0).logical.size(), Row(1).logical.size());
      }
      if (opset_ < 7 && i == 1 && IntAttr("axis", 0) != 0) {
        Fail(
            "axis {} lines input 1, a value computed from the rows, up with a "
            "dim of input 0 other than the batch; rowflow cannot express it",
            IntAttr("axis", 0));
      }
      // c - x and x - y add -x (-y).
      refs[i] =
          i == 1 && op == BinaryOp::kSub ? Negate(v, InnerName("/neg")) : v.ref;
      logical[i] = v.logical;
      shapes[i] = v.shape;
      continue;
    }
    const HostTensor& t = FloatConst(i);
    ir::Shape dims = LegacyBroadcast(t.dims, rank + 1);
    if (dims.size() == rank + 1) {
      if (dims[0] != 1) {
        Fail(
            "constant '{}' has shape {}, whose first dim lines up with the "
            "batch dimension; expected 1 there (or fewer dims)",
            t.name, ir::ShapeToString(dims));
      }
      dims.erase(dims.begin());
    } else if (dims.size() > rank + 1) {
      Fail(
          "constant '{}' has shape {}, more dims than the other input has with "
          "its batch ({}); rowflow broadcasts constants within a row",
          t.name, ir::ShapeToString(t.dims), rank + 1);
    }
    // Unit dims stay: [1] on a per-row scalar makes a 1-vector in rowflow
    // as in ONNX (after the exporter's Unsqueeze), so graphs round-trip.
    logical[i] = dims;
    shapes[i] = dims;
    std::vector<double> data = t.values;
    std::string variant;
    if (op == BinaryOp::kSub && i == 1) {
      for (double& v : data) v = -v;
      variant = "neg";
    } else if (op == BinaryOp::kDiv) {
      for (double& v : data) v = 1.0 / v;
      variant = "recip";
    }
    refs[i] = Materialize(t, variant, shapes[i], std::move(data));
  }
  RowValue out;
  out.logical = ir::BroadcastShapes(logical[0], logical[1]);
  out.shape = ir::BroadcastShapes(shapes[0], shapes[1]);
  out.name = out_;
  out.ref = op == BinaryOp::kMul || op == BinaryOp::kDiv
                ? builder_.Multiply(refs[0], refs[1], out_)
                : builder_.Add(refs[0], refs[1], out_);
  Define(out_, std::move(out));
}

// x (rows, n) times b: MULTIPLY by the weights as (k, n) rows (the layer
// form the planner turns into a GEMM), then SUM over the last axis.
ValueRef Lowering::Contract(const RowValue& x, const HostTensor& b,
                            bool b_is_kn, double alpha,
                            const std::string& sum_name, int64_t* units) {
  if (x.logical.empty() || x.shape.size() > 1) {
    Fail(
        "input 0 ('{}') has shape {} per row; rowflow multiplies per-row "
        "vectors only (expected [batch, n])",
        node_->input(0), ir::ShapeToString(x.logical));
  }
  const int64_t n = x.logical.back();
  ir::Shape wshape;
  std::vector<double> w;
  if (b.dims.size() == 1 && b_is_kn) {  // MatMul by a vector: one unit
    if (b.dims[0] != n) {
      Fail("input 1 ('{}') has shape {}; expected [{}] to match input 0",
           node_->input(1), ir::ShapeToString(b.dims), n);
    }
    wshape = {n};
    w = b.values;
    *units = 0;
  } else if (b.dims.size() == 2) {
    const int64_t k = b_is_kn ? b.dims[1] : b.dims[0];
    const int64_t inner = b_is_kn ? b.dims[0] : b.dims[1];
    if (inner != n) {
      Fail(
          "input 1 ('{}') has shape {}; expected its {} dim to be {} to match "
          "input 0",
          node_->input(1), ir::ShapeToString(b.dims),
          b_is_kn ? "first" : "second", n);
    }
    wshape = {k, n};
    w.resize(b.values.size());
    for (int64_t i = 0; i < k; ++i) {
      for (int64_t j = 0; j < n; ++j)
        w[i * n + j] = b.values[b_is_kn ? j * k + i : i * n + j];
    }
    *units = k;
  } else {
    Fail("input 1 ('{}') has shape {}; expected a matrix{}", node_->input(1),
         ir::ShapeToString(b.dims), b_is_kn ? " [n, k] or a vector [n]" : "");
  }
  if (alpha != 1.0) {
    for (double& v : w) v *= alpha;
  }
  std::string variant = b_is_kn && wshape.size() == 2 ? "T" : "";
  if (alpha != 1.0) variant += fmt::format("*{}", alpha);
  ValueRef weights = Materialize(b, variant, wshape, std::move(w));
  return builder_.Sum(builder_.Multiply(x.ref, weights, InnerName("/mul")), -1,
                      sum_name);
}

void Lowering::MatMul() {
  KnownAttrs({});
  Arity(2, 2);
  const RowValue& x = Row(0);
  int64_t units = 0;
  RowValue out;
  out.ref = Contract(x, FloatConst(1), /*b_is_kn=*/true, 1.0, out_, &units);
  out.name = out_;
  out.logical.assign(x.logical.begin(), x.logical.end() - 1);
  if (units > 0) {
    out.logical.push_back(units);
    out.shape = {units};
  }
  Define(out_, std::move(out));
}

void Lowering::Gemm() {
  if (opset_ < 7) {
    KnownAttrs({"alpha", "beta", "transA", "transB", "broadcast"});
  } else {
    KnownAttrs({"alpha", "beta", "transA", "transB"});
  }
  Arity(2, 3);
  if (IntAttr("transA", 0) != 0) {
    Fail(
        "transA=1 would transpose the batch dimension; rowflow imports Gemm "
        "with transA=0");
  }
  const RowValue& x = Row(0);
  if (x.logical.size() != 1) {
    Fail("input 0 ('{}') has shape {} per row; Gemm expects [batch, n]",
         node_->input(0), ir::ShapeToString(x.logical));
  }
  const bool trans_b = IntAttr("transB", 0) != 0;
  const double alpha = FloatAttr("alpha", 1.0);
  const double beta = FloatAttr("beta", 1.0);
  const HostTensor& b = FloatConst(1);
  if (b.dims.size() != 2) {
    Fail("input 1 ('{}') has shape {}; Gemm expects a matrix", node_->input(1),
         ir::ShapeToString(b.dims));
  }
  const bool has_bias = HasInput(2) && beta != 0.0;
  if (has_bias && opset_ < 7 && IntAttr("broadcast", 0) == 0) {
    Fail(
        "broadcast=0 (the default before opset 7) needs C of the full output "
        "shape [batch, k], which a constant cannot have; rowflow imports "
        "broadcast=1 there");
  }
  int64_t k = 0;
  ValueRef y = Contract(x, b, !trans_b, alpha,
                        has_bias ? Fresh(out_ + "/sum") : out_, &k);
  if (has_bias) {
    const HostTensor& c = FloatConst(2);
    ir::Shape dims = c.dims;
    // C broadcasts to (batch, k): [k], [1, k], [1] or a scalar.
    if (dims.size() == 2 && dims[0] == 1) dims.erase(dims.begin());
    const int64_t count = dims.empty() ? 1 : dims[0];
    if (dims.size() > 1 || (count != 1 && count != k)) {
      Fail(
          "input 2 ('{}') has shape {}; expected a bias of shape [{}], [1, "
          "{}], [1] or [] (not one spanning the batch dimension)",
          node_->input(2), ir::ShapeToString(c.dims), k, k);
    }
    std::vector<double> bias(static_cast<size_t>(k));
    for (int64_t i = 0; i < k; ++i)
      bias[i] = beta * c.values[count == 1 ? 0 : i];
    const std::string variant =
        beta == 1.0 && count == k ? "" : fmt::format("{}*{}", k, beta);
    y = builder_.Add(y, Materialize(c, variant, {k}, std::move(bias)), out_);
  }
  Define(out_, RowValue{y, out_, {k}, {k}});
}

// An ONNX activation op: its row in tools/onnx/activations.h says which
// rowflow activation; the parameters are float attributes named as in
// rowflow, with rowflow's defaults (ONNX's).
void Lowering::Activation() {
  const std::string_view op = node_->op_type();
  std::vector<const OnnxActivation*> rows;
  for (const OnnxActivation& row : OnnxActivations()) {
    if (row.op == op) rows.push_back(&row);
  }
  RF_CHECK(!rows.empty());
  const ir::ActivationInfo& first = ir::GetActivation(rows[0]->act);
  std::vector<std::string_view> known;
  for (ir::ActivationParam param : ir::kActivationParams) {
    if (first.Default(param)) known.push_back(ir::ParamName(param));
  }
  if (first.shape == ir::ActivationShape::kLastAxis) known.push_back("axis");
  if (!rows[0]->approximate.empty()) known.push_back("approximate");
  KnownAttrs(known);
  Arity(1, 1);
  const OnnxActivation* row = rows[0];
  if (!row->approximate.empty()) {
    const std::string approximate = StringAttr("approximate", "none");
    row = nullptr;
    std::vector<std::string_view> values;
    for (const OnnxActivation* r : rows) {
      if (r->approximate == approximate) row = r;
      values.push_back(r->approximate);
    }
    if (row == nullptr) {
      Fail("approximate='{}' is not supported; rowflow reads '{}'",
           EscapeForMessage(approximate), fmt::join(values, "' or '"));
    }
  }
  if (opset_ < row->since_opset) {
    Fail("{} is an operator of opset {} and later; the model declares {}", op,
         row->since_opset, opset_);
  }
  const ir::ActivationInfo& info = ir::GetActivation(row->act);
  std::optional<double> params[2];
  for (ir::ActivationParam param : ir::kActivationParams) {
    const std::optional<double> fallback = info.Default(param);
    if (!fallback) continue;
    // ONNX's parameters are floats; an exact one saved by rowflow's
    // exporter wins.
    const std::string_view name = ir::ParamName(param);
    params[static_cast<int>(param)] =
        ExactParam(param, FloatAttr(name, static_cast<float>(*fallback)));
  }
  const RowValue& x = Row(0);
  if (info.shape == ir::ActivationShape::kLastAxis) {
    const auto rank = static_cast<int64_t>(x.logical.size()) + 1;
    const int64_t given = IntAttr("axis", opset_ >= 13 ? -1 : 1);
    const int64_t axis = NormalizeAxis(given, rank, "axis");
    // Before opset 13 Softmax and LogSoftmax normalize over all dims from
    // `axis` on: the same as the last axis when the dims in between are 1.
    bool last = axis == rank - 1;
    if (opset_ < 13 && axis >= 1) {
      last = true;
      for (int64_t d = axis - 1; d < rank - 2; ++d)
        last = last && x.logical[d] == 1;
    }
    if (axis == 0 || !last || x.shape.empty()) {
      Fail(
          "axis {} on shape {} per row; rowflow's {} normalizes over the "
          "last axis of a per-row vector or matrix only",
          given, ir::ShapeToString(x.logical), info.name);
    }
  }
  Activate(x, info.act, params[0], params[1]);
}

double Lowering::ExactParam(ir::ActivationParam param, double v) const {
  auto it =
      exact_params_.find(fmt::format("{}/{}", ir::ParamName(param), out_));
  if (it != exact_params_.end() &&
      static_cast<float>(it->second) == static_cast<float>(v)) {
    return it->second;
  }
  return v;
}

void Lowering::Activate(const RowValue& x, ir::Activation act,
                        std::optional<double> alpha,
                        std::optional<double> beta) {
  RowValue out = x;
  out.ref = builder_.Activation(x.ref, act, alpha, beta, out_);
  out.name = out_;
  out.is_input = false;
  Define(out_, std::move(out));
}

}  // namespace rowflow::onnx_internal
