// Internal to the tiny-layer path (ops/tiny_mlp*.cc): its vector backend.
// Simd<T> wraps one register of T lanes (AVX-512, AVX2, or a scalar of one
// lane) with the handful of operations the kernels use (activations come
// from the table's register rows, on S::P), and LoadRows /
// StoreRows move one block of Simd<T>::kLanes rows between contiguous
// row-major memory and column registers (one register per column).
//
// Every backend computes the same IEEE operations, so a row's result is the
// same whichever backend or block position computes it.
//
// Thread-safety: stateless functions.
#ifndef ROWFLOW_OPS_TINY_MLP_SIMD_H_
#define ROWFLOW_OPS_TINY_MLP_SIMD_H_

#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "ops/vec64.h"

// Kernel entry points are __attribute__((flatten)), so the helpers below and
// the lambdas they unroll all inline into one loop body.
#define RF_TINY_INLINE inline __attribute__((always_inline))
#define RF_TINY_LAMBDA __attribute__((always_inline))

namespace rowflow::ops::ROWFLOW_ISA_NS::tiny {

template <typename F, int... I>
RF_TINY_INLINE void UnrollSeq(F& f, std::integer_sequence<int, I...>) {
  (f(std::integral_constant<int, I>{}), ...);
}

// Calls f(std::integral_constant<int, I>) for I in [0, N), fully unrolled.
template <int N, typename F>
RF_TINY_INLINE void Unroll(F&& f) {
  UnrollSeq(f, std::make_integer_sequence<int, N>{});
}

#if defined(__AVX512F__)

template <typename T>
struct Simd;

template <>
struct Simd<float> {
  using V = __m512;
  // V as a plain GCC vector, the type the activation table's register
  // rows are instantiated on (the same as vec::Vec<T>'s parts).
  using P = vec::Lanes<float>::Part;
  using Index = int32_t;
  static constexpr int kLanes = 16;
  static constexpr bool kHasPermute = true;
  static constexpr bool kHasPairs = false;
  static V Set1(float a) { return _mm512_set1_ps(a); }
  static V Load(const float* p) { return _mm512_loadu_ps(p); }
  static void Store(float* p, V v) { _mm512_storeu_ps(p, v); }
  // A non-temporal store to a sizeof(V)-aligned p (see StreamFence).
  static constexpr bool kHasStream = true;
  static void Stream(float* p, V v) { _mm512_stream_ps(p, v); }
  static V Fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V Add(V a, V b) { return _mm512_add_ps(a, b); }
  // Lane i of the result: lane idx[i] of the 2*kLanes lanes (a, b).
  static V Permute2(V a, const Index* idx, V b) {
    return _mm512_permutex2var_ps(a, _mm512_loadu_si512(idx), b);
  }
  // Lanes of b where mask is set, else lanes of a.
  static V Blend(V a, uint32_t mask, V b) {
    return _mm512_mask_mov_ps(a, static_cast<__mmask16>(mask), b);
  }
  // Element offsets lane * ld, for the strided Gather and Scatter.
  static constexpr bool kHasGather = true;
  using Offsets = __m512i;
  static Offsets Strided(int32_t ld) {
    return _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32(ld));
  }
  static V Gather(const float* p, Offsets off) {
    return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), 0xFFFF, off, p, 4);
  }
  static void Scatter(float* p, Offsets off, V v) {
    _mm512_i32scatter_ps(p, off, v, 4);
  }
};

template <>
struct Simd<double> {
  using V = __m512d;
  using P = vec::Lanes<double>::Part;
  using Index = int64_t;
  static constexpr int kLanes = 8;
  static constexpr bool kHasPermute = true;
  static constexpr bool kHasPairs = false;
  static V Set1(double a) { return _mm512_set1_pd(a); }
  static V Load(const double* p) { return _mm512_loadu_pd(p); }
  static void Store(double* p, V v) { _mm512_storeu_pd(p, v); }
  static constexpr bool kHasStream = true;
  static void Stream(double* p, V v) { _mm512_stream_pd(p, v); }
  static V Fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static V Add(V a, V b) { return _mm512_add_pd(a, b); }
  static V Permute2(V a, const Index* idx, V b) {
    return _mm512_permutex2var_pd(a, _mm512_loadu_si512(idx), b);
  }
  static V Blend(V a, uint32_t mask, V b) {
    return _mm512_mask_mov_pd(a, static_cast<__mmask8>(mask), b);
  }
  static constexpr bool kHasGather = true;
  using Offsets = __m256i;
  static Offsets Strided(int32_t ld) {
    return _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                              _mm256_set1_epi32(ld));
  }
  static V Gather(const double* p, Offsets off) {
    return _mm512_mask_i32gather_pd(_mm512_setzero_pd(), 0xFF, off, p, 8);
  }
  static void Scatter(double* p, Offsets off, V v) {
    _mm512_i32scatter_pd(p, off, v, 8);
  }
};

#elif defined(__AVX2__) && defined(__FMA__)

template <typename T>
struct Simd;

template <>
struct Simd<float> {
  using V = __m256;
  using P = vec::Lanes<float>::Part;
  using Index = int32_t;
  static constexpr int kLanes = 8;
  static constexpr bool kHasPermute = false;
  static constexpr bool kHasGather = false;
  static V Set1(float a) { return _mm256_set1_ps(a); }
  static V Load(const float* p) { return _mm256_loadu_ps(p); }
  static void Store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static constexpr bool kHasStream = true;
  static void Stream(float* p, V v) { _mm256_stream_ps(p, v); }
  static V Fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V Add(V a, V b) { return _mm256_add_ps(a, b); }
  // Rows of two columns, rows 0-3 in a and 4-7 in b, to column registers
  // c0, c1; Interleave is the inverse.
  static constexpr bool kHasPairs = true;
  static void Deinterleave(V a, V b, V* c0, V* c1) {
    // Rows 0 1 4 5 | 2 3 6 7, then the middle 64-bit quarters swapped.
    *c0 = Quarters(_mm256_shuffle_ps(a, b, 0x88));
    *c1 = Quarters(_mm256_shuffle_ps(a, b, 0xdd));
  }
  static void Interleave(V c0, V c1, V* a, V* b) {
    const V p0 = Quarters(c0), p1 = Quarters(c1);
    *a = _mm256_unpacklo_ps(p0, p1);
    *b = _mm256_unpackhi_ps(p0, p1);
  }
  static V Quarters(V v) {
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), 0xd8));
  }
};

template <>
struct Simd<double> {
  using V = __m256d;
  using P = vec::Lanes<double>::Part;
  using Index = int64_t;
  static constexpr int kLanes = 4;
  static constexpr bool kHasPermute = false;
  static constexpr bool kHasGather = false;
  static V Set1(double a) { return _mm256_set1_pd(a); }
  static V Load(const double* p) { return _mm256_loadu_pd(p); }
  static void Store(double* p, V v) { _mm256_storeu_pd(p, v); }
  static constexpr bool kHasStream = true;
  static void Stream(double* p, V v) { _mm256_stream_pd(p, v); }
  static V Fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static V Add(V a, V b) { return _mm256_add_pd(a, b); }
  // Rows of two columns, rows 0-1 in a and 2-3 in b, to column registers.
  static constexpr bool kHasPairs = true;
  static void Deinterleave(V a, V b, V* c0, V* c1) {
    // Rows 0 2 | 1 3, then the middle quarters swapped.
    *c0 = _mm256_permute4x64_pd(_mm256_unpacklo_pd(a, b), 0xd8);
    *c1 = _mm256_permute4x64_pd(_mm256_unpackhi_pd(a, b), 0xd8);
  }
  static void Interleave(V c0, V c1, V* a, V* b) {
    const V p0 = _mm256_permute4x64_pd(c0, 0xd8);
    const V p1 = _mm256_permute4x64_pd(c1, 0xd8);
    *a = _mm256_unpacklo_pd(p0, p1);
    *b = _mm256_unpackhi_pd(p0, p1);
  }
};

#else

// One lane: the same operations on plain scalars (std::fma keeps the single
// rounding of the vector backends).
template <typename T>
struct Simd {
  using V = T;
  using P = T;
  using Index = int64_t;
  static constexpr int kLanes = 1;
  static constexpr bool kHasPermute = false;
  static constexpr bool kHasPairs = false;
  static constexpr bool kHasGather = false;
  static V Set1(T a) { return a; }
  static V Load(const T* p) { return *p; }
  static void Store(T* p, V v) { *p = v; }
  static constexpr bool kHasStream = false;
  static void Stream(T* p, V v) { *p = v; }
  static V Fma(V a, V b, V c) { return std::fma(a, b, c); }
  static V Add(V a, V b) { return a + b; }
};

#endif

// Permutation tables that turn a block of L rows of W columns, loaded as W
// consecutive registers, into W column registers (and back for stores).
// Sources are taken in pairs of registers, the reach of one two-source
// permute; `mask[k][p]` marks the lanes of register k that come from pair p.
template <typename Index, int L, int W>
struct BlockTables {
  static constexpr int kPairs = (W + 1) / 2;
  Index load_idx[W][L] = {};
  uint32_t load_mask[W][kPairs] = {};
  Index store_idx[W][L] = {};
  uint32_t store_mask[W][kPairs] = {};
  constexpr BlockTables() {
    for (int k = 0; k < W; ++k) {
      for (int lane = 0; lane < L; ++lane) {
        const int flat_in = lane * W + k;  // column k of row `lane`
        load_idx[k][lane] = static_cast<Index>(flat_in % (2 * L));
        load_mask[k][flat_in / (2 * L)] |= 1u << lane;
        // Lane `lane` of output register k is row flat_out / W, column col.
        const int flat_out = k * L + lane;
        const int col = flat_out % W;
        store_idx[k][lane] = static_cast<Index>(flat_out / W + (col % 2) * L);
        store_mask[k][col / 2] |= 1u << lane;
      }
    }
  }
};

template <typename S, int W>
inline constexpr BlockTables<typename S::Index, S::kLanes, W> kTables{};

// Loads kLanes rows of W contiguous columns (x[row * W + col]) into the
// column registers v[0..W).
template <typename S, int W, typename T>
RF_TINY_INLINE void LoadRows(const T* x, typename S::V* v) {
  constexpr int L = S::kLanes;
  if constexpr (W == 1) {
    v[0] = S::Load(x);
  } else if constexpr (S::kHasPermute) {
    constexpr auto& t = kTables<S, W>;
    typename S::V src[W];
    Unroll<W>([&](auto s) RF_TINY_LAMBDA { src[s] = S::Load(x + s * L); });
    Unroll<W>([&](auto k) RF_TINY_LAMBDA {
      // Pair 0 feeds lanes of every register; blend in the other pairs.
      v[k] = S::Permute2(src[0], t.load_idx[k], src[1]);
      Unroll<t.kPairs - 1>([&](auto q) RF_TINY_LAMBDA {
        constexpr int p = q + 1;
        if constexpr (t.load_mask[k][p] != 0) {
          constexpr int hi = 2 * p + 1 < W ? 2 * p + 1 : 2 * p;
          v[k] = S::Blend(v[k], t.load_mask[k][p],
                          S::Permute2(src[2 * p], t.load_idx[k], src[hi]));
        }
      });
    });
  } else if constexpr (W == 2 && S::kHasPairs) {
    S::Deinterleave(S::Load(x), S::Load(x + L), &v[0], &v[1]);
  } else {
    alignas(64) T cols[W][L];
    for (int r = 0; r < L; ++r) {
      Unroll<W>([&](auto k) RF_TINY_LAMBDA { cols[k][r] = x[r * W + k]; });
    }
    Unroll<W>([&](auto k) RF_TINY_LAMBDA { v[k] = S::Load(cols[k]); });
  }
}

// True if StoreRows can write U columns with whole-register stores, so
// with non-temporal ones (kStream).
template <typename S, int U>
inline constexpr bool kCanStream = S::kHasStream && (U == 1 || S::kHasPermute ||
                                                     (U == 2 && S::kHasPairs));

// One register to p, non-temporal if kStream (p then sizeof(V)-aligned).
template <typename S, bool kStream, typename T>
RF_TINY_INLINE void Put(T* p, typename S::V v) {
  if constexpr (kStream) {
    S::Stream(p, v);
  } else {
    S::Store(p, v);
  }
}

// Orders earlier non-temporal stores before later stores, so that another
// thread that synchronizes with this one afterwards sees them.
template <typename S>
RF_TINY_INLINE void StreamFence() {
  if constexpr (S::kHasStream) _mm_sfence();
}

// Stores the column registers v[0..U) as kLanes rows of U contiguous
// columns (y[row * U + col]); with kStream (kCanStream<S, U> only), as
// non-temporal stores to a sizeof(V)-aligned y.
template <typename S, int U, bool kStream = false, typename T>
RF_TINY_INLINE void StoreRows(const typename S::V* v, T* y) {
  constexpr int L = S::kLanes;
  static_assert(!kStream || kCanStream<S, U>);
  if constexpr (U == 1) {
    Put<S, kStream>(y, v[0]);
  } else if constexpr (S::kHasPermute) {
    constexpr auto& t = kTables<S, U>;
    Unroll<U>([&](auto s) RF_TINY_LAMBDA {
      typename S::V out = S::Permute2(v[0], t.store_idx[s], v[1]);
      Unroll<t.kPairs - 1>([&](auto q) RF_TINY_LAMBDA {
        constexpr int p = q + 1;
        if constexpr (t.store_mask[s][p] != 0) {
          constexpr int hi = 2 * p + 1 < U ? 2 * p + 1 : 2 * p;
          out = S::Blend(out, t.store_mask[s][p],
                         S::Permute2(v[2 * p], t.store_idx[s], v[hi]));
        }
      });
      Put<S, kStream>(y + s * L, out);
    });
  } else if constexpr (U == 2 && S::kHasPairs) {
    typename S::V a, b;
    S::Interleave(v[0], v[1], &a, &b);
    Put<S, kStream>(y, a);
    Put<S, kStream>(y + L, b);
  } else {
    alignas(64) T cols[U][L];
    Unroll<U>([&](auto k) RF_TINY_LAMBDA { S::Store(cols[k], v[k]); });
    for (int r = 0; r < L; ++r) {
      Unroll<U>([&](auto k) RF_TINY_LAMBDA { y[r * U + k] = cols[k][r]; });
    }
  }
}

// Copies n rows of `cols` columns from row stride lds to row stride ldd,
// then zero-fills rows [n, pad_to) of the destination. Out of line: only
// partial or strided blocks take it, and one copy serves every kernel.
template <typename T>
__attribute__((noinline)) void CopyRows(const T* src, int64_t lds, int64_t n,
                                        int64_t cols, T* dst, int64_t ldd,
                                        int64_t pad_to) {
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t k = 0; k < cols; ++k) dst[r * ldd + k] = src[r * lds + k];
  }
  for (int64_t r = n; r < pad_to; ++r) {
    for (int64_t k = 0; k < cols; ++k) dst[r * ldd + k] = T(0);
  }
}

}  // namespace rowflow::ops::ROWFLOW_ISA_NS::tiny

#endif  // ROWFLOW_OPS_TINY_MLP_SIMD_H_
