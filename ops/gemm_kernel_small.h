// The small-M kernel of PackedDense: a few rows, one at a time, against
// several packed weight panels at once, like a GEMV over the panel layout of
// ops/gemm_kernel_panel.h. Internal to ops/gemm_kernels.cc.
//
// The panel kernel computes kMR rows per block, so a call of 1 row (or the
// last rows of a tile, fewer than kMR) pays for kMR. Here each row is its
// own block, and the accumulators that the missing rows would have held go
// to more panels, so the fma chains stay as many as the latency needs.
//
// Every output is the same fma chain as in the panel kernel: started from
// the bias in the first K block, carried between K blocks in y, and over k
// in increasing order within a block; the bits are those of the panel path
// for each row, on every kernel set.
//
// Thread-safety: stateless functions.
#ifndef ROWFLOW_OPS_GEMM_KERNEL_SMALL_H_
#define ROWFLOW_OPS_GEMM_KERNEL_SMALL_H_

#include <algorithm>
#include <cstdint>
#include <utility>

#include "ops/gemm_kernel_panel.h"
#include "ops/vec64.h"

namespace rowflow::ops::ROWFLOW_ISA_NS::gemm_internal {

// Panels of NV Vecs that one row runs at once (kPanels x NV accumulator
// Vecs fill about 12 of 16 AVX2 registers or 16 of 32 AVX-512 ones), and the
// rows left over from the panel kernel's blocks that go here instead.
template <typename T, int NV>
struct SmallShape {
#if defined(__AVX512F__)
  static constexpr int kPanels = NV == 2 ? 8 : 16;
#elif defined(__AVX2__) && defined(__FMA__)
  static constexpr int kPanels = NV == 2 ? 3 : 6;
#else
  static constexpr int kPanels = NV == 2 ? 1 : 3;
#endif
  static constexpr int kMaxRows = std::max(1, PanelShape<T, NV>::kMR / 3);
};

// Of `rows`, the last ones to run here rather than in the panel kernel: the
// partial last row block when it is short enough.
template <typename T, int NV>
inline int64_t SmallTailRows(int64_t rows) {
  const int64_t tail = rows % PanelShape<T, NV>::kMR;
  return tail <= SmallShape<T, NV>::kMaxRows ? tail : 0;
}

// y[j] (j < the G panels' units, the last panel holding last_nr) = init[j] +
// sum_k x[k] * wp[g][k][j] when init is set, else y[j] + the same sum;
// panel g starts at wp + g * panel_stride.
template <typename T, int NV, int G>
void SmallKernel(int64_t kc, const T* x, const T* wp, int64_t panel_stride,
                 const T* init, T* y, int last_nr) {
  using S = PanelShape<T, NV>;
  constexpr int kL = S::kLanes, kNR = S::kNR;
  Vec<T> c[G][NV];
  // Valid lanes of each Vec of the last panel (the others are whole).
  int n[NV];
  RF_VEC_UNROLL for (int v = 0; v < NV; ++v) n[v] =
      std::clamp(last_nr - v * kL, 0, kL);
  RF_VEC_UNROLL for (int g = 0; g < G; ++g) {
    RF_VEC_UNROLL for (int v = 0; v < NV; ++v) {
      const int64_t at = g * kNR + v * kL;
      if (init != nullptr) {
        c[g][v] = vec::Load(init + at);
      } else if (g + 1 < G || last_nr == kNR) {
        c[g][v] = vec::Load(y + at);
      } else {
        c[g][v] = vec::LoadN(y + at, n[v]);
      }
    }
  }
  for (int64_t k = 0; k < kc; ++k) {
    const Vec<T> a = vec::Set1(x[k]);
    RF_VEC_UNROLL for (int g = 0; g < G; ++g) {
      RF_VEC_UNROLL for (int v = 0; v < NV; ++v) c[g][v] = vec::Fma(
          a, vec::Load(wp + g * panel_stride + k * kNR + v * kL), c[g][v]);
    }
  }
  RF_VEC_UNROLL for (int g = 0; g < G; ++g) {
    RF_VEC_UNROLL for (int v = 0; v < NV; ++v) {
      const int64_t at = g * kNR + v * kL;
      if (g + 1 < G || last_nr == kNR) {
        vec::Store(y + at, c[g][v]);
      } else {
        vec::StoreN(y + at, c[g][v], n[v]);
      }
    }
  }
}

// SmallKernel with G = g (1..kPanels), chosen at run time.
template <typename T, int NV, int... G>
void SmallKernelOf(int g, std::integer_sequence<int, G...>, int64_t kc,
                   const T* x, const T* wp, int64_t panel_stride, const T* init,
                   T* y, int last_nr) {
  static_cast<void>(
      ((g == G + 1 ? (SmallKernel<T, NV, G + 1>(kc, x, wp, panel_stride, init,
                                                y, last_nr),
                      true)
                   : false) ||
       ...));
}

// The layout of a layer's packed weights (see Dense in gemm_kernels.cc):
// k_blocks K blocks of kc inputs (the last may be shorter), each holding
// `panels` panels of (its inputs) x kNR units.
struct PanelLayout {
  int64_t units, width, kc, k_blocks, panels;
};

// y[r*ldy + u] = bias[u] + sum_k x[r*ldx + k] * w[u][k] for r < rows, each
// row on its own, before the activation.
template <typename T, int NV>
void SmallRows(const PanelLayout& l, const T* packed, const T* bias, const T* x,
               int64_t ldx, int64_t rows, T* y, int64_t ldy) {
  constexpr int kNR = PanelShape<T, NV>::kNR;
  constexpr int kG = SmallShape<T, NV>::kPanels;
  const int64_t units_pad = l.panels * kNR;
  for (int64_t kb = 0; kb < l.k_blocks; ++kb) {
    const int64_t k0 = kb * l.kc, kc = std::min(l.kc, l.width - k0);
    const T* block = packed + k0 * units_pad;
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t p = 0; p < l.panels; p += kG) {
        const int g = static_cast<int>(std::min<int64_t>(kG, l.panels - p));
        const int64_t u0 = p * kNR;
        const int last_nr = static_cast<int>(
            std::min<int64_t>(kNR, l.units - (p + g - 1) * kNR));
        SmallKernelOf<T, NV>(g, std::make_integer_sequence<int, kG>{}, kc,
                             x + r * ldx + k0, block + p * kc * kNR, kc * kNR,
                             kb == 0 ? bias + u0 : nullptr, y + r * ldy + u0,
                             last_nr);
      }
    }
  }
}

}  // namespace rowflow::ops::ROWFLOW_ISA_NS::gemm_internal

#endif  // ROWFLOW_OPS_GEMM_KERNEL_SMALL_H_
