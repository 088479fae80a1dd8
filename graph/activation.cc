#include "graph/activation.h"

#include <fmt/format.h>

#include <cmath>
#include <vector>

#include "graph/error.h"

namespace rowflow::ir {
namespace {

// The rows are indexed by ir::Activation: FindActivation relies on it.
constexpr bool RowsInEnumOrder() {
  for (size_t i = 0; i < std::size(kActivations); ++i) {
    if (static_cast<size_t>(kActivations[i].act) != i) return false;
  }
  return true;
}
static_assert(RowsInEnumOrder(),
              "kActivations must list ir::Activation in order, one row each");

// "a, b and c".
std::string JoinNames(const std::vector<std::string_view>& names,
                      std::string_view last) {
  std::string list;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) list += i + 1 == names.size() ? last : ", ";
    list += names[i];
  }
  return list;
}

}  // namespace

const ActivationInfo* FindActivation(Activation act) {
  const auto i = static_cast<size_t>(act);
  return i < std::size(kActivations) ? &kActivations[i] : nullptr;
}

const ActivationInfo* FindActivation(std::string_view name) {
  for (const ActivationInfo& info : kActivations) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

const ActivationInfo& GetActivation(Activation act) {
  const ActivationInfo* info = FindActivation(act);
  RF_CHECK(info != nullptr);
  return *info;
}

std::string_view ParamName(ActivationParam param) {
  return param == ActivationParam::kAlpha ? "alpha" : "beta";
}

double ParamValue(const Node& node, ActivationParam param) {
  return param == ActivationParam::kAlpha ? node.alpha : node.beta;
}

double& ParamValue(Node& node, ActivationParam param) {
  return param == ActivationParam::kAlpha ? node.alpha : node.beta;
}

std::string_view ParamProblem(const ActivationInfo& info, double value) {
  switch (info.rule) {
    case ParamRule::kFinite:
      return std::isfinite(value) ? "" : "finite";
    case ParamRule::kOrderedBounds:
      return std::isnan(value) ? "a number or +-inf" : "";
    case ParamRule::kNonNegative:
      return std::isfinite(value) && value >= 0 ? "" : "finite and >= 0";
  }
  return "";
}

std::string BoundsProblem(const ActivationInfo& info, double alpha,
                          double beta) {
  if (info.rule != ParamRule::kOrderedBounds || !(alpha > beta)) return "";
  return fmt::format("alpha {} is above beta {}; expected alpha <= beta",
                     NumberToString(alpha), NumberToString(beta));
}

std::string ActivationNameList() {
  std::vector<std::string_view> names;
  for (const ActivationInfo& info : kActivations) names.push_back(info.name);
  return JoinNames(names, ", ");
}

std::string ActivationsTaking(ActivationParam param) {
  std::vector<std::string_view> names;
  for (const ActivationInfo& info : kActivations) {
    if (info.Default(param)) names.push_back(info.name);
  }
  return JoinNames(names, " and ");
}

void SetActivation(Node& node, Activation act, std::optional<double> alpha,
                   std::optional<double> beta) {
  node.activation = act;
  const ActivationInfo* info = FindActivation(act);
  const Node defaults;
  for (ActivationParam param : kActivationParams) {
    const std::optional<double> given =
        param == ActivationParam::kAlpha ? alpha : beta;
    const std::optional<double> fallback =
        info ? info->Default(param) : std::nullopt;
    ParamValue(node, param) =
        fallback ? given.value_or(*fallback) : ParamValue(defaults, param);
  }
}

std::string ActivationLabel(const Node& node) {
  const ActivationInfo* info = FindActivation(node.activation);
  if (info == nullptr) return "?";
  std::string label(info->name);
  for (ActivationParam param : kActivationParams) {
    if (!info->Default(param)) continue;
    label += fmt::format(" {}={}", ParamName(param),
                         NumberToString(ParamValue(node, param)));
  }
  return label;
}

bool SameActivation(const Node& a, const Node& b) {
  if (a.activation != b.activation) return false;
  const ActivationInfo* info = FindActivation(a.activation);
  if (info == nullptr) return true;
  for (ActivationParam param : kActivationParams) {
    if (info->Default(param) && ParamValue(a, param) != ParamValue(b, param)) {
      return false;
    }
  }
  return true;
}

}  // namespace rowflow::ir
