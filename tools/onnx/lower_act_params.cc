// The ONNX activations whose parameters are not attributes alpha and beta:
// Clip (bounds as attributes min and max before opset 11, as optional
// scalar inputs from 11) and LayerNormalization (opset 17; scale and bias
// inputs), and the layer-norm pattern of earlier opsets
// (tools/onnx/norm_pattern.cc). Each is one rowflow activation, LAYER_NORM
// followed by a MULTIPLY by the scale and an ADD of the bias.
#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <utility>

#include "graph/activation.h"
#include "graph/error.h"
#include "tools/onnx/activations.h"
#include "tools/onnx/lower.h"

namespace rowflow::onnx_internal {

void Lowering::Clip() {
  const double inf = std::numeric_limits<double>::infinity();
  double bounds[2] = {-inf, inf};
  if (opset_ < 11) {
    KnownAttrs({"min", "max", "consumed_inputs"});
    Arity(1, 1);
    // Opsets 1-10 default to the float range: the same as no bound for a
    // float, and as good as none for a double model's values.
    bounds[0] = FloatAttr("min", -inf);
    bounds[1] = FloatAttr("max", inf);
  } else {
    KnownAttrs({});
    Arity(1, 3);
    for (int i = 1; i <= 2; ++i) {
      if (!HasInput(i)) continue;
      const HostTensor& t = FloatConst(i);
      if (t.values.size() != 1) {
        Fail("input {} ('{}') has shape {}; expected a scalar bound", i,
             node_->input(i), ir::ShapeToString(t.dims));
      }
      bounds[i - 1] = t.values[0];
    }
  }
  if (std::isnan(bounds[0]) || std::isnan(bounds[1])) {
    Fail("a bound is NaN; expected numbers (or no bound)");
  }
  if (bounds[0] > bounds[1]) {
    // ONNX's reference gives max everywhere then; rowflow refuses it.
    Fail("min {} is above max {}; expected min <= max",
         ir::NumberToString(bounds[0]), ir::NumberToString(bounds[1]));
  }
  Activate(Row(0), ir::Activation::kClip,
           ExactParam(ir::ActivationParam::kAlpha, bounds[0]),
           ExactParam(ir::ActivationParam::kBeta, bounds[1]));
}

void Lowering::CheckLastAxis(const RowValue& x, int64_t axis) const {
  const auto rank = static_cast<int64_t>(x.logical.size()) + 1;
  const int64_t a = NormalizeAxis(axis, rank, "axis");
  if (a != rank - 1 || x.shape.empty()) {
    Fail(
        "normalizes from axis {} on shape {} per row; rowflow's LAYER_NORM "
        "normalizes over the last axis of a per-row vector or matrix only",
        axis, ir::ShapeToString(x.logical));
  }
}

void Lowering::LayerNormalization() {
  KnownAttrs({"axis", "epsilon", "stash_type"});
  Arity(2, 3);
  const RowValue& x = Row(0);
  CheckLastAxis(x, IntAttr("axis", -1));
  // stash_type picks the precision of the mean and variance: rowflow
  // computes them in double (long double for F64) whatever it says.
  const double eps =
      ExactParam(ir::ActivationParam::kAlpha, FloatAttr("epsilon", 1e-5));
  const int64_t width = x.logical.back();
  const std::string normed = Fresh(out_ + "/normalized");
  ValueRef v = builder_.Activation(x.ref, ir::Activation::kLayerNorm, eps,
                                   std::nullopt, normed);
  for (int i = 1; i <= 2; ++i) {
    if (!HasInput(i)) continue;
    const HostTensor& t = FloatConst(i);
    if (t.values.size() != static_cast<size_t>(width) && t.values.size() != 1) {
      Fail("input {} ('{}') has shape {}; expected [{}] (the last axis)", i,
           node_->input(i), ir::ShapeToString(t.dims), width);
    }
    const ir::Shape shape =
        t.values.size() == 1 ? ir::Shape{} : ir::Shape{width};
    const ValueRef c = Materialize(t, "", shape, t.values);
    const bool last = i == 2 || !HasInput(2);
    const std::string name = last ? out_ : Fresh(out_ + "/scaled");
    v = i == 1 ? builder_.Multiply(v, c, name) : builder_.Add(v, c, name);
  }
  RowValue out = x;
  out.ref = v;
  out.name = out_;
  out.is_input = false;
  Define(out_, std::move(out));
}

}  // namespace rowflow::onnx_internal
