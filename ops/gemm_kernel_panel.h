// The register-blocked micro-kernel of PackedDense: a block of kMR rows x
// kNR units of y (kNR = one or two Vecs), accumulated over one K block from
// packed x rows and one packed weight panel. Internal to ops/gemm.cc.
//
// Every output is one fma chain over k in increasing order, started from the
// bias and carried between K blocks in y itself, so neither the block shape
// nor the position of a row changes a single bit of it. Rows past the end of
// the tile are computed on zero padding and never stored; units past the end
// are masked on load and store.
//
// Thread-safety: stateless functions.
#ifndef ROWFLOW_OPS_GEMM_KERNEL_PANEL_H_
#define ROWFLOW_OPS_GEMM_KERNEL_PANEL_H_

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "ops/vec64.h"

namespace rowflow::ops::ROWFLOW_ISA_NS::gemm_internal {

using vec::Vec;

// Block sizes of the panel kernel with panels of NV Vecs (1 or 2) of units
// on this target: kMR * NV accumulator Vecs, NV weight Vecs and a broadcast
// fit the register file.
template <typename T, int NV>
struct PanelShape {
  static constexpr int kLanes = Vec<T>::kLanes;
  static constexpr int kNR = NV * kLanes;
#if defined(__AVX512F__)
  static constexpr int kMR = NV == 2 ? 12 : 28;
#elif defined(__AVX2__) && defined(__FMA__)
  static constexpr int kMR = NV == 2 ? 2 : 5;
#else
  static constexpr int kMR = NV == 2 ? 1 : 3;
#endif
  // K block: the packed x block (kMR x kKcMax) stays in L1 next to the
  // streaming weight panel.
  static constexpr int kKcMax = (NV == 2 ? 1024 : 512) / sizeof(T);
  static constexpr int kXStride = kKcMax + 64 / sizeof(T);  // skews cache sets
  // Weights of one K block x one unit block stay in L2 across row blocks.
  static constexpr int64_t kL2Bytes = 1 << 20;
  // Rows computed together before a softmax epilogue runs over them.
  static constexpr int kMC = 96;
};

// Copies rows [0, mr) of x (kc columns each) into xp with row stride
// kXStride, and zeros the rows [mr, kMR).
template <typename T, int NV>
inline void PackRows(const T* x, int64_t ldx, int mr, int64_t kc, T* xp) {
  using S = PanelShape<T, NV>;
  for (int r = 0; r < mr; ++r)
    std::memcpy(xp + r * S::kXStride, x + r * ldx, sizeof(T) * kc);
  for (int r = mr; r < S::kMR; ++r)
    std::memset(xp + r * S::kXStride, 0, sizeof(T) * kc);
}

// y[r][j] (r < mr, j < nr) = init[j] + sum_k xp[r][k] * wp[k][j] when init
// is set (first K block), else y[r][j] + the same sum.
template <typename T, int NV>
void PanelKernel(int64_t kc, const T* xp, const T* wp, const T* init, T* y,
                 int64_t ldy, int mr, int nr) {
  using S = PanelShape<T, NV>;
  constexpr int kMR = S::kMR, kL = S::kLanes;
  Vec<T> c[kMR][NV];
  int n[NV];  // valid lanes of each Vec of the panel
  RF_VEC_UNROLL for (int v = 0; v < NV; ++v) n[v] =
      std::clamp(nr - v * kL, 0, kL);
  if (init != nullptr) {
    RF_VEC_UNROLL for (int v = 0; v < NV; ++v) {
      const Vec<T> b = vec::Load(init + v * kL);
      RF_VEC_UNROLL for (int r = 0; r < kMR; ++r) c[r][v] = b;
    }
  } else {
    RF_VEC_UNROLL for (int r = 0; r < kMR; ++r) {
      RF_VEC_UNROLL for (int v = 0; v < NV; ++v) {
        c[r][v] =
            r < mr ? vec::LoadN(y + r * ldy + v * kL, n[v]) : vec::Set1(T{0});
      }
    }
  }
  for (int64_t k = 0; k < kc; ++k) {
    Vec<T> w[NV];
    RF_VEC_UNROLL for (int v = 0; v < NV; ++v) w[v] =
        vec::Load(wp + k * S::kNR + v * kL);
    RF_VEC_UNROLL for (int r = 0; r < kMR; ++r) {
      const Vec<T> a = vec::Set1(xp[r * S::kXStride + k]);
      RF_VEC_UNROLL for (int v = 0; v < NV; ++v) c[r][v] =
          vec::Fma(a, w[v], c[r][v]);
    }
  }
  RF_VEC_UNROLL for (int r = 0; r < kMR; ++r) {
    if (r >= mr) break;
    RF_VEC_UNROLL for (int v = 0; v < NV; ++v) {
      if (nr == S::kNR) {
        vec::Store(y + r * ldy + v * kL, c[r][v]);
      } else {
        vec::StoreN(y + r * ldy + v * kL, c[r][v], n[v]);
      }
    }
  }
}

}  // namespace rowflow::ops::ROWFLOW_ISA_NS::gemm_internal

#endif  // ROWFLOW_OPS_GEMM_KERNEL_PANEL_H_
