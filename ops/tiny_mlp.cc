#include "ops/tiny_mlp.h"

#include <array>
#include <cstdint>
#include <utility>

#include "graph/error.h"
#include "ops/activation.h"
#include "ops/tiny_mlp_fused.h"
#include "ops/tiny_mlp_kernels.h"

namespace rowflow::ops {
namespace tiny {

// Elementwise kinds run in place over the chunk; last-axis ones per block
// on a row-major copy. Either way it is ops/activation.h's code, as in the
// GEMM epilogue.
template <typename T>
void SlowActivate(ir::Activation act, const ActivationParams& params, T* data,
                  int units, int lanes, int64_t blocks) {
  if (!IsLastAxis(act)) {
    ActivateInPlace(act, params, data, blocks * units * lanes);
    return;
  }
  constexpr int kMaxLanes = 64 / sizeof(T);
  RF_CHECK(units <= TinyMlp<T>::kMaxUnits && lanes <= kMaxLanes);
  alignas(64) T rows[TinyMlp<T>::kMaxUnits * kMaxLanes];
  for (int64_t b = 0; b < blocks; ++b, data += units * lanes) {
    for (int u = 0; u < units; ++u) {
      for (int l = 0; l < lanes; ++l) rows[l * units + u] = data[u * lanes + l];
    }
    ActivateGroupsInPlace(act, params, rows, lanes, units);
    for (int u = 0; u < units; ++u) {
      for (int l = 0; l < lanes; ++l) data[u * lanes + l] = rows[l * units + u];
    }
  }
}

namespace {

constexpr int kMax = static_cast<int>(TinyMlp<float>::kMaxUnits);

template <typename T, int... I>
constexpr auto MakeLayerRuns(std::integer_sequence<int, I...>) {
  return std::array{&LayerRun<T, I + 1>...};
}
template <typename T, int... I>
constexpr auto MakeLoads(std::integer_sequence<int, I...>) {
  return std::array{&LoadRun<T, I + 1>...};
}
template <typename T, int... I>
constexpr auto MakeStores(std::integer_sequence<int, I...>) {
  return std::array{&StoreRun<T, I + 1>...};
}

}  // namespace
}  // namespace tiny

template <typename T>
bool TinyMlp<T>::Supports(const std::vector<TinyLayer<T>>& layers) {
  if (layers.empty()) return false;
  for (size_t k = 0; k < layers.size(); ++k) {
    const TinyLayer<T>& l = layers[k];
    if (l.units < 1 || l.units > kMaxUnits || l.width < 1 ||
        l.width > kMaxUnits) {
      return false;
    }
    if (k > 0 && l.width != layers[k - 1].units) return false;
    if (static_cast<int64_t>(l.w.size()) != l.units * l.width) return false;
    if (!l.bias.empty() && static_cast<int64_t>(l.bias.size()) != l.units) {
      return false;
    }
    if (!HasKernel(l.act)) return false;
    if (IsLastAxis(l.act) && k + 1 != layers.size()) return false;
  }
  return true;
}

template <typename T>
TinyMlp<T>::TinyMlp(std::vector<TinyLayer<T>> layers, bool allow_fused) {
  RF_CHECK(Supports(layers));
  static constexpr auto kRuns =
      tiny::MakeLayerRuns<T>(std::make_integer_sequence<int, tiny::kMax>{});
  static constexpr auto kLoads =
      tiny::MakeLoads<T>(std::make_integer_sequence<int, tiny::kMax>{});
  static constexpr auto kStores =
      tiny::MakeStores<T>(std::make_integer_sequence<int, tiny::kMax>{});
  std::vector<int64_t> dims{layers.front().width};
  for (const TinyLayer<T>& l : layers) {
    tiny::LayerPlan<T> p;
    p.width = l.width;
    p.units = l.units;
    p.w_off = static_cast<int64_t>(plan_.params.size());
    plan_.params.insert(plan_.params.end(), l.w.begin(), l.w.end());
    if (!l.bias.empty()) {
      p.b_off = static_cast<int64_t>(plan_.params.size());
      plan_.params.insert(plan_.params.end(), l.bias.begin(), l.bias.end());
    }
    p.act = l.act;
    p.alpha = static_cast<T>(l.alpha);
    p.beta = static_cast<T>(l.beta);
    p.run = kRuns[l.width - 1];
    plan_.layers.push_back(p);
    dims.push_back(l.units);
  }
  width_ = dims.front();
  units_ = dims.back();
  plan_.load = kLoads[width_ - 1];
  plan_.store = kStores[units_ - 1];
  kernel_ = allow_fused ? tiny::FindFused(dims, plan_.layers) : nullptr;
  fused_ = kernel_ != nullptr;
  if (!fused_) kernel_ = &tiny::ChunkKernel<T>;
}

template <typename T>
void TinyMlp<T>::Forward(const T* x, int64_t ldx, int64_t rows, T* y,
                         int64_t ldy) const {
  if (rows <= 0) return;
  RF_CHECK(x != nullptr && y != nullptr && ldx >= width_ && ldy >= units_);
  kernel_(plan_, x, ldx, rows, y, ldy);
}

template class TinyMlp<float>;
template class TinyMlp<double>;

}  // namespace rowflow::ops
