// Activations over contiguous arrays, and their scalar references. Each
// activation is one row of ops/activation_table.h; this is its interface.
//
// Activations and their parameters (rounded to the element type T before
// use; the references take them as given):
//   IDENTITY      x
//   RELU          x > 0 ? x : +0
//   TANH          tanh x
//   SIGMOID       1 / (1 + e^-x)
//   LEAKY_RELU    x < 0 ? alpha x : x                 (alpha: slope)
//   SOFTPLUS      log(1 + e^x)
//   SOFTMAX       e^(x - m) / sum e^(x - m) over the last axis, m its maximum
//   ELU           x >= 0 ? x : alpha (e^x - 1)        (alpha: scale)
//   GELU          x Phi(x) = 0.5 x (1 + erf(x / sqrt 2))
//   GELU_TANH     0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
//   SILU          x sigmoid(x)
//   HARD_SIGMOID  max(0, min(1, alpha x + beta)), one fma  (alpha, beta)
//   LOG_SOFTMAX   x - m - log(sum e^(x - m)) over the last axis
//   CLIP          min(max(x, alpha), beta)            (alpha, beta: bounds)
//   ERF           erf x
//   LAYER_NORM    (x - mean) / sqrt(var + alpha) over the last axis (biased
//                 variance; alpha: epsilon)
//
// Accuracy against the exact function (of the rounded parameters), in ulps
// of the result (subnormal results: units of the subnormal spacing):
//   IDENTITY, RELU, CLIP      exact
//   LEAKY_RELU, HARD_SIGMOID  correctly rounded (one multiply / one fma)
//   GELU, GELU_TANH, SILU,    f32 within 0.51 (computed in double, rounded
//   ERF                       once); f64 within 3, GELU f64 within 7
//   TANH, SIGMOID, SOFTPLUS,  within 3 (f32: checked on every 61st float,
//   ELU                       all 2^32 with ROWFLOW_EXHAUSTIVE=1; f64 sampled)
//   SOFTMAX, LOG_SOFTMAX      within 4 per element on groups of up to a few
//                             hundred (the group sum's rounding grows with
//                             its length)
//   LAYER_NORM                mean and variance in double, two passes; f32
//                             rounded once, f64 within a few ulp of the
//                             exact value for well-conditioned groups
// No scalar libm in the kernels: polynomial exp/expm1/log1p, and for GELU
// and ERF a Chebyshev series of erfcx (ERF near 0: its Taylor series), all
// in vector registers; LAYER_NORM's one square root is IEEE's.
//
// Signed zero, NaN, infinity: NaN in gives NaN out (a NaN anywhere in a
// group makes the whole group the default NaN). relu(-0) = +0, and
// HARD_SIGMOID's lower clamp is +0, on every path (tiny layers, GEMM,
// elementwise, reference); the odd or sign-keeping functions keep -0 (tanh,
// leaky relu, elu, gelu, gelu_tanh, silu: f(-0) = -0). Infinities map to their
// limits (tanh(+-inf) = +-1, sigmoid(-inf) = 0, gelu/silu(-inf) = -0, elu(-inf)
// = -alpha, softplus(inf) = inf).
//
// Every element's result depends only on its value (and, for the last-axis
// kinds, on its group), never on where it sits in the array: the vector body
// and the tail run the same code, so results are bitwise reproducible across
// calls, array offsets and machines (AVX-512, AVX2 and portable builds agree
// bit for bit).
//
// Thread-safety: stateless functions; safe to call from many threads.
#ifndef ROWFLOW_OPS_ACTIVATION_H_
#define ROWFLOW_OPS_ACTIVATION_H_

#include <cstdint>
#include <span>

#include "graph/ir.h"

namespace rowflow::ops {

// An activation's parameters; each activation reads the ones it takes.
struct ActivationParams {
  double alpha = 0.01;
  double beta = 0.5;
};

// The parameters of an ACTIVATION node.
inline ActivationParams ParamsOf(const ir::Node& node) {
  return {node.alpha, node.beta};
}

// Every activation with a kernel, in enum order.
std::span<const ir::Activation> AllActivations();

// True if `act` has a kernel (every name graph/ knows does).
bool HasKernel(ir::Activation act);

// True for the activations over the last axis (SOFTMAX, LOG_SOFTMAX,
// LAYER_NORM); the
// others are elementwise.
bool IsLastAxis(ir::Activation act);

// Applies the elementwise activation `act` to data[0, n) in place. A
// last-axis activation here is a bug.
template <typename T>
void ActivateInPlace(ir::Activation act, const ActivationParams& params,
                     T* data, int64_t n);

// Applies `act` to each of `groups` contiguous groups of `len` elements in
// place: a last-axis activation per group, an elementwise one to them all.
template <typename T>
void ActivateGroupsInPlace(ir::Activation act, const ActivationParams& params,
                           T* data, int64_t groups, int64_t len);

// The definition of the elementwise activation `act`, in long double with
// libm: the oracle of the tests and the reference evaluator's arithmetic.
long double ActivationReference(ir::Activation act,
                                const ActivationParams& params, long double x);

// The definition of any activation over one group x[0, len) -> y[0, len)
// (elementwise ones element by element).
void ActivationReferenceGroup(ir::Activation act,
                              const ActivationParams& params,
                              const long double* x, int64_t len,
                              long double* y);

extern template void ActivateInPlace<float>(ir::Activation,
                                            const ActivationParams&, float*,
                                            int64_t);
extern template void ActivateInPlace<double>(ir::Activation,
                                             const ActivationParams&, double*,
                                             int64_t);
extern template void ActivateGroupsInPlace<float>(ir::Activation,
                                                  const ActivationParams&,
                                                  float*, int64_t, int64_t);
extern template void ActivateGroupsInPlace<double>(ir::Activation,
                                                   const ActivationParams&,
                                                   double*, int64_t, int64_t);

}  // namespace rowflow::ops

#endif  // ROWFLOW_OPS_ACTIVATION_H_
