// The ONNX layers that rowflow computes from its operators and activations:
// BatchNormalization (inference) as MULTIPLY then ADD of per-channel
// constants, PRelu, Selu and HardSwish. The constants are computed in
// double on the host and rounded to the dtype once.
#include <fmt/format.h>

#include <cmath>
#include <utility>

#include "graph/activation.h"
#include "graph/error.h"
#include "graph/op_schema.h"
#include "graph/text.h"
#include "tools/onnx/lower.h"

namespace rowflow::onnx_internal {
namespace {

// ONNX's Selu defaults, the floats nearest the constants of the SELU paper.
constexpr double kSeluAlpha = 1.67326319217681884765625;
constexpr double kSeluGamma = 1.05070102214813232421875;

// `dims` without the leading unit dims that would make it longer than a
// row value's rowflow shape of `rank` dims (they broadcast the same way).
ir::Shape TrimTo(ir::Shape dims, size_t rank) {
  while (dims.size() > rank && dims[0] == 1) dims.erase(dims.begin());
  return dims;
}

}  // namespace

// y = x * s + t with s = scale / sqrt(var + epsilon), t = B - mean * s:
// ONNX's (x - mean) / sqrt(var + epsilon) * scale + B, rearranged so that
// the planner can fold it into a neighbouring dense layer.
void Lowering::BatchNormalization() {
  if (opset_ < 7) {
    KnownAttrs({"epsilon", "momentum", "is_test", "spatial"});
  } else if (opset_ < 9) {
    KnownAttrs({"epsilon", "momentum", "spatial"});
  } else if (opset_ < 14) {
    KnownAttrs({"epsilon", "momentum"});
  } else {
    KnownAttrs({"epsilon", "momentum", "training_mode"});
  }
  Arity(5, 5);
  if (opset_ < 7 && IntAttr("is_test", 0) == 0) {
    Fail(
        "is_test=0 (the default before opset 7) normalizes with the batch's "
        "own statistics, as in training; rowflow imports is_test=1 "
        "(inference)");
  }
  if (IntAttr("training_mode", 0) != 0) {
    Fail(
        "training_mode=1 normalizes with the batch's own statistics; rowflow "
        "imports the inference form (training_mode=0)");
  }
  // spatial=0 (before opset 9): statistics per element of a row, not per
  // channel.
  const bool spatial = opset_ >= 9 || IntAttr("spatial", 1) != 0;
  const RowValue& x = Row(0);
  if (x.logical.empty()) {
    Fail(
        "input 0 has shape [batch]; BatchNormalization expects [batch, C] or "
        "[batch, C, L]");
  }
  const int64_t channels = x.logical[0];
  const ir::Shape per_channel{channels};
  const ir::Shape& want = spatial ? per_channel : x.logical;
  const char* kNames[] = {"scale", "B", "mean", "var"};
  const HostTensor* p[4];
  for (int i = 0; i < 4; ++i) {
    p[i] = &FloatConst(i + 1);
    if (p[i]->dims != want) {
      Fail("input {} ({}, '{}') has shape {}; expected {}", i + 1, kNames[i],
           node_->input(i + 1), ir::ShapeToString(p[i]->dims),
           ir::ShapeToString(want));
    }
  }
  const double epsilon = FloatAttr("epsilon", 1e-5);
  const size_t n = p[0]->values.size();
  std::vector<double> s(n), t(n);
  for (size_t k = 0; k < n; ++k) {
    s[k] = p[0]->values[k] / std::sqrt(p[3]->values[k] + epsilon);
    t[k] = p[1]->values[k] - p[2]->values[k] * s[k];
  }
  // Per channel: [C] on [C], [C, 1] on [C, L].
  ir::Shape shape = want;
  if (spatial) shape.resize(x.logical.size(), 1);
  shape = TrimTo(shape, x.shape.size());
  ValueRef scaled = builder_.Multiply(
      x.ref, Derived(out_ + "/scale", shape, std::move(s)), InnerName("/mul"));
  ValueRef y =
      builder_.Add(scaled, Derived(out_ + "/shift", shape, std::move(t)), out_);
  Define(out_,
         RowValue{y, out_, x.logical, ir::BroadcastShapes(x.shape, shape)});
}

// A scalar slope is LEAKY_RELU's alpha. Per channel, PRelu(x) = relu(x) +
// relu(-x) * -slope: exact, as for x > 0 it adds a zero to x and for x < 0
// the product is slope * x (negations are exact) added to zero.
void Lowering::PRelu() {
  KnownAttrs({});
  Arity(2, 2);
  const RowValue& x = Row(0);
  const HostTensor& slope = FloatConst(1);
  const size_t rank = x.logical.size();
  ir::Shape dims = slope.dims;
  if (dims.size() == rank + 1 && dims[0] == 1) dims.erase(dims.begin());
  const bool scalar = CheckedCount(slope.dims) == 1;
  // Before opset 7 a slope of C values applies per channel, which numpy's
  // alignment matches only on [batch, C].
  const bool legacy_ambiguous = opset_ < 7 && !scalar && rank > 1;
  if (dims.size() > rank || legacy_ambiguous ||
      ir::BroadcastShapes(x.logical, dims) != x.logical) {
    Fail(
        "slope '{}' has shape {}; expected one that broadcasts to the input's "
        "{} per row{}",
        slope.name, ir::ShapeToString(slope.dims), ir::ShapeToString(x.logical),
        legacy_ambiguous ? " (before opset 7: a single value, or [C] on "
                           "[batch, C])"
                         : "");
  }
  if (scalar) {
    Activate(x, ir::Activation::kLeakyRelu, slope.values[0], std::nullopt);
    return;
  }
  dims = TrimTo(dims, x.shape.size());
  std::vector<double> neg_slope = slope.values;
  for (double& v : neg_slope) v = -v;
  ValueRef pos = builder_.Activation(x.ref, ir::Activation::kRelu, std::nullopt,
                                     InnerName("/relu"));
  ValueRef neg = builder_.Activation(Negate(x, Fresh(out_ + "/neg")),
                                     ir::Activation::kRelu, std::nullopt,
                                     Fresh(out_ + "/neg_relu"));
  ValueRef part =
      builder_.Multiply(neg, Materialize(slope, "neg", dims, neg_slope),
                        Fresh(out_ + "/neg_part"));
  Define(out_, RowValue{builder_.Add(pos, part, out_), out_, x.logical,
                        ir::BroadcastShapes(x.shape, dims)});
}

// gamma * ELU(x; alpha).
void Lowering::Selu() {
  KnownAttrs({"alpha", "gamma"});
  Arity(1, 1);
  const RowValue& x = Row(0);
  const double alpha = FloatAttr("alpha", kSeluAlpha);
  const double gamma = FloatAttr("gamma", kSeluGamma);
  ValueRef elu = builder_.Activation(x.ref, ir::Activation::kElu, alpha,
                                     InnerName("/elu"));
  RowValue out = x;
  out.ref = builder_.Multiply(elu, Derived(out_ + "/gamma", {}, {gamma}), out_);
  out.name = out_;
  out.is_input = false;
  Define(out_, std::move(out));
}

// x * HARD_SIGMOID(x; alpha = 1/6, beta = 1/2).
void Lowering::HardSwish() {
  KnownAttrs({});
  Arity(1, 1);
  if (opset_ < 14) {
    Fail(
        "HardSwish is an operator of opset 14 and later; the model declares {}",
        opset_);
  }
  const RowValue& x = Row(0);
  ValueRef gate = builder_.Activation(x.ref, ir::Activation::kHardSigmoid,
                                      1.0 / 6, 0.5, InnerName("/hard_sigmoid"));
  RowValue out = x;
  out.ref = builder_.Multiply(x.ref, gate, out_);
  out.name = out_;
  out.is_input = false;
  Define(out_, std::move(out));
}

}  // namespace rowflow::onnx_internal
