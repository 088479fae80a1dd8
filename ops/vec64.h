// Vec<T>: 64 bytes of T (16 floats or 8 doubles), the vector type the dense
// (GEMM) and activation kernels are written in. Internal to ops/.
//
// A Vec is one AVX-512 register, two AVX2 registers, or four 16-byte vectors
// (SSE2 or whatever the target has), chosen at compile time. Every operation
// is the same IEEE operation lane by lane on every target, and reductions add
// lanes in one fixed tree, so a kernel written on Vec gives bitwise-identical
// results on every machine. Translation units that include this header are
// compiled with -ffp-contract=off so that no a*b+c is fused behind our back.
//
// Thread-safety: values and stateless functions.
#ifndef ROWFLOW_OPS_VEC64_H_
#define ROWFLOW_OPS_VEC64_H_

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "ops/isa.h"

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

#define RF_VEC_INLINE inline __attribute__((always_inline))
#define RF_VEC_UNROLL _Pragma("GCC unroll 64")

namespace rowflow::ops::ROWFLOW_ISA_NS::vec {

#if defined(__AVX512F__)
inline constexpr int kPartBytes = 64;
#elif defined(__AVX2__) && defined(__FMA__)
inline constexpr int kPartBytes = 32;
#else
inline constexpr int kPartBytes = 16;
#endif

// Lane types of one native part: values, signed masks, unsigned bits.
template <typename T>
struct Lanes;
template <>
struct Lanes<float> {
  typedef float Part __attribute__((vector_size(kPartBytes)));
  typedef int32_t SPart __attribute__((vector_size(kPartBytes)));
  typedef uint32_t UPart __attribute__((vector_size(kPartBytes)));
  static constexpr int kMantissaBits = 23;
  static constexpr uint32_t kExponentBias = 127;
  static constexpr uint32_t kSignBit = 0x80000000u;
  // x + kShifter rounds x to an integer.
  static constexpr float kShifter = 0x1.8p23f;
};
template <>
struct Lanes<double> {
  typedef double Part __attribute__((vector_size(kPartBytes)));
  typedef int64_t SPart __attribute__((vector_size(kPartBytes)));
  typedef uint64_t UPart __attribute__((vector_size(kPartBytes)));
  static constexpr int kMantissaBits = 52;
  static constexpr uint64_t kExponentBias = 1023;
  static constexpr uint64_t kSignBit = 0x8000000000000000u;
  static constexpr double kShifter = 0x1.8p52;
};

// 64 bytes of T in kParts native vectors.
template <typename T>
struct Vec {
  using Part = typename Lanes<T>::Part;
  static constexpr int kLanes = 64 / sizeof(T);
  static constexpr int kParts = 64 / kPartBytes;
  static constexpr int kPartLanes = kLanes / kParts;
  Part p[kParts];
};

// Per-lane booleans (all ones / all zeros), as comparisons return them.
template <typename T>
struct Mask {
  typename Lanes<T>::SPart p[Vec<T>::kParts];
};

#define RF_VEC_PARTS(i) RF_VEC_UNROLL for (int i = 0; i < Vec<T>::kParts; ++i)

template <typename T, int... J>
RF_VEC_INLINE typename Vec<T>::Part Broadcast(
    T x, std::integer_sequence<int, J...>) {
  return typename Vec<T>::Part{(static_cast<void>(J), x)...};  // one broadcast
}

template <typename T>
RF_VEC_INLINE Vec<T> Set1(T x) {
  const auto part =
      Broadcast(x, std::make_integer_sequence<int, Vec<T>::kPartLanes>{});
  Vec<T> r;
  RF_VEC_PARTS(i) r.p[i] = part;
  return r;
}

// Part by part: GCC copies a whole 64-byte Vec of two AVX2 parts in four
// 16-byte pieces through the stack, and each part read back stalls on the
// store forwarding.
template <typename T>
RF_VEC_INLINE Vec<T> Load(const T* p) {
  Vec<T> r;
  RF_VEC_PARTS(i)
  std::memcpy(&r.p[i], p + i * Vec<T>::kPartLanes, sizeof(r.p[i]));
  return r;
}

template <typename T>
RF_VEC_INLINE void Store(T* p, Vec<T> v) {
  RF_VEC_PARTS(i)
  std::memcpy(p + i * Vec<T>::kPartLanes, &v.p[i], sizeof(v.p[i]));
}

// Load for a value used by several fmas: GCC would otherwise fold it into
// each of them as a memory operand, multiplying the loads. The empty asm
// hides where the value came from.
template <typename T>
RF_VEC_INLINE Vec<T> LoadReused(const T* p) {
  Vec<T> r = Load(p);
  RF_VEC_UNROLL for (int i = 0; i < Vec<T>::kParts; ++i) {
    typename Vec<T>::Part t = r.p[i];
    asm("" : "+x"(t));
    r.p[i] = t;
  }
  return r;
}

// Loads the first n (0..kLanes) lanes from p; the other lanes are zero.
template <typename T>
RF_VEC_INLINE Vec<T> LoadN(const T* p, int64_t n) {
#if defined(__AVX512F__)
  Vec<T> r;
  if constexpr (sizeof(T) == 4) {
    r.p[0] = (typename Vec<T>::Part)_mm512_maskz_loadu_ps(
        static_cast<__mmask16>((1u << n) - 1), p);
  } else {
    r.p[0] = (typename Vec<T>::Part)_mm512_maskz_loadu_pd(
        static_cast<__mmask8>((1u << n) - 1), p);
  }
  return r;
#else
  T buf[Vec<T>::kLanes] = {};
  std::memcpy(buf, p, sizeof(T) * n);
  return Load(buf);
#endif
}

// Stores the first n (0..kLanes) lanes of v to p.
template <typename T>
RF_VEC_INLINE void StoreN(T* p, Vec<T> v, int64_t n) {
#if defined(__AVX512F__)
  if constexpr (sizeof(T) == 4) {
    _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1),
                          (__m512)v.p[0]);
  } else {
    _mm512_mask_storeu_pd(p, static_cast<__mmask8>((1u << n) - 1),
                          (__m512d)v.p[0]);
  }
#else
  T buf[Vec<T>::kLanes];
  Store(buf, v);
  std::memcpy(p, buf, sizeof(T) * n);
#endif
}

#define RF_VEC_BINARY(op)                                \
  template <typename T>                                  \
  RF_VEC_INLINE Vec<T> operator op(Vec<T> a, Vec<T> b) { \
    Vec<T> r;                                            \
    RF_VEC_PARTS(i) r.p[i] = a.p[i] op b.p[i];           \
    return r;                                            \
  }
RF_VEC_BINARY(+)
RF_VEC_BINARY(-)
RF_VEC_BINARY(*)
RF_VEC_BINARY(/)
#undef RF_VEC_BINARY

template <typename T>
RF_VEC_INLINE Vec<T> operator-(Vec<T> a) {
  Vec<T> r;
  RF_VEC_PARTS(i) r.p[i] = -a.p[i];
  return r;
}

// a * b + c with one rounding, for one register of any width: a GCC vector
// of float or double lanes (a Vec part, a tiny-path register) or a scalar.
template <typename R>
RF_VEC_INLINE R FmaReg(R a, R b, R c) {
  if constexpr (std::is_floating_point_v<R>) {
    return std::fma(a, b, c);  // fmaf for float: no double rounding
  } else {
    using E = std::remove_cvref_t<decltype(a[0])>;
#if defined(__AVX512F__)
    if constexpr (sizeof(R) == 64 && sizeof(E) == 4) {
      return (R)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
    } else if constexpr (sizeof(R) == 64) {
      return (R)_mm512_fmadd_pd((__m512d)a, (__m512d)b, (__m512d)c);
    }
#endif
#if defined(__AVX2__) && defined(__FMA__)
    if constexpr (sizeof(R) == 32 && sizeof(E) == 4) {
      return (R)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
    } else if constexpr (sizeof(R) == 32) {
      return (R)_mm256_fmadd_pd((__m256d)a, (__m256d)b, (__m256d)c);
    }
#endif
    R r;
    RF_VEC_UNROLL for (size_t j = 0; j < sizeof(R) / sizeof(E); ++j) {
      r[j] = std::fma(a[j], b[j], c[j]);
    }
    return r;
  }
}

// a * b + c with one rounding.
template <typename T>
RF_VEC_INLINE Vec<T> Fma(Vec<T> a, Vec<T> b, Vec<T> c) {
  Vec<T> r;
  RF_VEC_PARTS(i) r.p[i] = FmaReg(a.p[i], b.p[i], c.p[i]);
  return r;
}

// x86 MINPS / MAXPS semantics on every target: b when either is NaN.
template <typename T>
RF_VEC_INLINE Vec<T> Min(Vec<T> a, Vec<T> b) {
  Vec<T> r;
  RF_VEC_PARTS(i) r.p[i] = a.p[i] < b.p[i] ? a.p[i] : b.p[i];
  return r;
}
template <typename T>
RF_VEC_INLINE Vec<T> Max(Vec<T> a, Vec<T> b) {
  Vec<T> r;
  RF_VEC_PARTS(i) r.p[i] = a.p[i] > b.p[i] ? a.p[i] : b.p[i];
  return r;
}

#define RF_VEC_COMPARE(name, expr)                 \
  template <typename T>                            \
  RF_VEC_INLINE Mask<T> name(Vec<T> a, Vec<T> b) { \
    Mask<T> m;                                     \
    RF_VEC_PARTS(i) m.p[i] = (expr);               \
    return m;                                      \
  }
RF_VEC_COMPARE(Lt, a.p[i] < b.p[i])
RF_VEC_COMPARE(Ge, a.p[i] >= b.p[i])
RF_VEC_COMPARE(Eq, a.p[i] == b.p[i])
RF_VEC_COMPARE(NotLe, ~(a.p[i] <= b.p[i]))  // a > b, or either is NaN
#undef RF_VEC_COMPARE

template <typename T>
RF_VEC_INLINE Mask<T> IsNan(Vec<T> a) {
  Mask<T> m;
  RF_VEC_PARTS(i) m.p[i] = a.p[i] != a.p[i];
  return m;
}

// Lanes of a where m is set, else lanes of b.
template <typename T>
RF_VEC_INLINE Vec<T> Select(Mask<T> m, Vec<T> a, Vec<T> b) {
  Vec<T> r;
  RF_VEC_PARTS(i) r.p[i] = m.p[i] ? a.p[i] : b.p[i];
  return r;
}

template <typename T>
RF_VEC_INLINE Vec<T> Abs(Vec<T> a) {
  using U = typename Lanes<T>::UPart;
  Vec<T> r;
  RF_VEC_PARTS(i)
  r.p[i] = (typename Vec<T>::Part)((U)a.p[i] & ~Lanes<T>::kSignBit);
  return r;
}

// a with its sign bit flipped where b's sign bit is set.
template <typename T>
RF_VEC_INLINE Vec<T> XorSign(Vec<T> a, Vec<T> b) {
  using U = typename Lanes<T>::UPart;
  Vec<T> r;
  RF_VEC_PARTS(i) {
    r.p[i] =
        (typename Vec<T>::Part)((U)a.p[i] ^ ((U)b.p[i] & Lanes<T>::kSignBit));
  }
  return r;
}

// 2^n for integer-valued n with a normal result (|n| below the exponent bias).
template <typename T>
RF_VEC_INLINE Vec<T> Pow2i(Vec<T> n) {
  using L = Lanes<T>;
  using U = typename L::UPart;
  // The low mantissa bits of n + shifter + bias are n + bias; shifting them
  // into the exponent field gives 2^n (for NaN: some value, never UB).
  const Vec<T> t = n + Set1<T>(L::kShifter + static_cast<T>(L::kExponentBias));
  Vec<T> r;
  RF_VEC_PARTS(i)
  r.p[i] = (typename Vec<T>::Part)((U)t.p[i] << L::kMantissaBits);
  return r;
}

// p * 2^n, rounded once, for integer-valued n with |n| up to about twice the
// exponent bias (so that it reaches overflow and total underflow).
template <typename T>
RF_VEC_INLINE Vec<T> ScaleBy2n(Vec<T> p, Vec<T> n) {
  Vec<T> r;
#if defined(__AVX512F__)
  // The maskz form: GCC 12's plain _mm512_scalef_* trips -Wmaybe-uninitialized.
  if constexpr (sizeof(T) == 4) {
    r.p[0] = (typename Vec<T>::Part)_mm512_maskz_scalef_ps(
        0xffff, (__m512)p.p[0], (__m512)n.p[0]);
  } else {
    r.p[0] = (typename Vec<T>::Part)_mm512_maskz_scalef_pd(
        0xff, (__m512d)p.p[0], (__m512d)n.p[0]);
  }
#else
  // p * 2^n1 is exact and * 2^n2 rounds once: the same result as SCALEF.
  const Vec<T> shifter = Set1<T>(Lanes<T>::kShifter);
  const Vec<T> n1 =
      (Fma(n, Set1<T>(0.5), Set1<T>(-0.25)) + shifter) - shifter;  // floor(n/2)
  r = (p * Pow2i(n1)) * Pow2i(n - n1);
#endif
  return r;
}

// Sum of the lanes, always as the same tree: lane i += lane i + h for
// h = kLanes/2, kLanes/4, ..., 1.
template <typename T>
RF_VEC_INLINE T ReduceAdd(Vec<T> v) {
  constexpr int kP = Vec<T>::kParts;
  typename Vec<T>::Part s[kP];
  RF_VEC_PARTS(i) s[i] = v.p[i];
  RF_VEC_UNROLL for (int h = kP / 2; h >= 1; h /= 2) {
    RF_VEC_UNROLL for (int i = 0; i < h; ++i) s[i] = s[i] + s[i + h];
  }
  T a[Vec<T>::kPartLanes];
  std::memcpy(a, &s[0], sizeof(a));
  RF_VEC_UNROLL for (int h = Vec<T>::kPartLanes / 2; h >= 1; h /= 2) {
    RF_VEC_UNROLL for (int i = 0; i < h; ++i) a[i] = a[i] + a[i + h];
  }
  return a[0];
}

// Largest lane (a NaN lane may or may not win).
template <typename T>
RF_VEC_INLINE T ReduceMax(Vec<T> v) {
  T a[Vec<T>::kLanes];
  Store(a, v);
  T m = a[0];
  RF_VEC_UNROLL for (int i = 1; i < Vec<T>::kLanes; ++i) m =
      a[i] > m ? a[i] : m;
  return m;
}

// Lanes [0, 8) and [8, 16) of x as doubles (exact).
RF_VEC_INLINE void Widen(Vec<float> x, Vec<double>* lo, Vec<double>* hi) {
  float f[16];
  Store(f, x);
  double d[16];
  RF_VEC_UNROLL for (int i = 0; i < 16; ++i) d[i] = f[i];
  *lo = Load(d);
  *hi = Load(d + 8);
}

// The inverse of Widen, each lane rounded to float once.
RF_VEC_INLINE Vec<float> Narrow(Vec<double> lo, Vec<double> hi) {
  double d[16];
  Store(d, lo);
  Store(d + 8, hi);
  float f[16];
  RF_VEC_UNROLL for (int i = 0; i < 16; ++i) f[i] = static_cast<float>(d[i]);
  return Load<float>(f);
}

#undef RF_VEC_PARTS

}  // namespace rowflow::ops::ROWFLOW_ISA_NS::vec

#endif  // ROWFLOW_OPS_VEC64_H_
