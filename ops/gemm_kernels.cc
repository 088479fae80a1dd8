// PackedDense's kernels (ops/gemm.h), one copy per kernel set (ops/isa.h).
#include <algorithm>
#include <memory>
#include <vector>

#include "graph/error.h"
#include "ops/activation.h"
#include "ops/gemm.h"
#include "ops/gemm_kernel_dot.h"
#include "ops/gemm_kernel_panel.h"
#include "ops/gemm_kernel_small.h"
#include "ops/isa_table.h"

namespace rowflow::ops::ROWFLOW_ISA_NS {
namespace {

// PackedDense's layer, packed for this copy's vector width.
template <typename T>
class Dense final : public gemm_internal::DenseKernel<T> {
 public:
  Dense(const T* w, int64_t units, int64_t width, const T* bias,
        ir::Activation act, const ActivationParams& params);
  void Forward(const T* x, int64_t ldx, int64_t rows, T* y,
               int64_t ldy) const override;

 private:
  // Full row blocks in the panel kernel, a short last one in the small-M
  // kernel (ops/gemm_kernel_small.h).
  template <int NV>
  void ForwardRows(const T* x, int64_t ldx, int64_t rows, T* y,
                   int64_t ldy) const;
  template <int NV>
  void ForwardPanels(const T* x, int64_t ldx, int64_t rows, T* y,
                     int64_t ldy) const;
  void ForwardDot(const T* x, int64_t ldx, int64_t rows, T* y,
                  int64_t ldy) const;
  // Activation of rows [0, n) of the columns [u0, u1) of y, once they are
  // final.
  void Epilogue(T* y, int64_t ldy, int64_t n, int64_t u0, int64_t u1) const;

  int64_t units_;
  int64_t width_;
  ir::Activation act_;
  ActivationParams params_;
  bool last_axis_;    // act_ runs over each row's units
  int panel_vecs_;    // units per panel in Vecs (1 or 2); 0: dot-product kernel
  int64_t kc_;        // panels: K block size (the last block may be shorter)
  int64_t k_blocks_;  // panels: number of K blocks
  int64_t panels_;    // panels: number of unit panels
  int64_t block_panels_;  // panels: unit panels per cache block
  int64_t ldw_;           // dot: padded width of a packed weight row
  std::vector<T, gemm_internal::AlignedAllocator<T>> packed_;
  // Padded; -0 where there is no bias (the empty sum).
  std::vector<T, gemm_internal::AlignedAllocator<T>> bias_;
};

using gemm_internal::PanelShape;

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Units in the next dot-kernel block when `left` units remain.
int DotBlockUnits(int64_t left) {
  return left % 4 == 0 ? 4 : left >= 2 ? 2 : 1;
}

// Fraction of the panel lanes that hold real units.
double PanelUse(int64_t units, int64_t nr) {
  if (units == 0) return 1;
  return static_cast<double>(units) /
         static_cast<double>(CeilDiv(units, nr) * nr);
}

template <typename T>
Dense<T>::Dense(const T* w, int64_t units, int64_t width, const T* bias,
                ir::Activation act, const ActivationParams& params)
    : units_(units),
      width_(width),
      act_(act),
      params_(params),
      last_axis_(IsLastAxis(act)) {
  RF_CHECK(units >= 0 && width >= 0);
  constexpr int kL = vec::Vec<T>::kLanes;
  kc_ = k_blocks_ = panels_ = block_panels_ = ldw_ = 0;
  // Panels of two Vecs need fewer loads per fma, one-Vec panels waste less
  // lanes on padding, and dot products (somewhat slower per fma) waste none:
  // the choice by the fraction of useful lanes, as measured on AVX-512.
  const double use2 = PanelUse(units, 2 * kL), use1 = PanelUse(units, kL);
  panel_vecs_ = use2 >= 0.85 * use1 ? 2 : 1;
  if (units <= gemm_internal::kDotMaxUnits && std::max(use1, use2) < 0.75)
    panel_vecs_ = 0;
  if (panel_vecs_ == 0) {
    // Whole Vecs plus one, so that weight rows do not share cache sets.
    ldw_ = (CeilDiv(width, kL) + 1) * kL;
    packed_.assign(units * ldw_, T{0});
    for (int64_t u = 0; u < units; ++u) {
      std::copy_n(w + u * width, width, packed_.begin() + u * ldw_);
    }
    // Unit blocks of 4, 2 or 1 (as the units left divide); each block's
    // biases tiled over the kAcc accumulators of a kernel call.
    constexpr int kAcc = gemm_internal::DotAccumulators<T>();
    for (int64_t u0 = 0; u0 < units;) {
      const int nu = DotBlockUnits(units - u0);
      for (int i = 0; i < kAcc; ++i)
        bias_.push_back(bias != nullptr ? bias[u0 + i % nu] : T{-0.0});
      u0 += nu;
    }
    return;
  }
  const int nr = panel_vecs_ * kL;
  const int64_t kc_max =
      panel_vecs_ == 2 ? PanelShape<T, 2>::kKcMax : PanelShape<T, 1>::kKcMax;
  // Equal K blocks; their boundaries only matter for speed (each sum runs
  // in k order across blocks).
  k_blocks_ = std::max<int64_t>(CeilDiv(width, kc_max), 1);
  kc_ = CeilDiv(width, k_blocks_);
  panels_ = CeilDiv(units, nr);
  const int64_t units_pad = panels_ * nr;
  block_panels_ = std::clamp<int64_t>(
      PanelShape<T, 2>::kL2Bytes / std::max<int64_t>(kc_ * nr * sizeof(T), 1),
      1, panels_);
  packed_.assign(width * units_pad, T{0});
  // K block kb holds panels of kcb x nr: row k = input k0 + k of nr units.
  for (int64_t kb = 0; kb < k_blocks_; ++kb) {
    const int64_t k0 = kb * kc_, kcb = std::min(kc_, width - k0);
    T* block = packed_.data() + k0 * units_pad;
    for (int64_t u = 0; u < units; ++u) {
      T* panel = block + (u / nr) * kcb * nr + u % nr;
      for (int64_t k = 0; k < kcb; ++k) panel[k * nr] = w[u * width + k0 + k];
    }
  }
  bias_.assign(units_pad, T{-0.0});
  if (bias != nullptr) std::copy_n(bias, units, bias_.begin());
}

template <typename T>
void Dense<T>::Forward(const T* x, int64_t ldx, int64_t rows, T* y,
                       int64_t ldy) const {
  if (rows <= 0 || units_ == 0) return;
  switch (panel_vecs_) {
    case 0:
      return ForwardDot(x, ldx, rows, y, ldy);
    case 1:
      return ForwardRows<1>(x, ldx, rows, y, ldy);
    default:
      return ForwardRows<2>(x, ldx, rows, y, ldy);
  }
}

template <typename T>
template <int NV>
void Dense<T>::ForwardRows(const T* x, int64_t ldx, int64_t rows, T* y,
                           int64_t ldy) const {
  const int64_t tail = gemm_internal::SmallTailRows<T, NV>(rows);
  const int64_t full = rows - tail;
  if (full > 0) ForwardPanels<NV>(x, ldx, full, y, ldy);
  if (tail == 0) return;
  const gemm_internal::PanelLayout layout{units_, width_, kc_, k_blocks_,
                                          panels_};
  gemm_internal::SmallRows<T, NV>(layout, packed_.data(), bias_.data(),
                                  x + full * ldx, ldx, tail, y + full * ldy,
                                  ldy);
  Epilogue(y + full * ldy, ldy, tail, 0, units_);
}

template <typename T>
void Dense<T>::Epilogue(T* y, int64_t ldy, int64_t n, int64_t u0,
                        int64_t u1) const {
  if (act_ == ir::Activation::kIdentity) return;
  if (!last_axis_ && u0 == 0 && u1 == units_ && ldy == units_) {
    ApplyActivation(act_, params_, y,
                    n * units_);  // one call; same bits per element
    return;
  }
  for (int64_t r = 0; r < n; ++r) {
    if (last_axis_) {
      ApplyActivationGroups(act_, params_, y + r * ldy, 1, units_);
    } else {
      ApplyActivation(act_, params_, y + r * ldy + u0, u1 - u0);
    }
  }
}

template <typename T>
template <int NV>
void Dense<T>::ForwardPanels(const T* x, int64_t ldx, int64_t rows, T* y,
                             int64_t ldy) const {
  using S = PanelShape<T, NV>;
  alignas(64) T xp[S::kMR * S::kXStride];
  const int64_t units_pad = panels_ * S::kNR;
  for (int64_t r0 = 0; r0 < rows; r0 += S::kMC) {
    const int64_t r1 = std::min<int64_t>(rows, r0 + S::kMC);
    for (int64_t kb = 0; kb < k_blocks_; ++kb) {
      const int64_t k0 = kb * kc_, kc = std::min(kc_, width_ - k0);
      const T* block = packed_.data() + k0 * units_pad;
      const bool last_k = kb + 1 == k_blocks_;
      for (int64_t p0 = 0; p0 < panels_; p0 += block_panels_) {
        const int64_t p1 = std::min(panels_, p0 + block_panels_);
        for (int64_t rb = r0; rb < r1; rb += S::kMR) {
          const int mr = static_cast<int>(std::min<int64_t>(S::kMR, r1 - rb));
          gemm_internal::PackRows<T, NV>(x + rb * ldx + k0, ldx, mr, kc, xp);
          for (int64_t p = p0; p < p1; ++p) {
            const int64_t u0 = p * S::kNR;
            const int nr =
                static_cast<int>(std::min<int64_t>(S::kNR, units_ - u0));
            gemm_internal::PanelKernel<T, NV>(
                kc, xp, block + p * kc * S::kNR,
                kb == 0 ? bias_.data() + u0 : nullptr, y + rb * ldy + u0, ldy,
                mr, nr);
          }
          if (last_k && !last_axis_) {
            Epilogue(y + rb * ldy, ldy, mr, p0 * S::kNR,
                     std::min(p1 * S::kNR, units_));
          }
        }
      }
    }
    if (last_axis_) Epilogue(y + r0 * ldy, ldy, r1 - r0, 0, units_);
  }
}

template <typename T>
void Dense<T>::ForwardDot(const T* x, int64_t ldx, int64_t rows, T* y,
                          int64_t ldy) const {
  // Row blocks of kAcc rows; per K block, the block's x is packed (rows past
  // the end and inputs past the width are zero), then unit blocks of U = 4,
  // 2 or 1 units times R = kAcc / U rows run on it. Lanes wait in acc
  // between K blocks.
  constexpr int kAcc = gemm_internal::DotAccumulators<T>();
  constexpr int kL = vec::Vec<T>::kLanes;
  constexpr int64_t kKc = gemm_internal::kDotKc<T>,
                    kXs = gemm_internal::kDotXStride<T>;
  using gemm_internal::DotKernel;
  using gemm_internal::kDotMaxUnits;
  alignas(64) T xp[kAcc * kXs];
  vec::Vec<T> acc[kAcc * kDotMaxUnits];
  for (int64_t r0 = 0; r0 < rows; r0 += kAcc) {
    const int n = static_cast<int>(std::min<int64_t>(kAcc, rows - r0));
    for (int64_t k0 = 0; k0 < width_ || k0 == 0; k0 += kKc) {
      const int64_t kc = std::min(kKc, width_ - k0), chunks = CeilDiv(kc, kL);
      for (int r = 0; r < kAcc; ++r) {
        T* row = xp + r * kXs;
        const int64_t copied = r < n ? kc : 0;
        std::copy_n(x + (r0 + r) * ldx + k0, copied, row);
        std::fill(row + copied, row + chunks * kL, T{-0.0});
      }
      const bool first = k0 == 0, last = k0 + kKc >= width_;
      const T* bias = bias_.data();
      for (int64_t u0 = 0; u0 < units_; bias += kAcc) {
        const int nu = DotBlockUnits(units_ - u0);
        const T* w = packed_.data() + u0 * ldw_ + k0;
        const T* b = last ? bias : nullptr;
        for (int r = 0; r < n; r += kAcc / nu) {
          const T* xr = xp + r * kXs;
          vec::Vec<T>* a = acc + r * kDotMaxUnits + u0;
          T* yr = y + (r0 + r) * ldy + u0;
          const int m = std::min(kAcc / nu, n - r);
          if (nu == 4) {
            DotKernel<T, kAcc / 4, 4>(xr, w, ldw_, chunks, a, first, b, yr, ldy,
                                      m);
          } else if (nu == 2) {
            DotKernel<T, kAcc / 2, 2>(xr, w, ldw_, chunks, a, first, b, yr, ldy,
                                      m);
          } else {
            DotKernel<T, kAcc, 1>(xr, w, ldw_, chunks, a, first, b, yr, ldy, m);
          }
        }
        u0 += nu;
      }
    }
    Epilogue(y + r0 * ldy, ldy, n, 0, units_);
  }
}

}  // namespace

template <typename T>
std::shared_ptr<const gemm_internal::DenseKernel<T>> MakeDense(
    const T* w, int64_t units, int64_t width, const T* bias, ir::Activation act,
    const ActivationParams& params) {
  return std::make_shared<const Dense<T>>(w, units, width, bias, act, params);
}

template std::shared_ptr<const gemm_internal::DenseKernel<float>>
MakeDense<float>(const float*, int64_t, int64_t, const float*, ir::Activation,
                 const ActivationParams&);
template std::shared_ptr<const gemm_internal::DenseKernel<double>>
MakeDense<double>(const double*, int64_t, int64_t, const double*,
                  ir::Activation, const ActivationParams&);

}  // namespace rowflow::ops::ROWFLOW_ISA_NS
