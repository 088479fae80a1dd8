#include "ops/tiny_mlp.h"

#include <cstdint>
#include <utility>

#include "graph/error.h"
#include "ops/activation.h"
#include "ops/isa_table.h"

namespace rowflow::ops {

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
  width_ = layers.front().width;
  units_ = layers.back().units;
  // The kernel set's plan: its kernels (and their lanes per block) are the
  // dispatched set's.
  fused_ =
      isa::Active().Of<T>().build_tiny(layers, allow_fused, &plan_, &kernel_);
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
