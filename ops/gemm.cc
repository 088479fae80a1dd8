#include "ops/gemm.h"

#include "ops/isa_table.h"

namespace rowflow::ops {

template <typename T>
PackedDense<T>::PackedDense(const T* w, int64_t units, int64_t width,
                            const T* bias, ir::Activation act,
                            const ActivationParams& params)
    : units_(units),
      width_(width),
      kernel_(isa::Active().Of<T>().make_dense(w, units, width, bias, act,
                                               params)) {}

template class PackedDense<float>;
template class PackedDense<double>;

}  // namespace rowflow::ops
