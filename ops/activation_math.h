// Internal to ops/: the vector math the activation table's rows are built
// from (ops/activation_table.h), on vec::Vec<T> for T = float or double.
//
// Every function is a fixed sequence of IEEE operations on each lane, so a
// lane's result depends only on its own input, on every target. Accuracy is
// stated per function; the activations' bounds are in ops/activation.h.
//
// Thread-safety: stateless functions and constant tables.
#ifndef ROWFLOW_OPS_ACTIVATION_MATH_H_
#define ROWFLOW_OPS_ACTIVATION_MATH_H_

#include <array>
#include <cstddef>
#include <limits>

#include "ops/vec64.h"

namespace rowflow::ops::ROWFLOW_ISA_NS::vmath {

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
  static constexpr double kExpMin = -746;   // exp rounds to 0 below
  static constexpr double kExpMax = 710;    // exp overflows above
  static constexpr double kTanhMax = 20;    // tanh rounds to 1 above
  static constexpr int kExpTerms = 14;      // e^r, |r| <= ln2/2: degree 13
  static constexpr int kExpm1Terms = 12;    // (e^r - 1 - r) / r^2: degree 11
  static constexpr int kLog1pTerms = 11;    // atanh series in w^2, |w| <= 0.2
  static constexpr double kExpm1Min = -40;  // expm1 rounds to -1 below
  // x sigmoid(t) rounds to 0 for t below (|x| <= -t).
  static constexpr double kMulSigmoidMin = -760;
  // 2 sqrt(2/pi) and 2 sqrt(2/pi) 0.044715, each as hi + lo.
  static constexpr double kGeluTanhK1 = 0x1.9884533d43651p+0;
  static constexpr double kGeluTanhK1Lo = -0x1.cbc0d30ebfd15p-54;
  static constexpr double kGeluTanhK3 = 0x1.2444f2a4d8b4bp-4;
  static constexpr double kGeluTanhK3Lo = -0x1.6c843a29d1c7p-61;
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
  static constexpr float kExpm1Min = -20;
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

// e^y - 1 for y in [kExpm1Min, 2 kTanhMax], accurate near 0 (within 2 ulp).
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

// h + l = n ln2 + r, |r| <= ln2/2 (plus rounding), for h in [kExpMin,
// kExpMax] and |l| <= ulp(h); returns n and sets p = e^r, so that
// e^(h + l) = 2^n p. The low part keeps e^(h + l) accurate when h is large.
template <typename T>
RF_VEC_INLINE Vec<T> ExpSplit(Vec<T> h, Vec<T> l, Vec<T>* p) {
  static constexpr auto kCoef = InverseFactorials<T, Consts<T>::kExpTerms>(0);
  Vec<T> r;
  const Vec<T> n = ReduceLn2(h, &r);
  *p = Horner(r + l, kCoef);
  return n;
}

// x sigmoid(th + tl) for |tl| <= ulp(th), relative error within about 2.5
// ulp for every x with |x| <= max(1, |th|) (and x = th, any size): for t < 0
// it is x e^t / (1 + e^t) scaled by 2^n only at the end, so a result in the
// subnormal range is rounded once. NaN handling is the caller's.
template <typename T>
RF_VEC_INLINE Vec<T> MulSigmoid(Vec<T> x, Vec<T> th, Vec<T> tl) {
  using C = Consts<T>;
  const vec::Mask<T> neg = vec::Lt(th, K(T{0}));
  // e^-|t|; t too negative (or infinite) gives x 0 below.
  Vec<T> a = -vec::Abs(th);
  const vec::Mask<T> tiny = vec::Lt(a, K(C::kMulSigmoidMin));
  a = vec::Max(a, K(C::kMulSigmoidMin));
  const Vec<T> al = vec::Select(tiny, K(T{0}), vec::Select(neg, tl, -tl));
  Vec<T> p;
  const Vec<T> n = ExpSplit(a, al, &p);
  const Vec<T> den = vec::ScaleBy2n(p, n) + K(T{1});
  const Vec<T> pos = x / den;
  const Vec<T> below = vec::ScaleBy2n((x * p) / den, n);
  const Vec<T> r = vec::Select(neg, below, pos);
  return vec::Select(tiny, vec::Select(neg, vec::XorSign(K(T{0}), x), x), r);
}

// f32 in double, rounded once (the f32 evaluation reached 3.2 ulp).
template <typename T, typename F>
RF_VEC_INLINE Vec<T> InDoubleForFloat(Vec<T> x, F f) {
  if constexpr (sizeof(T) == 8) {
    return f(x);
  } else {
    Vec<double> lo, hi;
    vec::Widen(x, &lo, &hi);
    return vec::Narrow(f(lo), f(hi));
  }
}

// f64 within 3 ulp; f32 within 0.51 ulp (computed in double).
template <typename T>
RF_VEC_INLINE Vec<T> Silu(Vec<T> x) {
  return InDoubleForFloat(
      x, [](Vec<double> d) { return KeepNan(d, MulSigmoid(d, d, K(0.0))); });
}

// x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3): the same as
// 0.5 x (1 + tanh u), without the cancellation for x < 0. t = 2u is formed
// in double-T arithmetic (hi + lo), since e^t amplifies its error by |t|.
template <typename T>
RF_VEC_INLINE Vec<T> GeluTanhIn(Vec<T> x) {
  using C = Consts<T>;
  const Vec<T> x2 = x * x;
  const Vec<T> x2l = vec::Fma(x, x, -x2);
  const Vec<T> k3 = K(C::kGeluTanhK3), k1 = K(C::kGeluTanhK1);
  const Vec<T> a = k3 * x2;
  const Vec<T> al =
      vec::Fma(k3, x2, -a) + vec::Fma(k3, x2l, K(C::kGeluTanhK3Lo) * x2);
  const Vec<T> s = k1 + a;  // TwoSum: s + sl = k1 + a exactly
  const Vec<T> bb = s - k1;
  const Vec<T> sl = ((k1 - (s - bb)) + (a - bb)) + (al + K(C::kGeluTanhK1Lo));
  const Vec<T> th = x * s;
  const Vec<T> tl = vec::Fma(x, sl, vec::Fma(x, s, -th));
  return KeepNan(x, MulSigmoid(x, th, tl));
}

// f64 within 3 ulp; f32 within 0.51 ulp (computed in double).
template <typename T>
RF_VEC_INLINE Vec<T> GeluTanh(Vec<T> x) {
  return InDoubleForFloat(x, [](Vec<double> d) { return GeluTanhIn(d); });
}

// GELU's tail: erfcx(a / sqrt2) = t H(u), t = c / (c + a), c = 2 sqrt2 (as a
// double), u = t kScale + kOffset in [-1, 1] over a in [0, kMax], H a
// Chebyshev series sum kC[k] T_k(u) in double (interpolated at degree
// kC.size() - 1 from long double erfcl; ops/fit_erfcx.cc).
inline constexpr double kErfcxT = 0x1.6a09e667f3bcdp+1;
// f64 GELU: relative error of t H about 4.5e-16.
struct ErfcxF64 {
  static constexpr double kMax = 39;  // x Phi(x) is x, or rounds to -0, past it
  static constexpr double kScale = 0x1.1290eafec44b5p+1;
  static constexpr double kOffset = -0x1.2521d5fd8896ap+0;
  static constexpr double kC0Lo = -0x1.57p-56;  // c[0] = kC[0] + kC0Lo
  static constexpr std::array<double, 29> kC = {
      0x1.300e36f91eb1ep-1,   0x1.62ac2ffab24a9p-2,
      0x1.dd0302fe5c61ap-5,   0x1.4f29635182184p-9,
      -0x1.e9f23a3008022p-11, -0x1.9621e58a1a535p-14,
      0x1.aae2f10e3b9a4p-16,  0x1.3f40b8052b58p-19,
      -0x1.095ec05944358p-20, -0x1.13fea3e65b72cp-26,
      0x1.5d076e6c2811ap-25,  -0x1.085705a8734f7p-28,
      -0x1.674afef192c23p-30, 0x1.92813aa71611ap-32,
      0x1.894d0308d3dcbp-38,  -0x1.551d64f772c23p-36,
      0x1.cb63cd1ee5847p-39,  0x1.cc3dacp-42,
      -0x1.2b06f7ee5846ap-42, 0x1.330c34f72c235p-45,
      0x1.1bd29cb08d3ddp-47,  -0x1.1969b08d3dcb1p-48,
      0x1.0e82c234f72c2p-51,  0x1.258308d3dcb09p-53,
      -0x1.223p-54,           0x1.3ae58469ee584p-57,
      0x1.4172c234f72c2p-59,  -0x1.12p-60,
      -0x1.b3dcb08d3dcb1p-64};
};
// f32 GELU (evaluated in double): relative error of t H about 2e-13.
struct ErfcxF32 {
  static constexpr double kMax =
      14.6;  // x Phi(x) is x, or rounds to -0, past it
  static constexpr double kScale = 0x1.319826938012ep+1;
  static constexpr double kOffset = -0x1.63304d270025bp+0;
  static constexpr double kC0Lo = -0x1.2bp-55;  // c[0] = kC[0] + kC0Lo
  static constexpr std::array<double, 17> kC = {
      0x1.3d4010164266fp-1,   0x1.530b7f105812ap-2,   0x1.8e623ea894fp-5,
      0x1.611fbe767e9fap-10,  -0x1.658eaf303e2d2p-11, -0x1.489841f3838aap-15,
      0x1.0205b09fde678p-16,  0x1.7f185249a89e2p-22,  -0x1.d0b44d7fc99a6p-22,
      0x1.b91a0f9bfp-26,      0x1.6e73975ca83c4p-27,  -0x1.1f53635eea5a6p-29,
      -0x1.7541a378d2d2dp-34, 0x1.7db7d4774b4b5p-34,  -0x1.78a5086cb4b4bp-37,
      -0x1.a5f172f2d2d2dp-40, 0x1.8fddea14b4b4bp-41};
};

// 0.5 erfc(a / sqrt2) = E 2^n for a in [0, R::kMax]: returns E, sets n.
// E = 0.5 e^(-a^2 / 2) t H(u) (a^2 / 2 exact as hi + lo, t compensated as
// hi + lo, since H amplifies t's error).
template <typename R>
RF_VEC_INLINE Vec<double> HalfErfcSplit(Vec<double> a, Vec<double>* n) {
  const Vec<double> sq = a * a;
  Vec<double> p;
  *n = ExpSplit(sq * K(-0.5), vec::Fma(a, a, -sq) * K(-0.5), &p);
  const Vec<double> c = K(kErfcxT);
  const Vec<double> s = c + a;  // TwoSum: s + es = c + a
  const Vec<double> bb = s - c;
  const Vec<double> es = (c - (s - bb)) + (a - bb);
  const Vec<double> q = c / s;  // t = q + tl
  const Vec<double> tl = (vec::Fma(-q, s, c) - q * es) / s;
  const Vec<double> u =
      vec::Fma(tl, K(R::kScale), vec::Fma(q, K(R::kScale), K(R::kOffset)));
  constexpr int kN = static_cast<int>(R::kC.size());
  const Vec<double> u2 = u + u;
  Vec<double> b1 = K(0.0), b2 = K(0.0);
  RF_VEC_UNROLL for (int k = kN - 1; k >= 1; --k) {
    const Vec<double> b = vec::Fma(u2, b1, K(R::kC[k]) - b2);
    b2 = b1;
    b1 = b;
  }
  const Vec<double> h = vec::Fma(u, b1, (K(R::kC[0]) - b2) + K(R::kC0Lo));
  return (p * vec::Fma(h, q, h * tl)) * K(0.5);
}

// x Phi(x) = 0.5 x erfc(-x / sqrt2), in double. With a = |x| and E = 0.5
// erfc(a / sqrt2), x Phi(x) is x E for x < 0 and x - x E for x >= 0: no
// cancellation on either side.
template <typename R>
RF_VEC_INLINE Vec<double> GeluIn(Vec<double> x) {
  const Vec<double> a = vec::Min(K(R::kMax), vec::Abs(x));
  Vec<double> n;
  const Vec<double> pg = HalfErfcSplit<R>(a, &n);
  const Vec<double> below = vec::ScaleBy2n(x * pg, n);  // x E, rounded once
  const Vec<double> above = vec::Fma(-x, vec::ScaleBy2n(pg, n), x);
  const vec::Mask<double> neg = vec::Lt(x, K(0.0));
  Vec<double> r = vec::Select(neg, below, above);
  // Past kMax: x, or -0 (also keeps -inf from inf * 0); zeros keep theirs.
  const vec::Mask<double> big = vec::Ge(vec::Abs(x), K(R::kMax));
  r = vec::Select(big, vec::Select(neg, K(-0.0), x), r);
  r = vec::Select(vec::Eq(x, K(0.0)), x, r);
  return KeepNan(x, r);
}

// erf's Taylor series x sum c_k x^2k, c_k = 2/sqrt(pi) (-1)^k / (k! (2k +
// 1)), for |x| < kErfSeriesMax: 14 terms leave a truncation below 1e-19.
inline constexpr double kErfSeriesMax = 0.5;
inline constexpr std::array<double, 14> ErfSeries() {
  std::array<double, 14> c{};
  double factorial = 1;
  for (int k = 0; k < 14; ++k) {
    if (k > 0) factorial *= k;
    const double sign = k % 2 == 0 ? 1.0 : -1.0;
    c[k] = sign * 0x1.20dd750429b6dp+0 / (factorial * (2 * k + 1));
  }
  return c;
}

// erf x in double: the series near 0; else 1 - erfc|x| with erfc|x| = 2 E
// (HalfErfcSplit at a = |x| sqrt2, clamped to the series' range, where
// erfc|x| is far below half an ulp of 1), the sign of x restored.
template <typename R>
RF_VEC_INLINE Vec<double> ErfIn(Vec<double> x) {
  static constexpr auto kSeries = ErfSeries();
  const Vec<double> ax = vec::Abs(x);
  const Vec<double> a =
      vec::Min(K(R::kMax), ax * K(0x1.6a09e667f3bcdp+0));  // |x| sqrt2
  Vec<double> n;
  const Vec<double> pg = HalfErfcSplit<R>(a, &n);
  const Vec<double> far = vec::XorSign(K(1.0) - vec::ScaleBy2n(pg + pg, n), x);
  const Vec<double> near = x * Horner(x * x, kSeries);  // keeps -0
  const Vec<double> r = vec::Select(vec::Lt(ax, K(kErfSeriesMax)), near, far);
  return KeepNan(x, r);
}

// f(d, R{}) on the lanes of x in double, R the erfcx series of T's
// accuracy (ErfcxF64 or, for float, ErfcxF32; rounded once to float).
template <typename T, typename F>
RF_VEC_INLINE Vec<T> WithErfcx(Vec<T> x, F f) {
  if constexpr (sizeof(T) == 8) {
    return f(x, ErfcxF64{});
  } else {
    Vec<double> lo, hi;
    vec::Widen(x, &lo, &hi);
    return vec::Narrow(f(lo, ErfcxF32{}), f(hi, ErfcxF32{}));
  }
}

// f64 within 3 ulp; f32 computed in double and rounded once, within 0.51.
template <typename T>
RF_VEC_INLINE Vec<T> Erf(Vec<T> x) {
  return WithErfcx(x,
                   [](Vec<double> d, auto r) { return ErfIn<decltype(r)>(d); });
}

// f64: within 7 ulp (the series' rounding dominates). f32: computed in
// double and rounded once, within 0.51 ulp.
template <typename T>
RF_VEC_INLINE Vec<T> Gelu(Vec<T> x) {
  return WithErfcx(
      x, [](Vec<double> d, auto r) { return GeluIn<decltype(r)>(d); });
}

// x for x >= 0 (and -0), alpha expm1(x) below.
template <typename T>
RF_VEC_INLINE Vec<T> Elu(Vec<T> x, Vec<T> alpha) {
  const Vec<T> e = Expm1Small(vec::Max(x, K(Consts<T>::kExpm1Min)));
  return KeepNan(x, vec::Select(vec::Ge(x, K(T{0})), x, alpha * e));
}

// log s for s in [1, inf): s = 2^k f, f in [1, 2), log s = k ln2 + log1p(f -
// 1).
template <typename T>
RF_VEC_INLINE Vec<T> LogGe1(Vec<T> s) {
  using C = Consts<T>;
  using L = vec::Lanes<T>;
  using U = typename L::UPart;
  using Bits = std::remove_const_t<decltype(L::kSignBit)>;
  constexpr Bits kMant = (Bits{1} << L::kMantissaBits) - 1;
  constexpr Bits kOne = Bits{L::kExponentBias} << L::kMantissaBits;
  Vec<T> f, k;
  RF_VEC_UNROLL for (int i = 0; i < Vec<T>::kParts; ++i) {
    const U bits = (U)s.p[i];
    f.p[i] = (typename Vec<T>::Part)((bits & kMant) | kOne);
    // s >= 1: the biased exponent is at least the bias.
    const U e = (bits >> L::kMantissaBits) - L::kExponentBias;
    k.p[i] =
        __builtin_convertvector((typename L::SPart)e, typename Vec<T>::Part);
  }
  const Vec<T> l = Log1pUnit(f - K(T{1}));
  const Vec<T> r = vec::Fma(k, K(C::kLn2), vec::Fma(k, K(C::kLn2Tail), l));
  // inf and NaN: their own log.
  return vec::Select(vec::Lt(s, K(std::numeric_limits<T>::infinity())), r, s);
}

}  // namespace rowflow::ops::ROWFLOW_ISA_NS::vmath

#endif  // ROWFLOW_OPS_ACTIVATION_MATH_H_
