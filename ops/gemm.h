// PackedDense<T>: one dense layer, y = act(x W^T + b), over a tile of rows,
// with W packed once at construction into the layout its kernel streams.
//
// Layers run a register-blocked micro-kernel over panels of 2 or 1 vectors
// of units (whichever wastes less on padding), layers of a handful of units
// dot products along the width, so a 10-unit layer does not pay for 32. Bias
// and activation are applied while the output block is still in cache.
//
// Signed zeros: sums start from -0 (no bias) or the bias, and padding is
// -0 x +0, so an output whose every product is -0 is -0, as in the tiny-layer
// path and the reference evaluator; relu then maps it to +0.
//
// Determinism: the sum behind each output is accumulated in one fixed order
// that depends only on (units, width), so a row's result is bitwise the same
// whatever the tile size, its place in the tile, ldx/ldy, the thread, or the
// machine's vector width, or the kernel set (ops/kernel_set.h) that runs it.
//
// Thread-safety: immutable after construction; Forward is const, allocates
// nothing (it uses about 40 KB of stack) and may run on many threads at once.
#ifndef ROWFLOW_OPS_GEMM_H_
#define ROWFLOW_OPS_GEMM_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <vector>

#include "graph/ir.h"
#include "ops/activation.h"

namespace rowflow::ops {

namespace gemm_internal {
// Cache-line-aligned storage for packed weights.
template <typename T>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() = default;
  template <typename U>
  AlignedAllocator(const AlignedAllocator<U>&) {}
  T* allocate(size_t n) {
    return static_cast<T*>(
        ::operator new (n * sizeof(T), std::align_val_t{64}));
  }
  void deallocate(T* p, size_t) { ::operator delete (p, std::align_val_t{64}); }
  friend bool operator==(const AlignedAllocator&, const AlignedAllocator&) {
    return true;
  }
};

// A packed layer of one kernel set (ops/kernel_set.h); PackedDense holds
// the one the process dispatches to.
template <typename T>
class DenseKernel {
 public:
  virtual ~DenseKernel() = default;
  virtual void Forward(const T* x, int64_t ldx, int64_t rows, T* y,
                       int64_t ldy) const = 0;
};
}  // namespace gemm_internal

template <typename T>
class PackedDense {
 public:
  // Packs w, (units, width) row-major (row u holds unit u's weights), and
  // bias, `units` entries or nullptr for none; `params` are the
  // activation's (ops/activation.h).
  PackedDense(const T* w, int64_t units, int64_t width, const T* bias,
              ir::Activation act, const ActivationParams& params);

  // y[r*ldy + u] = act(sum_i x[r*ldx + i] * w[u*width + i] + b[u]) for r in
  // [0, rows) and u in [0, units); a last-axis activation (SOFTMAX,
  // LOG_SOFTMAX) runs over each row's units.
  void Forward(const T* x, int64_t ldx, int64_t rows, T* y, int64_t ldy) const {
    kernel_->Forward(x, ldx, rows, y, ldy);
  }

  // Number of outputs per row.
  int64_t units() const { return units_; }
  // Number of inputs per row.
  int64_t width() const { return width_; }

 private:
  int64_t units_;
  int64_t width_;
  // Immutable, so copies share it.
  std::shared_ptr<const gemm_internal::DenseKernel<T>> kernel_;
};

extern template class PackedDense<float>;
extern template class PackedDense<double>;

}  // namespace rowflow::ops

#endif  // ROWFLOW_OPS_GEMM_H_
