// The activations' interface (ops/activation.h): the table's facts and
// references, compiled once, and the vector kernels of the kernel set this
// process runs (ops/isa_table.h).
#include "ops/activation.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "graph/error.h"
#include "ops/activation_table.h"
#include "ops/isa_table.h"

namespace rowflow::ops {
namespace act = ROWFLOW_ISA_NS::act;

namespace ROWFLOW_ISA_NS::act {

void Softmax::ReferenceGroup(const long double* x, int64_t len,
                             const ActivationParams&, long double* y) {
  long double m = -std::numeric_limits<long double>::infinity(), sum = 0;
  bool nan = false;
  for (int64_t i = 0; i < len; ++i) {
    nan |= std::isnan(x[i]);
    m = std::max(m, x[i]);
  }
  for (int64_t i = 0; i < len; ++i)
    sum += y[i] = x[i] == m ? 1.0L : std::exp(x[i] - m);
  for (int64_t i = 0; i < len; ++i)
    y[i] = nan ? std::numeric_limits<long double>::quiet_NaN() : y[i] / sum;
}

void LogSoftmax::ReferenceGroup(const long double* x, int64_t len,
                                const ActivationParams&, long double* y) {
  long double m = -std::numeric_limits<long double>::infinity(), sum = 0;
  bool nan = false;
  for (int64_t i = 0; i < len; ++i) {
    nan |= std::isnan(x[i]);
    m = std::max(m, x[i]);
  }
  long double count = 0;  // sum = count + `sum`, for log1p's accuracy
  for (int64_t i = 0; i < len; ++i) {
    if (x[i] == m) {
      ++count;
    } else {
      sum += std::exp(x[i] - m);
    }
  }
  const long double l = count == 1 ? std::log1p(sum) : std::log(count + sum);
  for (int64_t i = 0; i < len; ++i) {
    const long double d = x[i] == m ? 0.0L : x[i] - m;
    y[i] = nan ? std::numeric_limits<long double>::quiet_NaN() : d - l;
  }
}

void LayerNorm::ReferenceGroup(const long double* x, int64_t len,
                               const ActivationParams& params, long double* y) {
  long double sum = 0;
  for (int64_t i = 0; i < len; ++i) sum += x[i];
  const long double mean = sum / len;
  long double sq = 0;
  for (int64_t i = 0; i < len; ++i) sq += (x[i] - mean) * (x[i] - mean);
  const bool bad = !std::isfinite(sq);
  const long double sd = std::sqrt(sq / len + params.alpha);
  for (int64_t i = 0; i < len; ++i) {
    y[i] = bad ? std::numeric_limits<long double>::quiet_NaN()
               : (x[i] - mean) / sd;
  }
}

namespace {

template <size_t... I>
constexpr std::array<Activation, kNumRows> AllRows(std::index_sequence<I...>) {
  return {std::tuple_element_t<I, Rows>::kAct...};
}
constexpr auto kAll = AllRows(std::make_index_sequence<kNumRows>{});

}  // namespace
}  // namespace ROWFLOW_ISA_NS::act

using ir::Activation;

std::span<const Activation> AllActivations() { return act::kAll; }

bool HasKernel(Activation a) { return static_cast<size_t>(a) < act::kNumRows; }

bool IsLastAxis(Activation a) {
  return HasKernel(a) && act::FormOf(a) == act::Form::kLastAxis;
}

template <typename T>
void ActivateInPlace(Activation a, const ActivationParams& params, T* data,
                     int64_t n) {
  isa::Active().Of<T>().activate(a, params, data, n);
}

template <typename T>
void ActivateGroupsInPlace(Activation a, const ActivationParams& params,
                           T* data, int64_t groups, int64_t len) {
  isa::Active().Of<T>().activate_groups(a, params, data, groups, len);
}

long double ActivationReference(Activation a, const ActivationParams& params,
                                long double x) {
  long double y = 0;
  bool elementwise = false;
  RF_CHECK(act::Visit(a, [&](auto row) {
    using Row = decltype(row);
    if constexpr (Row::kForm != act::Form::kLastAxis) {
      elementwise = true;
      y = Row::Reference(x, params);
    }
  }));
  RF_CHECK(elementwise && "a last-axis activation is not elementwise");
  return y;
}

void ActivationReferenceGroup(Activation a, const ActivationParams& params,
                              const long double* x, int64_t len,
                              long double* y) {
  RF_CHECK(act::Visit(a, [&](auto row) {
    using Row = decltype(row);
    if constexpr (Row::kForm == act::Form::kLastAxis) {
      Row::ReferenceGroup(x, len, params, y);
    } else {
      for (int64_t i = 0; i < len; ++i) y[i] = Row::Reference(x[i], params);
    }
  }));
}

template void ActivateInPlace<float>(Activation, const ActivationParams&,
                                     float*, int64_t);
template void ActivateInPlace<double>(Activation, const ActivationParams&,
                                      double*, int64_t);
template void ActivateGroupsInPlace<float>(Activation, const ActivationParams&,
                                           float*, int64_t, int64_t);
template void ActivateGroupsInPlace<double>(Activation, const ActivationParams&,
                                            double*, int64_t, int64_t);

}  // namespace rowflow::ops
