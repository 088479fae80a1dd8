// Internal to the tiny-layer path: the table of fused kernels, one per
// chain shape compiled, and FindFused, which picks one for a network. The
// table is built in tiny_mlp_fused_f32.cc and _f64.cc, which compile in
// parallel.
//
// Thread-safety: constant tables and stateless functions.
#ifndef ROWFLOW_OPS_TINY_MLP_FUSED_H_
#define ROWFLOW_OPS_TINY_MLP_FUSED_H_

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "ops/tiny_mlp.h"
#include "ops/tiny_mlp_kernels.h"

namespace rowflow::ops::ROWFLOW_ISA_NS::tiny {

// The fused kernel for `dims` (the width, then each layer's units) and the
// layers' activations, or null if none was compiled for them. Defined in
// tiny_mlp_fused_f32.cc / _f64.cc, which build in parallel.
Kernel<float> FindFused(const std::vector<int64_t>& dims,
                        const std::vector<LayerPlan<float>>& layers);
Kernel<double> FindFused(const std::vector<int64_t>& dims,
                         const std::vector<LayerPlan<double>>& layers);

// Fused kernels exist for chains of up to kFusedDepth layers whose widths
// and units are all in [1, kFusedDim]: 4^2 + 4^3 + 4^4 shapes per type.
// Sanitizer builds compile the huge flattened kernels very slowly, so they
// get sizes up to 2 only (which still covers the seed's networks); results
// do not depend on which kernel runs.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr int kFusedDim = 2;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr int kFusedDim = 2;
#else
inline constexpr int kFusedDim = 4;
#endif
#else
inline constexpr int kFusedDim = 4;
#endif
inline constexpr int kFusedDepth = 3;  // FindFusedIn's switch has each depth

constexpr int Pow(int base, int exp) {
  return exp == 0 ? 1 : base * Pow(base, exp - 1);
}

// The fused kernel for the chain whose k-th dimension is
// (index / kFusedDim^k) % kFusedDim + 1.
template <typename T, int Depth, int Index>
constexpr Kernel<T> FusedAt() {
  return []<int... K>(std::integer_sequence<int, K...>) {
    return &FusedKernel<T, (Index / Pow(kFusedDim, K)) % kFusedDim + 1 ...>;
  }
  (std::make_integer_sequence<int, Depth + 1>{});
}

template <typename T, int Depth, int... I>
constexpr auto MakeFused(std::integer_sequence<int, I...>) {
  return std::array<Kernel<T>, sizeof...(I)>{FusedAt<T, Depth, I>()...};
}

template <typename T, int Depth>
inline constexpr auto kFused = MakeFused<T, Depth>(
    std::make_integer_sequence<int, Pow(kFusedDim, Depth + 1)>{});

// FindFused's body; instantiated once per type, in its own source file.
template <typename T>
Kernel<T> FindFusedIn(const std::vector<int64_t>& dims,
                      const std::vector<LayerPlan<T>>& layers) {
  if (layers.size() > kFusedDepth) return nullptr;
  for (const LayerPlan<T>& l : layers) {
    if (!IsInline(l.act)) return nullptr;
  }
  int index = 0;
  for (size_t k = 0; k < dims.size(); ++k) {
    if (dims[k] > kFusedDim) return nullptr;
    index +=
        static_cast<int>(dims[k] - 1) * Pow(kFusedDim, static_cast<int>(k));
  }
  switch (dims.size() - 1) {
    case 1:
      return kFused<T, 1>[index];
    case 2:
      return kFused<T, 2>[index];
    case 3:
      return kFused<T, 3>[index];
    default:
      return nullptr;
  }
}

}  // namespace rowflow::ops::ROWFLOW_ISA_NS::tiny

#endif  // ROWFLOW_OPS_TINY_MLP_FUSED_H_
