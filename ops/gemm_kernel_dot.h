// The dot-product kernel of PackedDense for narrow layers (a few units): a
// block of R rows x U units, each output the dot product of an x row with a
// packed weight row, vectorized along the width. Internal to ops/gemm.cc.
//
// Lane j of an output's accumulator sums the products at k = j, j + L,
// j + 2L, ... in order (L = Vec<T>::kLanes); the lanes are then added in
// vec::ReduceAdd's fixed tree and the bias last. That order depends only on
// the width, so block shape and row position never change the result. On
// AVX-512 the accumulators are reduced L at a time by a transposing
// butterfly that performs exactly those additions.
//
// Thread-safety: stateless functions.
#ifndef ROWFLOW_OPS_GEMM_KERNEL_DOT_H_
#define ROWFLOW_OPS_GEMM_KERNEL_DOT_H_

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "ops/vec64.h"

namespace rowflow::ops::ROWFLOW_ISA_NS::gemm_internal {

// Accumulators per block (R * U) on this target.
template <typename T>
constexpr int DotAccumulators() {
#if defined(__AVX512F__)
  return 16;
#else
  return 4;
#endif
}

#if defined(__AVX512F__)
// The lane sums of a[0, 16), in order, with ReduceAdd's tree of additions
// (lane i + lane i+8, then i+4, i+2, i+1; low operand first).
RF_VEC_INLINE vec::Vec<float> ReduceAdd16(const vec::Vec<float>* a) {
  vec::Vec<float>::Part t[8], s[4], q[2];
  for (int j = 0; j < 8; ++j) {  // t[j] = [a[2j] halves added | a[2j+1] ...]
    const auto x = a[2 * j].p[0], y = a[2 * j + 1].p[0];
    t[j] = __builtin_shufflevector(x, y, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19,
                                   20, 21, 22, 23) +
           __builtin_shufflevector(x, y, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25,
                                   26, 27, 28, 29, 30, 31);
  }
  for (int j = 0; j < 4; ++j) {  // 128-bit lane l of s[j]: a[4j + l]
    const auto x = t[2 * j], y = t[2 * j + 1];
    s[j] = __builtin_shufflevector(x, y, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18,
                                   19, 24, 25, 26, 27) +
           __builtin_shufflevector(x, y, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22,
                                   23, 28, 29, 30, 31);
  }
  for (int j = 0; j < 2;
       ++j) {  // 128-bit lane l of q[j]: a[8j + l], a[8j + 4 + l]
    const auto x = s[2 * j], y = s[2 * j + 1];
    q[j] = __builtin_shufflevector(x, y, 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24,
                                   25, 12, 13, 28, 29) +
           __builtin_shufflevector(x, y, 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26,
                                   27, 14, 15, 30, 31);
  }
  vec::Vec<float> r;  // the last step also puts the sums in order
  r.p[0] = __builtin_shufflevector(q[0], q[1], 0, 4, 8, 12, 2, 6, 10, 14, 16,
                                   20, 24, 28, 18, 22, 26, 30) +
           __builtin_shufflevector(q[0], q[1], 1, 5, 9, 13, 3, 7, 11, 15, 17,
                                   21, 25, 29, 19, 23, 27, 31);
  return r;
}

// The lane sums of a[0, 8), in order, with ReduceAdd's tree of additions.
RF_VEC_INLINE vec::Vec<double> ReduceAdd8(const vec::Vec<double>* a) {
  vec::Vec<double>::Part t[4], s[2];
  for (int j = 0; j < 4; ++j) {  // lane i + lane i+4
    const auto x = a[2 * j].p[0], y = a[2 * j + 1].p[0];
    t[j] = __builtin_shufflevector(x, y, 0, 1, 2, 3, 8, 9, 10, 11) +
           __builtin_shufflevector(x, y, 4, 5, 6, 7, 12, 13, 14, 15);
  }
  for (int j = 0; j < 2; ++j) {  // i + i+2
    const auto x = t[2 * j], y = t[2 * j + 1];
    s[j] = __builtin_shufflevector(x, y, 0, 1, 4, 5, 8, 9, 12, 13) +
           __builtin_shufflevector(x, y, 2, 3, 6, 7, 10, 11, 14, 15);
  }
  vec::Vec<double> r;  // i + i+1, in order
  r.p[0] = __builtin_shufflevector(s[0], s[1], 0, 2, 4, 6, 8, 10, 12, 14) +
           __builtin_shufflevector(s[0], s[1], 1, 3, 5, 7, 9, 11, 13, 15);
  return r;
}
#endif

// sums[i] = vec::ReduceAdd(acc[i]) + bias[i] for i < N.
template <typename T, int N>
RF_VEC_INLINE void ReduceAll(const vec::Vec<T>* acc, const T* bias, T* sums) {
#if defined(__AVX512F__)
  constexpr int kL = vec::Vec<T>::kLanes;
  if constexpr (N % kL == 0) {
    for (int i = 0; i < N; i += kL) {
      if constexpr (sizeof(T) == 4) {
        vec::Store(sums + i, ReduceAdd16(acc + i) + vec::Load(bias + i));
      } else {
        vec::Store(sums + i, ReduceAdd8(acc + i) + vec::Load(bias + i));
      }
    }
    return;
  }
#endif
  for (int i = 0; i < N; ++i) sums[i] = vec::ReduceAdd(acc[i]) + bias[i];
}

// Units of a dot-kernel layer at most; the K block of one kernel call, and
// the row stride of the packed x block (skewed so that rows do not share
// cache sets): a block of x rows and all weight rows over kDotKc inputs
// stay in L1.
inline constexpr int kDotMaxUnits = 16;
template <typename T>
inline constexpr int64_t kDotKc = 1024 / sizeof(T);
template <typename T>
inline constexpr int64_t kDotXStride = kDotKc<T> + 64 / sizeof(T);

// Continues the dot products of the packed x rows xp[r * kDotXStride + k]
// (r < R) with the weight rows w[u * ldw + k] (u < U) over `chunks` Vecs of
// inputs; both are zero-padded to whole Vecs. acc[r * kDotMaxUnits + u]
// carries an output's lanes between K blocks: zero when `first`, kept when
// `bias` is null; otherwise this is the last block and y[r*ldy + u] = the
// lanes' sum + bias[r*U + u] for r < rows (bias holds the block's biases
// tiled R times).
template <typename T, int R, int U>
void DotKernel(const T* xp, const T* w, int64_t ldw, int64_t chunks,
               vec::Vec<T>* acc, bool first, const T* bias, T* y, int64_t ldy,
               int rows) {
  constexpr int kL = vec::Vec<T>::kLanes;
  constexpr int64_t kXs = kDotXStride<T>;
  vec::Vec<T> a[R * U];
  RF_VEC_UNROLL for (int r = 0; r < R; ++r) {
    RF_VEC_UNROLL for (int u = 0; u < U; ++u) {
      a[r * U + u] = first ? vec::Set1(T{-0.0}) : acc[r * kDotMaxUnits + u];
    }
  }
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t k = c * kL;
    vec::Vec<T> xv[R];
    RF_VEC_UNROLL for (int r = 0; r < R; ++r) xv[r] =
        vec::LoadReused(xp + r * kXs + k);
    RF_VEC_UNROLL for (int u = 0; u < U; ++u) {
      const vec::Vec<T> wv = vec::LoadReused(w + u * ldw + k);
      RF_VEC_UNROLL for (int r = 0; r < R; ++r) a[r * U + u] =
          vec::Fma(xv[r], wv, a[r * U + u]);
    }
  }
  if (bias == nullptr) {
    RF_VEC_UNROLL for (int r = 0; r < R; ++r) {
      RF_VEC_UNROLL for (int u = 0; u < U; ++u) acc[r * kDotMaxUnits + u] =
          a[r * U + u];
    }
    return;
  }
  T sums[R * U];
  ReduceAll<T, R * U>(a, bias, sums);
  for (int r = 0; r < rows; ++r)
    std::memcpy(y + r * ldy, sums + r * U, sizeof(T) * U);
}

}  // namespace rowflow::ops::ROWFLOW_ISA_NS::gemm_internal

#endif  // ROWFLOW_OPS_GEMM_KERNEL_DOT_H_
