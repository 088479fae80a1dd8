// Internal to the tiny-layer path (ops/tiny_mlp*.cc): its kernels, built
// from one dense-layer step (Dense + ActivateInline) on column registers:
//  - FusedKernel<T, dims...>: the whole chain per block of rows, every
//    intermediate in registers; compiled for a set of small shapes, for
//    the activations the table computes in registers (its kRegister rows:
//    identity, relu, leaky relu, hard sigmoid).
//  - ChunkKernel<T>: any shape up to TinyMlp::kMaxUnits; a chunk of rows is
//    transposed once into a stack buffer and each layer, compiled for its
//    width, runs over the chunk unit by unit; the other activations then
//    run over the chunk through ops/activation.h.
// Both do the same operations per row and unit, so they agree bitwise.
//
// Thread-safety: stateless functions.
#ifndef ROWFLOW_OPS_TINY_MLP_KERNELS_H_
#define ROWFLOW_OPS_TINY_MLP_KERNELS_H_

#include <algorithm>
#include <climits>
#include <cstdint>
#include <utility>

#include "ops/activation_table.h"
#include "ops/tiny_mlp.h"
#include "ops/tiny_mlp_simd.h"

namespace rowflow::ops::ROWFLOW_ISA_NS::tiny {

// An activation not computed in registers, over `blocks` blocks in column
// layout data[(block * units + unit) * lanes + lane].
template <typename T>
void SlowActivate(ir::Activation act, const ActivationParams& params, T* data,
                  int units, int lanes, int64_t blocks);

// A layer resolved to pointers, once per kernel call.
template <typename T>
struct Layer {
  const T* w;  // (units, width)
  const T* b;  // (units), or null
  ir::Activation act;
  T alpha;
  T beta;
};

template <typename T>
inline Layer<T> Resolve(const T* params, const LayerPlan<T>& l) {
  return {params + l.w_off, l.b_off >= 0 ? params + l.b_off : nullptr, l.act,
          l.alpha, l.beta};
}

// out[k * U + u] = sum_i w[u][i] * in[k * W + i] (fma chain in increasing
// i) + b[u], for each of K blocks k. The first product is
// fma(w, x, -0.0), which rounds like w * x (sign of zero included) but
// cannot be contracted with the bias add by the compiler.
template <typename S, int W, int U, int K, typename T>
RF_TINY_INLINE void Dense(const T* w, const T* b, const typename S::V* in,
                          typename S::V* out) {
  using V = typename S::V;
  const V neg_zero = S::Set1(T(-0.0));
  Unroll<U>([&](auto u) RF_TINY_LAMBDA {
    V z[K];
    const V w0 = S::Set1(w[u * W]);
    Unroll<K>([&](auto k)
                  RF_TINY_LAMBDA { z[k] = S::Fma(w0, in[k * W], neg_zero); });
    Unroll<W - 1>([&](auto i) RF_TINY_LAMBDA {
      const V wi = S::Set1(w[u * W + i + 1]);
      Unroll<K>([&](auto k) RF_TINY_LAMBDA {
        z[k] = S::Fma(wi, in[k * W + i + 1], z[k]);
      });
    });
    if (b != nullptr) {
      const V bu = S::Set1(b[u]);
      Unroll<K>([&](auto k) RF_TINY_LAMBDA { z[k] = S::Add(z[k], bu); });
    }
    Unroll<K>([&](auto k) RF_TINY_LAMBDA { out[k * U + u] = z[k]; });
  });
}

// True for the activations computed in registers (the table's kRegister
// rows); the others run over a whole chunk afterwards.
inline bool IsInline(ir::Activation act) {
  return act::FormOf(act) == act::Form::kRegister;
}

// The layer's parameters broadcast to registers.
template <typename S, typename T>
RF_TINY_INLINE act::RegParams<typename S::P> RegParamsOf(const Layer<T>& l) {
  return {(typename S::P)S::Set1(l.alpha), (typename S::P)S::Set1(l.beta)};
}

// The register row Row on one register.
template <typename S, typename Row>
RF_TINY_INLINE typename S::V RegRow(typename S::V x,
                                    const act::RegParams<typename S::P>& p) {
  return (typename S::V)Row::Reg((typename S::P)x, p);
}

// Applies the layer's activation to v[0..N) if the table computes it in
// registers; leaves v otherwise.
template <typename S, int N, typename T>
RF_TINY_INLINE void ActivateInline(const Layer<T>& layer, typename S::V* v) {
  act::VisitRegister(layer.act, [&](auto row) RF_TINY_LAMBDA {
    using Row = decltype(row);
    if constexpr (Row::kForm == act::Form::kRegister &&
                  Row::kAct != ir::Activation::kIdentity) {
      const act::RegParams<typename S::P> p = RegParamsOf<S>(layer);
      Unroll<N>([&](auto i) RF_TINY_LAMBDA { v[i] = RegRow<S, Row>(v[i], p); });
    }
  });
}

// One layer on K blocks: out = act(dense(in)) for an inline activation.
template <typename S, int K, int W, int U, typename T>
RF_TINY_INLINE void Step(const Layer<T>& layer, const typename S::V* in,
                         typename S::V* out) {
  Dense<S, W, U, K>(layer.w, layer.b, in, out);
  ActivateInline<S, K * U>(layer, out);
}

// Layers (W, U), (U, Rest[0]), ... on K blocks, block k's columns at
// [k * width, (k + 1) * width) of in, the intermediates and out.
template <typename S, int K, int W, int U, int... Rest, typename T>
RF_TINY_INLINE void Chain(const Layer<T>* layer, const typename S::V* in,
                          typename S::V* out) {
  if constexpr (sizeof...(Rest) == 0) {
    Step<S, K, W, U>(*layer, in, out);
  } else {
    typename S::V h[K * U];
    Step<S, K, W, U>(*layer, in, h);
    Chain<S, K, U, Rest...>(layer + 1, h, out);
  }
}

// True if a full block with row stride ld may be gathered or scattered
// (lane offsets fit the instructions' 32-bit indices).
template <typename S>
RF_TINY_INLINE bool CanGather(int64_t n, int64_t ld) {
  if constexpr (S::kHasGather) {
    return n == S::kLanes && ld <= INT32_MAX / S::kLanes;
  } else {
    return false;
  }
}

// Loads the block of n <= kLanes rows at x (W columns, row stride ldx) into
// column registers. Strided blocks are gathered where the backend can;
// others, and partial blocks, go through `pad`, zero-filled past row n.
// The values loaded, hence the arithmetic, are the same either way.
template <typename S, int W, typename T>
RF_TINY_INLINE void LoadBlock(const T* x, int64_t ldx, int64_t n, T* pad,
                              typename S::V* v) {
  constexpr int L = S::kLanes;
  if (n == L && ldx == W) {
    LoadRows<S, W>(x, v);
  } else if (CanGather<S>(n, ldx)) {
    if constexpr (S::kHasGather) {
      const auto off = S::Strided(static_cast<int32_t>(ldx));
      Unroll<W>([&](auto k) RF_TINY_LAMBDA { v[k] = S::Gather(x + k, off); });
    }
  } else {
    CopyRows(x, ldx, n, W, pad, W, L);
    LoadRows<S, W>(pad, v);
  }
}

// Stores rows [0, n) of the column registers at y (row stride ldy):
// directly (with non-temporal stores if `stream`, which needs
// kCanStream<S, U> and a full block at a sizeof(V)-aligned y), scattered,
// or through `pad` like LoadBlock.
template <typename S, int U, typename T>
RF_TINY_INLINE void StoreBlock(const typename S::V* v, int64_t n, T* pad, T* y,
                               int64_t ldy, bool stream = false) {
  if (n == S::kLanes && ldy == U) {
    if constexpr (kCanStream<S, U>) {
      if (stream) {
        StoreRows<S, U, true>(v, y);
        return;
      }
    }
    StoreRows<S, U>(v, y);
  } else if (CanGather<S>(n, ldy)) {
    if constexpr (S::kHasGather) {
      const auto off = S::Strided(static_cast<int32_t>(ldy));
      Unroll<U>([&](auto k) RF_TINY_LAMBDA { S::Scatter(y + k, off, v[k]); });
    }
  } else {
    StoreRows<S, U>(v, pad);
    CopyRows(pad, U, n, U, y, ldy, 0);
  }
}

// A call whose rows in and out take at least this many bytes (more than
// a core's L2 holds) stores its full blocks of packed output with
// non-temporal stores: that output leaves the caches before anyone reads
// it anyway, and streaming it spares memory the read of every line before
// it is overwritten.
inline constexpr int64_t kStreamMinBytes = int64_t{1} << 20;

// The first row of `rows` rows of W inputs and U packed outputs at y from
// which whole blocks start on register boundaries, when the call streams
// its stores (kStreamMinBytes); -1 when it does not.
template <typename S, int W, int U, typename T>
RF_TINY_INLINE int64_t StreamStart(const T* y, int64_t ldy, int64_t rows) {
  if constexpr (kCanStream<S, U>) {
    const auto at = reinterpret_cast<uintptr_t>(y);
    if (ldy != U || rows * (W + U) * int64_t{sizeof(T)} < kStreamMinBytes ||
        at % sizeof(T) != 0) {
      return -1;
    }
    for (int64_t r = 0; r < S::kLanes; ++r) {
      if ((at + r * U * sizeof(T)) % sizeof(typename S::V) == 0) return r;
    }
  }
  return -1;
}

// Blocks per step of FusedKernel: each layer's weights, bias checks and
// activation dispatch serve K blocks, and the K blocks' chains overlap;
// K blocks of the widest layer stay within 8 registers.
constexpr int BlocksPerStep(int max_dim) { return std::max(1, 8 / max_dim); }

// The whole chain D[0] -> D[1] -> ... over every row, K blocks at a time;
// blocks past the last row compute zeros and store nothing. The first
// step covers just the rows before an aligned start for streaming stores.
template <typename T, int... D>
__attribute__((flatten)) void FusedKernel(const TinyPlan<T>& plan, const T* x,
                                          int64_t ldx, int64_t rows, T* y,
                                          int64_t ldy) {
  using S = Simd<T>;
  using V = typename S::V;
  constexpr int L = S::kLanes;
  constexpr int kDims[] = {D...};
  constexpr int W = kDims[0];
  constexpr int U = kDims[sizeof...(D) - 1];
  constexpr int K = BlocksPerStep(std::max({D...}));
  Layer<T> layers[sizeof...(D) - 1];
  for (size_t k = 0; k < sizeof...(D) - 1; ++k) {
    layers[k] = Resolve(plan.params.data(), plan.layers[k]);
  }
  alignas(64) T xpad[L * W];
  alignas(64) T ypad[L * U];
  const int64_t start = StreamStart<S, W, U>(y, ldy, rows);
  const bool stream = start >= 0;
  int64_t step = start > 0 ? start : K * L;
  for (int64_t r = 0; r < rows; r += step, step = K * L) {
    const int64_t n = std::min<int64_t>(step, rows - r);
    V in[K * W], out[K * U];
    Unroll<K>([&](auto k) RF_TINY_LAMBDA {
      const int64_t m = std::min<int64_t>(n - k * L, L);
      if (m > 0) {
        LoadBlock<S, W>(x + (r + k * L) * ldx, ldx, m, xpad, in + k * W);
      } else {
        Unroll<W>([&](auto i) RF_TINY_LAMBDA { in[k * W + i] = S::Set1(0); });
      }
    });
    Chain<S, K, D...>(layers, in, out);
    Unroll<K>([&](auto k) RF_TINY_LAMBDA {
      const int64_t m = std::min<int64_t>(n - k * L, L);
      if (m > 0) {
        StoreBlock<S, U>(out + k * U, m, ypad, y + (r + k * L) * ldy, ldy,
                         stream);
      }
    });
  }
  if (stream) StreamFence<S>();
}

// Structure-of-arrays layout of a chunk: block b, column k, lane l at
// soa[(b * cols + k) * kLanes + l].

// Transposes rows [0, rows) of x (W columns, stride ldx) into soa; the last
// block is zero-padded.
template <typename T, int W>
__attribute__((flatten)) void LoadRun(const T* x, int64_t ldx, int64_t rows,
                                      T* soa) {
  using S = Simd<T>;
  constexpr int L = S::kLanes;
  alignas(64) T pad[L * W];
  for (int64_t r = 0; r < rows; r += L, soa += W * L) {
    typename S::V v[W];
    LoadBlock<S, W>(x + r * ldx, ldx, std::min<int64_t>(L, rows - r), pad, v);
    Unroll<W>([&](auto k) RF_TINY_LAMBDA { S::Store(soa + k * L, v[k]); });
  }
}

// Transposes soa (U columns) into rows [0, rows) of y (stride ldy).
template <typename T, int U>
__attribute__((flatten)) void StoreRun(const T* soa, int64_t rows, T* y,
                                       int64_t ldy) {
  using S = Simd<T>;
  constexpr int L = S::kLanes;
  alignas(64) T pad[L * U];
  for (int64_t r = 0; r < rows; r += L, soa += U * L) {
    typename S::V v[U];
    Unroll<U>([&](auto k) RF_TINY_LAMBDA { v[k] = S::Load(soa + k * L); });
    StoreBlock<S, U>(v, std::min<int64_t>(L, rows - r), pad, y + r * ldy, ldy);
  }
}

// Unit u of a width-W layer over `blocks` blocks of soa, then the register
// row Row (identity for the activations run afterwards); the same
// operations as Dense + ActivateInline.
template <typename S, int W, typename Row, typename T>
RF_TINY_INLINE void UnitRun(const Layer<T>& layer, int64_t u, int64_t units,
                            const T* in, T* out, int64_t blocks) {
  constexpr int L = S::kLanes;
  const typename S::V neg_zero = S::Set1(T(-0.0));
  const act::RegParams<typename S::P> p = RegParamsOf<S>(layer);
  typename S::V w[W];
  Unroll<W>([&](auto i) RF_TINY_LAMBDA { w[i] = S::Set1(layer.w[u * W + i]); });
  const typename S::V bias = S::Set1(layer.b != nullptr ? layer.b[u] : T(0));
  for (int64_t b = 0; b < blocks; ++b, in += W * L) {
    typename S::V z = S::Fma(w[0], S::Load(in), neg_zero);
    Unroll<W - 1>([&](auto i) RF_TINY_LAMBDA {
      z = S::Fma(w[i + 1], S::Load(in + (i + 1) * L), z);
    });
    if (layer.b != nullptr) z = S::Add(z, bias);
    z = RegRow<S, Row>(z, p);
    S::Store(out + (b * units + u) * L, z);
  }
}

// A width-W layer of any number of units over `blocks` blocks of soa, one
// unit at a time with its weights in registers. Activations other than the
// inline ones then run over the whole chunk.
template <typename T, int W>
__attribute__((flatten)) void LayerRun(const LayerPlan<T>& plan,
                                       const T* params, const T* in, T* out,
                                       int64_t blocks) {
  using S = Simd<T>;
  const Layer<T> layer = Resolve(params, plan);
  const int64_t units = plan.units;
  bool slow = false;
  act::Visit(layer.act, [&](auto row) {
    using Row = decltype(row);
    if constexpr (Row::kForm == act::Form::kRegister) {
      for (int64_t u = 0; u < units; ++u)
        UnitRun<S, W, Row>(layer, u, units, in, out, blocks);
    } else {
      for (int64_t u = 0; u < units; ++u)
        UnitRun<S, W, act::Identity>(layer, u, units, in, out, blocks);
      slow = true;
    }
  });
  if (slow) {
    SlowActivate(layer.act, {plan.alpha, plan.beta}, out,
                 static_cast<int>(units), S::kLanes, blocks);
  }
}

// Any chain of layers up to kMaxUnits wide, one chunk of rows at a time:
// transposed in, each layer over the chunk, transposed out.
template <typename T>
void ChunkKernel(const TinyPlan<T>& plan, const T* x, int64_t ldx, int64_t rows,
                 T* y, int64_t ldy) {
  constexpr int L = Simd<T>::kLanes;
  constexpr int kMax = static_cast<int>(TinyMlp<T>::kMaxUnits);
  constexpr int64_t kBlocks = 16;
  alignas(64) T buf_a[kBlocks * kMax * L];
  alignas(64) T buf_b[kBlocks * kMax * L];
  for (int64_t r = 0; r < rows; r += kBlocks * L) {
    const int64_t n = std::min<int64_t>(kBlocks * L, rows - r);
    plan.load(x + r * ldx, ldx, n, buf_a);
    T* in = buf_a;
    T* out = buf_b;
    for (const LayerPlan<T>& layer : plan.layers) {
      layer.run(layer, plan.params.data(), in, out, (n + L - 1) / L);
      std::swap(in, out);
    }
    plan.store(in, n, y + r * ldy, ldy);
  }
}

}  // namespace rowflow::ops::ROWFLOW_ISA_NS::tiny

#endif  // ROWFLOW_OPS_TINY_MLP_KERNELS_H_
