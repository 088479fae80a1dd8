// The activations as data: one row per activation in kActivations, in
// ir::Activation order. Names, the range check, the lists in messages,
// layer-spec parsing, model load/save and the C++ API read the row;
// graph/proto_convert.cc ties the table to the file's enum with a
// static_assert. Kernels have their own table in ops/.
//
// Adding an activation: its value at the end of proto/rowflow.proto's
// Activation and of ir::Activation (the same number), a row at the end of
// kActivations, a row in ops/' activation table, and a row in
// tools/onnx/activations.cc for ONNX.
//
// Thread-safety: immutable tables; read them from any thread.
#ifndef ROWFLOW_GRAPH_ACTIVATION_H_
#define ROWFLOW_GRAPH_ACTIVATION_H_

#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "graph/ir.h"

namespace rowflow::ir {

// How an activation maps one row.
enum class ActivationShape : uint8_t {
  kElementwise,  // each element on its own
  kLastAxis,     // each vector along the last axis; needs rank >= 1
};

// The parameters an activation may take: Node::alpha and Node::beta.
enum class ActivationParam : uint8_t { kAlpha, kBeta };
inline constexpr ActivationParam kActivationParams[] = {ActivationParam::kAlpha,
                                                        ActivationParam::kBeta};

// What values a parameter may take (every parameter is refused as NaN).
enum class ParamRule : uint8_t {
  kFinite,         // finite
  kOrderedBounds,  // +-inf allowed; alpha <= beta (CLIP's min and max)
  kNonNegative,    // finite and >= 0 (LAYER_NORM's epsilon)
};

// The static description of one activation.
struct ActivationInfo {
  Activation act;
  std::string_view name;  // as in the model file and the layer spec
  int proto_value;        // its number in rowflow.proto's Activation
  // The default of each parameter it takes; unset: it takes none.
  std::optional<double> alpha;
  std::optional<double> beta;
  ActivationShape shape;
  std::string_view meaning;  // one line, for messages and docs
  ParamRule rule = ParamRule::kFinite;

  // `param`'s default, unset when the activation does not take it.
  constexpr std::optional<double> Default(ActivationParam param) const {
    return param == ActivationParam::kAlpha ? alpha : beta;
  }
};

inline constexpr std::optional<double> kTakesNone;

inline constexpr ActivationInfo kActivations[] = {
    {Activation::kIdentity, "IDENTITY", 0, kTakesNone, kTakesNone,
     ActivationShape::kElementwise, "x"},
    {Activation::kRelu, "RELU", 1, kTakesNone, kTakesNone,
     ActivationShape::kElementwise, "max(x, 0)"},
    {Activation::kTanh, "TANH", 2, kTakesNone, kTakesNone,
     ActivationShape::kElementwise, "tanh(x)"},
    {Activation::kSigmoid, "SIGMOID", 3, kTakesNone, kTakesNone,
     ActivationShape::kElementwise, "1 / (1 + exp(-x))"},
    {Activation::kLeakyRelu, "LEAKY_RELU", 4, 0.01, kTakesNone,
     ActivationShape::kElementwise, "x >= 0 ? x : alpha * x"},
    {Activation::kSoftplus, "SOFTPLUS", 5, kTakesNone, kTakesNone,
     ActivationShape::kElementwise, "log(1 + exp(x))"},
    {Activation::kSoftmax, "SOFTMAX", 6, kTakesNone, kTakesNone,
     ActivationShape::kLastAxis, "exp(x) / sum(exp(x)) along the last axis"},
    {Activation::kElu, "ELU", 7, 1.0, kTakesNone, ActivationShape::kElementwise,
     "x > 0 ? x : alpha * (exp(x) - 1)"},
    {Activation::kGelu, "GELU", 8, kTakesNone, kTakesNone,
     ActivationShape::kElementwise, "x / 2 * (1 + erf(x / sqrt(2)))"},
    {Activation::kGeluTanh, "GELU_TANH", 9, kTakesNone, kTakesNone,
     ActivationShape::kElementwise,
     "x / 2 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))"},
    {Activation::kSilu, "SILU", 10, kTakesNone, kTakesNone,
     ActivationShape::kElementwise, "x * sigmoid(x)"},
    {Activation::kHardSigmoid, "HARD_SIGMOID", 11, 0.2, 0.5,
     ActivationShape::kElementwise, "max(0, min(1, alpha * x + beta))"},
    {Activation::kLogSoftmax, "LOG_SOFTMAX", 12, kTakesNone, kTakesNone,
     ActivationShape::kLastAxis, "x - log(sum(exp(x))) along the last axis"},
    {Activation::kClip, "CLIP", 13, -std::numeric_limits<double>::infinity(),
     std::numeric_limits<double>::infinity(), ActivationShape::kElementwise,
     "min(max(x, alpha), beta)", ParamRule::kOrderedBounds},
    {Activation::kErf, "ERF", 14, kTakesNone, kTakesNone,
     ActivationShape::kElementwise, "erf(x)"},
    {Activation::kLayerNorm, "LAYER_NORM", 15, 1e-5, kTakesNone,
     ActivationShape::kLastAxis,
     "(x - mean(x)) / sqrt(var(x) + alpha) along the last axis",
     ParamRule::kNonNegative},
};

// Every activation's row, in ir::Activation order.
constexpr std::span<const ActivationInfo> AllActivations() {
  return kActivations;
}

// The row of `act`, or nullptr when `act` (possibly read from a file or set
// by hand) is no activation.
const ActivationInfo* FindActivation(Activation act);
// The row named `name` ("ELU"), or nullptr.
const ActivationInfo* FindActivation(std::string_view name);
// The row of `act`, a valid activation.
const ActivationInfo& GetActivation(Activation act);

// "alpha" or "beta", as in the model file and the spec.
std::string_view ParamName(ActivationParam param);
// Node::alpha or Node::beta.
double ParamValue(const Node& node, ActivationParam param);
double& ParamValue(Node& node, ActivationParam param);

// Empty when `value` is allowed for a parameter of `info` under its
// ParamRule; else what it must be ("finite", "a number or +-inf", "finite
// and >= 0"), for "alpha must be ...". The alpha <= beta order of
// kOrderedBounds is BoundsProblem's.
std::string_view ParamProblem(const ActivationInfo& info, double value);
// For kOrderedBounds: "alpha 6 is above beta 0" when alpha > beta, else
// empty.
std::string BoundsProblem(const ActivationInfo& info, double alpha,
                          double beta);

// "IDENTITY, RELU, ..., LOG_SOFTMAX": every name, for messages.
std::string ActivationNameList();
// "LEAKY_RELU, ELU and HARD_SIGMOID": the activations taking `param`.
std::string ActivationsTaking(ActivationParam param);

// Sets `node`'s activation to `act` with the given parameters, the
// table's defaults for those unset; an activation ignores the parameters it
// does not take (the node keeps Node's defaults there). `act` may be no
// activation: Validate refuses it.
void SetActivation(Node& node, Activation act, std::optional<double> alpha,
                   std::optional<double> beta);

// "RELU", "LEAKY_RELU alpha=0.2": the activation of `node` with the
// parameters it takes, for trace and dot.
std::string ActivationLabel(const Node& node);

// Whether ACTIVATION nodes `a` and `b` compute the same function: the same
// activation with the same parameters where it takes them.
bool SameActivation(const Node& a, const Node& b);

}  // namespace rowflow::ir

#endif  // ROWFLOW_GRAPH_ACTIVATION_H_
