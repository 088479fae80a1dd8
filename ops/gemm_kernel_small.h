// The small-M kernel of PackedDense: a few rows (1 to kRows at once)
// against several packed weight panels, like a GEMV over the panel layout of
// ops/gemm_kernel_panel.h. Internal to ops/gemm_kernels.cc.
//
// The panel kernel computes kMR rows per block, so a call of 1 row (or the
// last rows of a tile, fewer than kMR) pays for kMR. Here a block holds only
// the rows there are, each weight Vec loaded once for all of them, and the
// accumulators the missing rows would have held go to more panels, so the
// fma chains stay as many as the latency needs. Rows of one block share
// every weight load: 2 rows cost about what 1 row costs (both read the
// layer's weights from L2 once), where running them one after the other
// read the weights twice.
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
#include <type_traits>
#include <utility>

#include "ops/gemm_kernel_panel.h"
#include "ops/vec64.h"

namespace rowflow::ops::ROWFLOW_ISA_NS::gemm_internal {

// Rows that one block runs together (kRows), and the panels of NV Vecs a
// block of r rows runs at once, Panels(r): r x Panels(r) x NV accumulator
// Vecs fill about 16 of 32 AVX-512 registers for one row and 24 for more
// (the r broadcasts and a weight Vec take the rest), 12 of 16 AVX2 ones.
// kMaxRows: the rows left over from the panel kernel's blocks that go here
// instead.
template <typename T, int NV>
struct SmallShape {
#if defined(__AVX512F__)
  static constexpr int kRows = 4;
  static constexpr int kPanels = NV == 2 ? 8 : 16;
  static constexpr int kBlockAccumulators = 24;  // blocks of 2+ rows
  // A block of 4 rows needs fewer loads per fma than the panel kernel's
  // (3 panels: 6 weight Vecs + 4 broadcasts for 24 fmas, against 14), but
  // reads the weights from L2 once per 4 rows: a partial last block of up
  // to 12 rows runs here (all of them with 2-Vec panels, kMR 12).
  static constexpr int kMaxRows = std::min(PanelShape<T, NV>::kMR - 1, 12);
#elif defined(__AVX2__) && defined(__FMA__)
  static constexpr int kRows = 1;
  static constexpr int kPanels = NV == 2 ? 3 : 6;
  static constexpr int kBlockAccumulators = kPanels * NV;
  static constexpr int kMaxRows = std::max(1, PanelShape<T, NV>::kMR / 3);
#else
  static constexpr int kRows = 1;
  static constexpr int kPanels = NV == 2 ? 1 : 3;
  static constexpr int kBlockAccumulators = kPanels * NV;
  static constexpr int kMaxRows = std::max(1, PanelShape<T, NV>::kMR / 3);
#endif
  static constexpr int Panels(int r) {
    return r == 1 ? kPanels : std::max(1, kBlockAccumulators / (r * NV));
  }
};

// Of `rows`, the last ones to run here rather than in the panel kernel: the
// partial last row block when it is short enough.
template <typename T, int NV>
inline int64_t SmallTailRows(int64_t rows) {
  const int64_t tail = rows % PanelShape<T, NV>::kMR;
  return tail <= SmallShape<T, NV>::kMaxRows ? tail : 0;
}

// For r < R: y[r*ldy + j] (j < the G panels' units, the last panel holding
// last_nr) = init[j] + sum_k x[r*ldx + k] * wp[g][k][j] when init is set,
// else y[r*ldy + j] + the same sum; panel g starts at wp + g * panel_stride.
template <typename T, int NV, int R, int G>
void SmallKernel(int64_t kc, const T* x, int64_t ldx, const T* wp,
                 int64_t panel_stride, const T* init, T* y, int64_t ldy,
                 int last_nr) {
  using S = PanelShape<T, NV>;
  constexpr int kL = S::kLanes, kNR = S::kNR;
  Vec<T> c[R][G][NV];
  // Valid lanes of each Vec of the last panel (the others are whole).
  int n[NV];
  RF_VEC_UNROLL for (int v = 0; v < NV; ++v) n[v] =
      std::clamp(last_nr - v * kL, 0, kL);
  RF_VEC_UNROLL for (int r = 0; r < R; ++r) {
    RF_VEC_UNROLL for (int g = 0; g < G; ++g) {
      RF_VEC_UNROLL for (int v = 0; v < NV; ++v) {
        const int64_t at = g * kNR + v * kL;
        if (init != nullptr) {
          c[r][g][v] = vec::Load(init + at);
        } else if (g + 1 < G || last_nr == kNR) {
          c[r][g][v] = vec::Load(y + r * ldy + at);
        } else {
          c[r][g][v] = vec::LoadN(y + r * ldy + at, n[v]);
        }
      }
    }
  }
  for (int64_t k = 0; k < kc; ++k) {
    Vec<T> a[R];
    RF_VEC_UNROLL for (int r = 0; r < R; ++r) a[r] = vec::Set1(x[r * ldx + k]);
    RF_VEC_UNROLL for (int g = 0; g < G; ++g) {
      RF_VEC_UNROLL for (int v = 0; v < NV; ++v) {
        const Vec<T> w = vec::Load(wp + g * panel_stride + k * kNR + v * kL);
        RF_VEC_UNROLL for (int r = 0; r < R; ++r) c[r][g][v] =
            vec::Fma(a[r], w, c[r][g][v]);
      }
    }
  }
  RF_VEC_UNROLL for (int r = 0; r < R; ++r) {
    RF_VEC_UNROLL for (int g = 0; g < G; ++g) {
      RF_VEC_UNROLL for (int v = 0; v < NV; ++v) {
        const int64_t at = g * kNR + v * kL;
        if (g + 1 < G || last_nr == kNR) {
          vec::Store(y + r * ldy + at, c[r][g][v]);
        } else {
          vec::StoreN(y + r * ldy + at, c[r][g][v], n[v]);
        }
      }
    }
  }
}

// The layout of a layer's packed weights (see Dense in gemm_kernels.cc):
// k_blocks K blocks of kc inputs (the last may be shorter), each holding
// `panels` panels of (its inputs) x kNR units.
struct PanelLayout {
  int64_t units, width, kc, k_blocks, panels;
};

// f(std::integral_constant<int, n>{}) for n in 1..N, chosen at run time.
template <int... I, typename F>
void WithCount(int n, std::integer_sequence<int, I...>, F f) {
  static_cast<void>(
      ((n == I + 1 ? (f(std::integral_constant<int, I + 1>{}), true) : false) ||
       ...));
}

// Rows [0, R) of x (ldx apart, from the K block's first input) over every
// panel of one K block of kc inputs: `block` its packed panels, `init` the
// bias in the first K block, else null.
template <typename T, int NV, int R>
void SmallBlock(const PanelLayout& l, const T* block, const T* init, int64_t kc,
                const T* x, int64_t ldx, T* y, int64_t ldy) {
  constexpr int kNR = PanelShape<T, NV>::kNR;
  constexpr int kG = SmallShape<T, NV>::Panels(R);
  for (int64_t p = 0; p < l.panels; p += kG) {
    const int g = static_cast<int>(std::min<int64_t>(kG, l.panels - p));
    const int64_t u0 = p * kNR;
    const int last_nr =
        static_cast<int>(std::min<int64_t>(kNR, l.units - (p + g - 1) * kNR));
    WithCount(g, std::make_integer_sequence<int, kG>{}, [&](auto G) {
      SmallKernel<T, NV, R, decltype(G)::value>(
          kc, x, ldx, block + p * kc * kNR, kc * kNR,
          init != nullptr ? init + u0 : nullptr, y + u0, ldy, last_nr);
    });
  }
}

// y[r*ldy + u] = bias[u] + sum_k x[r*ldx + k] * w[u][k] for r < rows, in
// blocks of up to kRows rows, before the activation.
template <typename T, int NV>
void SmallRows(const PanelLayout& l, const T* packed, const T* bias, const T* x,
               int64_t ldx, int64_t rows, T* y, int64_t ldy) {
  constexpr int kNR = PanelShape<T, NV>::kNR;
  constexpr int kRows = SmallShape<T, NV>::kRows;
  for (int64_t kb = 0; kb < l.k_blocks; ++kb) {
    const int64_t k0 = kb * l.kc, kc = std::min(l.kc, l.width - k0);
    const T* block = packed + k0 * l.panels * kNR;
    const T* init = kb == 0 ? bias : nullptr;
    for (int64_t r = 0; r < rows;) {
      // Blocks as even as kRows allows: 5 rows as 3 + 2, not 4 + 1.
      const int64_t left = rows - r, blocks = (left + kRows - 1) / kRows;
      const int n = static_cast<int>((left + blocks - 1) / blocks);
      WithCount(n, std::make_integer_sequence<int, kRows>{}, [&](auto R) {
        SmallBlock<T, NV, decltype(R)::value>(
            l, block, init, kc, x + r * ldx + k0, ldx, y + r * ldy, ldy);
      });
      r += n;
    }
  }
}

}  // namespace rowflow::ops::ROWFLOW_ISA_NS::gemm_internal

#endif  // ROWFLOW_OPS_GEMM_KERNEL_SMALL_H_
