// TinyMlp's kernels and their plan (ops/tiny_mlp.h), one copy per kernel
// set (ops/isa.h).
#include <array>
#include <cstdint>
#include <utility>

#include "graph/error.h"
#include "ops/activation.h"
#include "ops/isa_table.h"
#include "ops/tiny_mlp.h"
#include "ops/tiny_mlp_fused.h"
#include "ops/tiny_mlp_kernels.h"

namespace rowflow::ops::ROWFLOW_ISA_NS {
namespace tiny {

// Elementwise kinds run in place over the chunk; last-axis ones per block
// on a row-major copy. Either way it is ops/activation.h's code, as in the
// GEMM epilogue.
template <typename T>
void SlowActivate(ir::Activation act, const ActivationParams& params, T* data,
                  int units, int lanes, int64_t blocks) {
  if (!IsLastAxis(act)) {
    ApplyActivation(act, params, data, blocks * units * lanes);
    return;
  }
  constexpr int kMaxLanes = 64 / sizeof(T);
  RF_CHECK(units <= TinyMlp<T>::kMaxUnits && lanes <= kMaxLanes);
  alignas(64) T rows[TinyMlp<T>::kMaxUnits * kMaxLanes];
  for (int64_t b = 0; b < blocks; ++b, data += units * lanes) {
    for (int u = 0; u < units; ++u) {
      for (int l = 0; l < lanes; ++l) rows[l * units + u] = data[u * lanes + l];
    }
    ApplyActivationGroups(act, params, rows, lanes, units);
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
bool BuildTiny(const std::vector<TinyLayer<T>>& layers, bool allow_fused,
               tiny::TinyPlan<T>* plan, tiny::Kernel<T>* kernel) {
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
    p.w_off = static_cast<int64_t>(plan->params.size());
    plan->params.insert(plan->params.end(), l.w.begin(), l.w.end());
    if (!l.bias.empty()) {
      p.b_off = static_cast<int64_t>(plan->params.size());
      plan->params.insert(plan->params.end(), l.bias.begin(), l.bias.end());
    }
    p.act = l.act;
    p.alpha = static_cast<T>(l.alpha);
    p.beta = static_cast<T>(l.beta);
    p.run = kRuns[l.width - 1];
    plan->layers.push_back(p);
    dims.push_back(l.units);
  }
  plan->load = kLoads[dims.front() - 1];
  plan->store = kStores[dims.back() - 1];
  *kernel = allow_fused ? tiny::FindFused(dims, plan->layers) : nullptr;
  if (*kernel != nullptr) return true;
  *kernel = &tiny::ChunkKernel<T>;
  return false;
}

template bool BuildTiny<float>(const std::vector<TinyLayer<float>>&, bool,
                               tiny::TinyPlan<float>*, tiny::Kernel<float>*);
template bool BuildTiny<double>(const std::vector<TinyLayer<double>>&, bool,
                                tiny::TinyPlan<double>*, tiny::Kernel<double>*);

}  // namespace rowflow::ops::ROWFLOW_ISA_NS
