#include "ops/activation.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "graph/error.h"
#include "ops/vec64.h"

namespace rowflow::ops {
namespace {

using ir::Activation;
using vec::Vec;

// Polynomial degrees are chosen so that truncation stays below 0.1 ulp on
// the reduced ranges; the coefficients are plain Taylor coefficients.
template <typename T>
struct Consts;
template <>
struct Consts<double> {
  static constexpr double kLog2e = 0x1.71547652b82fep+0;
  // ln 2 = kLn2Hi + kLn2Lo; kLn2Hi has 40 bits, so n * kLn2Hi is exact.
  static constexpr double kLn2Hi = 0x1.62e42fefa2000p-1;
  static constexpr double kLn2Lo = 0x1.9ef35793c7673p-41;
  // ln 2 = kLn2 + kLn2Tail, kLn2 rounded to nearest.
  static constexpr double kLn2 = 0x1.62e42fefa39efp-1;
  static constexpr double kLn2Tail = 0x1.abc9e3b39803fp-56;
  static constexpr double kExpMin = -746;  // exp rounds to 0 below
  static constexpr double kExpMax = 710;   // exp overflows above
  static constexpr double kTanhMax = 20;   // tanh rounds to 1 above
  static constexpr int kExpTerms = 14;     // e^r, |r| <= ln2/2: degree 13
  static constexpr int kExpm1Terms = 12;   // (e^r - 1 - r) / r^2: degree 11
  static constexpr int kLog1pTerms = 11;   // atanh series in w^2, |w| <= 0.2
};
template <>
struct Consts<float> {
  static constexpr float kLog2e = 0x1.715476p+0f;
  static constexpr float kLn2Hi = 0x1.62e4p-1f;  // 16 bits
  static constexpr float kLn2Lo = 0x1.7f7d1cp-20f;
  static constexpr float kLn2 = 0x1.62e430p-1f;
  static constexpr float kLn2Tail = -0x1.05c610p-29f;
  static constexpr float kExpMin = -105;
  static constexpr float kExpMax = 89;
  static constexpr float kTanhMax = 10;
  static constexpr int kExpTerms = 8;
  static constexpr int kExpm1Terms = 7;
  static constexpr int kLog1pTerms = 6;
};

// 1/k! for k in [first, first + N).
template <typename T, int N>
constexpr std::array<T, N> InverseFactorials(int first) {
  std::array<T, N> c{};
  double factorial = 1;
  for (int k = 2; k < first; ++k) factorial *= k;
  for (int i = 0; i < N; ++i) {
    if (first + i >= 2) factorial *= first + i;
    c[i] = static_cast<T>(1.0 / factorial);
  }
  return c;
}

// 2 / (2j + 3) for j in [0, N): atanh(w) = w + w^3/3 + w^5/5 + ...
template <typename T, int N>
constexpr std::array<T, N> AtanhCoefficients() {
  std::array<T, N> c{};
  for (int j = 0; j < N; ++j) c[j] = static_cast<T>(2.0 / (2 * j + 3));
  return c;
}

template <typename T, size_t N>
RF_VEC_INLINE Vec<T> Horner(Vec<T> x, const std::array<T, N>& c) {
  Vec<T> p = vec::Set1(c[N - 1]);
  RF_VEC_UNROLL for (int k = static_cast<int>(N) - 2; k >= 0; --k) {
    p = vec::Fma(p, x, vec::Set1(c[k]));
  }
  return p;
}

template <typename T>
RF_VEC_INLINE Vec<T> K(T x) {
  return vec::Set1(x);
}

// x = n ln2 + r with |r| <= ln2/2 (plus rounding); returns n, sets r.
template <typename T>
RF_VEC_INLINE Vec<T> ReduceLn2(Vec<T> x, Vec<T>* r) {
  using C = Consts<T>;
  const Vec<T> shifter = K(vec::Lanes<T>::kShifter);
  const Vec<T> n = vec::Fma(x, K(C::kLog2e), shifter) - shifter;
  *r = vec::Fma(n, K(-C::kLn2Lo), vec::Fma(n, K(-C::kLn2Hi), x));
  return n;
}

// e^x for every x, including overflow to inf, subnormal results and NaN.
template <typename T>
RF_VEC_INLINE Vec<T> Exp(Vec<T> x) {
  using C = Consts<T>;
  static constexpr auto kCoef = InverseFactorials<T, C::kExpTerms>(0);
  x = vec::Min(K(C::kExpMax), vec::Max(K(C::kExpMin), x));  // NaN passes
  Vec<T> r;
  const Vec<T> n = ReduceLn2(x, &r);
  return vec::ScaleBy2n(Horner(r, kCoef), n);
}

// e^y - 1 for y in [0, 2 kTanhMax], accurate near 0.
template <typename T>
RF_VEC_INLINE Vec<T> Expm1Small(Vec<T> y) {
  static constexpr auto kCoef = InverseFactorials<T, Consts<T>::kExpm1Terms>(2);
  Vec<T> r;
  const Vec<T> n = ReduceLn2(y, &r);
  const Vec<T> p = vec::Fma(r * r, Horner(r, kCoef), r);  // e^r - 1
  const Vec<T> s = vec::Pow2i(n);
  return vec::Fma(s, p, s - K(T{1}));  // 2^n (1 + p) - 1
}

// log(1 + u) for u in [0, 1].
template <typename T>
RF_VEC_INLINE Vec<T> Log1pUnit(Vec<T> u) {
  using C = Consts<T>;
  static constexpr auto kCoef = AtanhCoefficients<T, C::kLog1pTerms>();
  // 1 + u = 2^k (1 + f) with f exact: f = u for u < 1/2, else (u - 1) / 2.
  const vec::Mask<T> high = vec::Ge(u, K(T{0.5}));
  const Vec<T> f = vec::Select(high, (u - K(T{1})) * K(T{0.5}), u);
  const Vec<T> k = vec::Select(high, K(T{1}), K(T{0}));
  // log(1 + f) = 2 atanh(w), w = f / (2 + f), rewritten so that the division
  // only affects a small correction: f - (hf - w (hf + t)), hf = f^2 / 2.
  const Vec<T> w = f / (f + K(T{2}));
  const Vec<T> z = w * w;
  const Vec<T> t = z * Horner(z, kCoef);
  const Vec<T> hf = (f * f) * K(T{0.5});
  const Vec<T> corr = vec::Fma(w, hf + t, k * K(C::kLn2Tail));
  return vec::Fma(k, K(C::kLn2), f - (hf - corr));
}

template <typename T>
RF_VEC_INLINE Vec<T> KeepNan(Vec<T> x, Vec<T> y) {
  return vec::Select(vec::IsNan(x), x, y);
}

template <typename T>
RF_VEC_INLINE Vec<T> Tanh(Vec<T> x) {
  // tanh|x| = e / (e + 2), e = expm1(2|x|): no cancellation anywhere.
  const Vec<T> a = vec::Min(K(Consts<T>::kTanhMax), vec::Abs(x));
  const Vec<T> e = Expm1Small(a + a);
  return KeepNan(x, vec::XorSign(e / (e + K(T{2})), x));
}

template <typename T>
RF_VEC_INLINE Vec<T> Sigmoid(Vec<T> x) {
  // 1 / (1 + e) for x >= 0 and e / (1 + e) below, e = exp(-|x|) <= 1.
  const Vec<T> e = Exp(-vec::Abs(x));
  const Vec<T> num = vec::Select(vec::Lt(x, K(T{0})), e, K(T{1}));
  return KeepNan(x, num / (e + K(T{1})));
}

template <typename T>
RF_VEC_INLINE Vec<T> Softplus(Vec<T> x) {
  const Vec<T> l = Log1pUnit(Exp(-vec::Abs(x)));
  return KeepNan(x, vec::Max(x, K(T{0})) + l);
}

// Applies f to data[0, n); the tail goes through the same f.
template <typename T, typename F>
void Apply(T* data, int64_t n, F f) {
  constexpr int kL = Vec<T>::kLanes;
  int64_t i = 0;
  for (; i + kL <= n; i += kL) vec::Store(data + i, f(vec::Load(data + i)));
  if (i < n) vec::StoreN(data + i, f(vec::LoadN(data + i, n - i)), n - i);
}

template <typename T>
void SoftmaxGroup(T* p, int64_t len) {
  constexpr int kL = Vec<T>::kLanes;
  const T lowest = -std::numeric_limits<T>::infinity();
  Vec<T> vmax = K(lowest);
  int64_t i = 0;
  for (; i + kL <= len; i += kL) vmax = vec::Max(vmax, vec::Load(p + i));
  T m = vec::ReduceMax(vmax);
  for (; i < len; ++i) m = p[i] > m ? p[i] : m;
  // exp(x - m), with x - m = d + err exactly (TwoSum) and exp(d + err) =
  // exp(d) (1 + err): the rounding of x - m would cost up to 16 ulp when
  // x is far below m. x == m gives d = 0, so an infinite maximum gives 1.
  const Vec<T> vm = K(m);
  const auto shifted_exp = [vm](Vec<T> x) {
    const Vec<T> d = vec::Select(vec::Eq(x, vm), K(T{0}), x - vm);
    const Vec<T> bb = d - x;
    Vec<T> err = (x - (d - bb)) - (vm + bb);
    // Infinities: no correction.
    err = vec::Select(vec::IsNan(err), K(T{0}), err);
    const Vec<T> e = Exp(d);
    return vec::Fma(e, err, e);
  };
  Vec<T> sum = K(T{0});
  for (i = 0; i + kL <= len; i += kL) {
    const Vec<T> e = shifted_exp(vec::Load(p + i));
    vec::Store(p + i, e);
    sum = sum + e;
  }
  if (i < len) {
    const Vec<T> e = shifted_exp(vec::LoadN(p + i, len - i));
    vec::StoreN(p + i, e, len - i);
    sum = sum + vec::LoadN(p + i, len - i);  // lanes past the end are 0
  }
  const Vec<T> inv = K(T{1} / vec::ReduceAdd(sum));
  Apply(p, len, [inv](Vec<T> e) { return e * inv; });
}

}  // namespace

template <typename T>
void ActivateInPlace(Activation act, double alpha, T* data, int64_t n) {
  switch (act) {
    case Activation::kIdentity:
      return;
    case Activation::kRelu:
      return Apply(data, n, [](Vec<T> x) {
        return vec::Select(vec::NotLe(x, K(T{0})), x, K(T{0}));  // NaN stays
      });
    case Activation::kTanh:
      return Apply(data, n, [](Vec<T> x) { return Tanh(x); });
    case Activation::kSigmoid:
      return Apply(data, n, [](Vec<T> x) { return Sigmoid(x); });
    case Activation::kLeakyRelu: {
      const Vec<T> slope = K(static_cast<T>(alpha));
      return Apply(data, n, [slope](Vec<T> x) {
        return vec::Select(vec::Ge(x, K(T{0})), x, x * slope);
      });
    }
    case Activation::kSoftplus:
      return Apply(data, n, [](Vec<T> x) { return Softplus(x); });
    case Activation::kSoftmax:
      break;
  }
  RF_CHECK(act != Activation::kSoftmax && "softmax is not elementwise");
}

template <typename T>
void SoftmaxInPlace(T* data, int64_t groups, int64_t len) {
  for (int64_t g = 0; g < groups; ++g) SoftmaxGroup(data + g * len, len);
}

double ActivationReference(Activation act, double alpha, double x) {
  switch (act) {
    case Activation::kIdentity:
      return x;
    case Activation::kRelu:
      return std::isnan(x) ? x : (x > 0 ? x : 0.0);
    case Activation::kTanh:
      return std::tanh(x);
    case Activation::kSigmoid:
      return x >= 0 ? 1 / (1 + std::exp(-x)) : std::exp(x) / (1 + std::exp(x));
    case Activation::kLeakyRelu:
      return x >= 0 ? x : alpha * x;
    case Activation::kSoftplus:
      return std::isnan(x)
                 ? x
                 : std::max(x, 0.0) + std::log1p(std::exp(-std::fabs(x)));
    case Activation::kSoftmax:
      break;
  }
  RF_CHECK(act != Activation::kSoftmax && "softmax is not elementwise");
  return 0;
}

template void ActivateInPlace<float>(Activation, double, float*, int64_t);
template void ActivateInPlace<double>(Activation, double, double*, int64_t);
template void SoftmaxInPlace<float>(float*, int64_t, int64_t);
template void SoftmaxInPlace<double>(double*, int64_t, int64_t);

}  // namespace rowflow::ops
