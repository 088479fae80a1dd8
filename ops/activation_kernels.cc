// The activations' vector kernels (ops/activation.h), one copy per kernel
// set (ops/isa.h).
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <type_traits>

#include "graph/error.h"
#include "ops/activation.h"
#include "ops/activation_table.h"
#include "ops/isa_table.h"

namespace rowflow::ops::ROWFLOW_ISA_NS {
namespace act {
namespace {

using vmath::K;

// Applies f to data[0, n); the tail goes through the same f.
template <typename T, typename F>
RF_VEC_INLINE void Apply(T* data, int64_t n, F f) {
  constexpr int kL = Vec<T>::kLanes;
  int64_t i = 0;
  for (; i + kL <= n; i += kL) vec::Store(data + i, f(vec::Load(data + i)));
  if (i < n) vec::StoreN(data + i, f(vec::LoadN(data + i, n - i)), n - i);
}

// The group's maximum; with x - m = d + err exactly (TwoSum), and for x ==
// m d = 0, so an infinite maximum gives d = 0 for itself.
template <typename T>
T GroupMax(const T* p, int64_t len) {
  constexpr int kL = Vec<T>::kLanes;
  Vec<T> vmax = K(-std::numeric_limits<T>::infinity());
  int64_t i = 0;
  for (; i + kL <= len; i += kL) vmax = vec::Max(vmax, vec::Load(p + i));
  T m = vec::ReduceMax(vmax);
  for (; i < len; ++i) m = p[i] > m ? p[i] : m;
  return m;
}

template <typename T>
RF_VEC_INLINE Vec<T> ShiftedDiff(Vec<T> x, Vec<T> vm, Vec<T>* err) {
  const Vec<T> d = vec::Select(vec::Eq(x, vm), K(T{0}), x - vm);
  const Vec<T> bb = d - x;
  const Vec<T> e = (x - (d - bb)) - (vm + bb);
  *err = vec::Select(vec::IsNan(e), K(T{0}), e);  // infinities: none
  return d;
}

// Stores exp(x - m) over the group; returns their sum.
template <typename T>
T StoreShiftedExp(T* p, int64_t len, T m) {
  constexpr int kL = Vec<T>::kLanes;
  const Vec<T> vm = K(m);
  // exp(d + err) = exp(d) (1 + err): the rounding of x - m would cost up
  // to 16 ulp when x is far below m.
  const auto shifted_exp = [vm](Vec<T> x) {
    Vec<T> err;
    const Vec<T> e = vmath::Exp(ShiftedDiff(x, vm, &err));
    return vec::Fma(e, err, e);
  };
  Vec<T> sum = K(T{0});
  int64_t i = 0;
  for (; i + kL <= len; i += kL) {
    const Vec<T> e = shifted_exp(vec::Load(p + i));
    vec::Store(p + i, e);
    sum = sum + e;
  }
  if (i < len) {
    // Lanes past the end load as 0 and must add 0.
    const Vec<T> e = shifted_exp(vec::LoadN(p + i, len - i));
    T buf[kL] = {};
    vec::StoreN(buf, e, len - i);
    vec::StoreN(p + i, e, len - i);
    sum = sum + vec::Load(buf);
  }
  return vec::ReduceAdd(sum);
}

// A group holding a NaN becomes the default NaN: which NaN would win the
// maximum and the sum is not the same on every target.
template <typename T>
bool NanGroup(T* p, int64_t len, T sum) {
  if (!std::isnan(sum)) return false;
  std::fill_n(p, len, std::numeric_limits<T>::quiet_NaN());
  return true;
}

}  // namespace

template <typename T>
void Softmax::Group(T* p, int64_t len, const ActivationParams&) {
  const T m = GroupMax(p, len);
  const T sum = StoreShiftedExp(p, len, m);
  if (NanGroup(p, len, sum)) return;
  const Vec<T> inv = K(T{1} / sum);
  Apply(p, len, [inv](Vec<T> e) { return e * inv; });
}

template <typename T>
void LogSoftmax::Group(T* p, int64_t len, const ActivationParams&) {
  // sum e^(x - m) = k + rest, k the count of maxima: log1p(rest) when k = 1
  // keeps log(sum) accurate when the maximum dominates.
  constexpr int kL = Vec<T>::kLanes;
  const T m = GroupMax(p, len);
  const Vec<T> vm = K(m);
  Vec<T> rest = K(T{0}), count = K(T{0});
  const auto add = [&](Vec<T> x, int64_t n) {
    Vec<T> err;
    const Vec<T> e = vmath::Exp(ShiftedDiff(x, vm, &err));
    const vec::Mask<T> is_max = vec::Eq(x, vm);
    Vec<T> r = vec::Select(is_max, K(T{0}), vec::Fma(e, err, e));
    Vec<T> c = vec::Select(is_max, K(T{1}), K(T{0}));
    if (n < kL) {  // lanes past the end add 0
      T br[kL] = {}, bc[kL] = {};
      vec::StoreN(br, r, n);
      vec::StoreN(bc, c, n);
      r = vec::Load(br);
      c = vec::Load(bc);
    }
    rest = rest + r;
    count = count + c;
  };
  int64_t i = 0;
  for (; i + kL <= len; i += kL) add(vec::Load(p + i), kL);
  if (i < len) add(vec::LoadN(p + i, len - i), len - i);
  const T r = vec::ReduceAdd(rest), k = vec::ReduceAdd(count);
  if (NanGroup(p, len, m + r)) return;
  Vec<T> l;
  if (k == 1 && r <= 1) {
    l = vmath::Log1pUnit(K(r));
  } else {
    l = vmath::LogGe1(K(k + r));  // >= 2, or NaN (and k = 0 then)
  }
  Apply(p, len, [vm, l](Vec<T> x) {
    Vec<T> err;
    const Vec<T> d = ShiftedDiff(x, vm, &err);
    return (d - l) + err;
  });
}

// Two passes in index order, float in double and double in long double
// (x87: the same on every target), so that no sum or square overflows or
// loses the subnormal range and the bits are the same everywhere; the
// result is rounded once to T. A NaN or infinity anywhere makes the group
// the default NaN, as the mean is then undefined.
template <typename T>
void LayerNorm::Group(T* p, int64_t len, const ActivationParams& params) {
  using A = std::conditional_t<sizeof(T) == 4, double, long double>;
  A sum = 0;
  for (int64_t i = 0; i < len; ++i) sum += static_cast<A>(p[i]);
  const A mean = sum / static_cast<A>(len);
  A sq = 0;
  for (int64_t i = 0; i < len; ++i) {
    const A d = static_cast<A>(p[i]) - mean;
    sq += d * d;
  }
  if (!std::isfinite(sq)) {
    std::fill_n(p, len, std::numeric_limits<T>::quiet_NaN());
    return;
  }
  const A sd = std::sqrt(sq / static_cast<A>(len) +
                         static_cast<A>(static_cast<T>(params.alpha)));
  for (int64_t i = 0; i < len; ++i)
    p[i] = static_cast<T>((static_cast<A>(p[i]) - mean) / sd);
}

Form FormOf(Activation act) {
  Form form = Form::kVector;
  RF_CHECK(Visit(act, [&](auto row) { form = decltype(row)::kForm; }));
  return form;
}

namespace {

template <typename T, typename Row>
void ApplyRow(const ActivationParams& params, T* data, int64_t n) {
  if constexpr (Row::kAct == Activation::kIdentity) {
    return;
  } else {
    const RegParams<Vec<T>> p{K(static_cast<T>(params.alpha)),
                              K(static_cast<T>(params.beta))};
    Apply(data, n, [p](Vec<T> x) { return EvalVec<Row>(x, p); });
  }
}

}  // namespace
}  // namespace act

using ir::Activation;

template <typename T>
void ApplyActivation(Activation a, const ActivationParams& params, T* data,
                     int64_t n) {
  bool elementwise = false;
  RF_CHECK(act::Visit(a, [&](auto row) {
    using Row = decltype(row);
    if constexpr (Row::kForm != act::Form::kLastAxis) {
      elementwise = true;
      act::ApplyRow<T, Row>(params, data, n);
    }
  }));
  RF_CHECK(elementwise && "a last-axis activation is not elementwise");
}

template <typename T>
void ApplyActivationGroups(Activation a, const ActivationParams& params,
                           T* data, int64_t groups, int64_t len) {
  RF_CHECK(act::Visit(a, [&](auto row) {
    using Row = decltype(row);
    if constexpr (Row::kForm == act::Form::kLastAxis) {
      for (int64_t g = 0; g < groups; ++g)
        Row::Group(data + g * len, len, params);
    } else {
      act::ApplyRow<T, Row>(params, data, groups * len);
    }
  }));
}

template void ApplyActivation<float>(Activation, const ActivationParams&,
                                     float*, int64_t);
template void ApplyActivation<double>(Activation, const ActivationParams&,
                                      double*, int64_t);
template void ApplyActivationGroups<float>(Activation, const ActivationParams&,
                                           float*, int64_t, int64_t);
template void ApplyActivationGroups<double>(Activation, const ActivationParams&,
                                            double*, int64_t, int64_t);

}  // namespace rowflow::ops::ROWFLOW_ISA_NS
