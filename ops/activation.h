// Vectorized activations over contiguous arrays, and their scalar reference.
//
// Every element's result depends only on its value (and, for softmax, on its
// group), never on where it sits in the array: the vector body and the tail
// run the same code, so results are bitwise reproducible across calls, array
// offsets and machines (AVX-512, AVX2 and portable builds agree bit for bit).
//
// Accuracy against the exact function: doubles within 3 ulp (relative error
// below 1e-15), floats within 3 ulp. NaN in gives NaN out; infinities map to
// their limits (tanh(+-inf) = +-1, sigmoid(-inf) = 0, softplus(inf) = inf).
//
// Thread-safety: stateless functions; safe to call from many threads.
#ifndef ROWFLOW_OPS_ACTIVATION_H_
#define ROWFLOW_OPS_ACTIVATION_H_

#include <cstdint>

#include "graph/ir.h"

namespace rowflow::ops {

// Applies the elementwise activation `act` in place to data[0, n); `alpha`
// is LEAKY_RELU's slope. kSoftmax is not elementwise: passing it is a bug.
template <typename T>
void ActivateInPlace(ir::Activation act, double alpha, T* data, int64_t n);

// Softmax over each of `groups` contiguous runs of `len` elements, in place;
// stable (the group's maximum is subtracted first).
template <typename T>
void SoftmaxInPlace(T* data, int64_t groups, int64_t len);

// The definition of each elementwise activation, in double with libm: the
// oracle the vector code is tested against. kSoftmax is a bug here too.
double ActivationReference(ir::Activation act, double alpha, double x);

extern template void ActivateInPlace<float>(ir::Activation, double, float*,
                                            int64_t);
extern template void ActivateInPlace<double>(ir::Activation, double, double*,
                                             int64_t);
extern template void SoftmaxInPlace<float>(float*, int64_t, int64_t);
extern template void SoftmaxInPlace<double>(double*, int64_t, int64_t);

}  // namespace rowflow::ops

#endif  // ROWFLOW_OPS_ACTIVATION_H_
