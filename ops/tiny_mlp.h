// TinyMlp: the tiny-layer path. A chain of dense layers of a few units each
// (the seed's 2 -> 2 -> 2 -> 1) runs as one fused, vectorized loop over the
// rows of a tile: each block of rows (one register's worth: 16 f32 or 8 f64
// rows with AVX-512) is transposed into registers, every layer is applied
// with broadcast weights, and only the final outputs go back to memory.
// This is far faster than one GEMM per layer at these sizes. Chains of up
// to 3 layers with every size <= 4 and activations computed in registers
// (identity, relu, leaky relu, hard sigmoid) get a kernel compiled for
// their exact sizes; everything else up to kMaxUnits runs layer by layer
// over chunks of 16 blocks, with the other activations from
// ops/activation.h. Each activation is its row of ops/activation_table.h on
// every path.
//
// Arithmetic, for every row alike: unit u of a layer is
// fma(w[u][W-1], x[W-1], ... fma(w[u][1], x[1], w[u][0] * x[0])), then
// + bias[u] when the layer has a bias, then the activation (relu(-0) = +0,
// NaN passes, as on every path). So a row's output is bitwise the same
// whatever tile, block position or kernel computes it, and on AVX-512, AVX2
// and scalar builds alike.
//
// Thread-safety: a TinyMlp is immutable after construction; Forward may be
// called from many threads at once.
#ifndef ROWFLOW_OPS_TINY_MLP_H_
#define ROWFLOW_OPS_TINY_MLP_H_

#include <cstdint>
#include <vector>

#include "graph/ir.h"

namespace rowflow::ops {

// One dense layer: y = act(w x + bias).
template <typename T>
struct TinyLayer {
  int64_t units = 0;
  int64_t width = 0;
  std::vector<T> w;     // (units, width) row-major
  std::vector<T> bias;  // (units), or empty for no bias
  ir::Activation act = ir::Activation::kIdentity;
  double alpha = 0.01;  // the activation's parameters (ops/activation.h)
  double beta = 0.5;
};

namespace tiny {

// A layer as the kernels see it: offsets into TinyPlan::params.
template <typename T>
struct LayerPlan {
  int64_t width = 0;
  int64_t units = 0;
  int64_t w_off = 0;
  int64_t b_off = -1;  // -1: no bias
  ir::Activation act = ir::Activation::kIdentity;
  T alpha = T(0);
  T beta = T(0);
  // Applies the layer to `blocks` blocks in structure-of-arrays layout.
  void (*run)(const LayerPlan& layer, const T* params, const T* in, T* out,
              int64_t blocks) = nullptr;
};

// Everything a kernel needs; plain data, so TinyMlp copies safely.
template <typename T>
struct TinyPlan {
  std::vector<T> params;  // every layer's weights and bias
  std::vector<LayerPlan<T>> layers;
  // Transposes between rows and structure-of-arrays blocks.
  void (*load)(const T* x, int64_t ldx, int64_t rows, T* soa) = nullptr;
  void (*store)(const T* soa, int64_t rows, T* y, int64_t ldy) = nullptr;
};

template <typename T>
using Kernel = void (*)(const TinyPlan<T>& plan, const T* x, int64_t ldx,
                        int64_t rows, T* y, int64_t ldy);

}  // namespace tiny

// A chain of tiny dense layers, compiled once for its layer sizes.
template <typename T>
class TinyMlp {
 public:
  // Widths and unit counts up to this take the tiny-layer path.
  static constexpr int64_t kMaxUnits = 8;

  // True if `layers` is a non-empty chain (each width equals the previous
  // layer's units) of layers with 1..kMaxUnits widths and units, weights and
  // bias of matching sizes, and activations with a kernel (last-axis ones,
  // such as softmax, only in the last layer).
  static bool Supports(const std::vector<TinyLayer<T>>& layers);

  // Compiles `layers`; Supports(layers) must hold. allow_fused = false
  // forces the per-layer kernel (for tests and benchmarks).
  explicit TinyMlp(std::vector<TinyLayer<T>> layers, bool allow_fused = true);

  // Columns of an input row and of an output row.
  int64_t width() const { return width_; }
  int64_t units() const { return units_; }

  // True if the layer sizes got a fully fused kernel compiled for them
  // (otherwise a per-layer kernel runs; the results are the same).
  bool fused() const { return fused_; }

  // y[r * ldy + j] = network(x[r * ldx + 0 .. width()))[j] for r in
  // [0, rows), j in [0, units()). Needs ldx >= width(), ldy >= units(),
  // and x and y not overlapping. Single-threaded, allocates nothing.
  void Forward(const T* x, int64_t ldx, int64_t rows, T* y, int64_t ldy) const;

 private:
  tiny::TinyPlan<T> plan_;
  tiny::Kernel<T> kernel_ = nullptr;
  int64_t width_ = 0;
  int64_t units_ = 0;
  bool fused_ = false;
};

extern template class TinyMlp<float>;
extern template class TinyMlp<double>;

}  // namespace rowflow::ops

#endif  // ROWFLOW_OPS_TINY_MLP_H_
