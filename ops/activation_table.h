// Internal to ops/: the table of activations, one row per ir::Activation, in
// enum order. A row holds the activation's kernel and its scalar reference;
// ActivateInPlace, the GEMM epilogue and the tiny-layer path all reach the
// kernels through this table, so each activation is written once.
//
// A row's kernel takes one of three forms (its kForm):
//  - kRegister: `Reg(x, p)` on one register of any width, written with GCC
//    vector operators only (so the same code runs on a vec::Vec part, a
//    tiny-path register and a scalar); the tiny path computes these inline.
//  - kVector: `Eval(x, p)` on a vec::Vec<T> (ops/activation_math.h).
//  - kLastAxis: `Group(p, len, params)` over one contiguous group (softmax
//    family, layer norm).
// Elementwise rows also have `Reference<F>(x, params)`, the definition in F
// = long double (the oracle) or double (a faster one for float) with libm;
// last-axis rows `ReferenceGroup(x, len, params, y)`.
//
// Adding an activation: its enum value (graph/), one row struct here, and
// its entry in Rows below.
//
// Thread-safety: stateless.
#ifndef ROWFLOW_OPS_ACTIVATION_TABLE_H_
#define ROWFLOW_OPS_ACTIVATION_TABLE_H_

#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <tuple>
#include <utility>

#include "graph/activation.h"
#include "graph/ir.h"
#include "ops/activation.h"
#include "ops/activation_math.h"

namespace rowflow::ops::ROWFLOW_ISA_NS::act {

using ir::Activation;
using vec::Vec;

enum class Form { kRegister, kVector, kLastAxis };

// A row's parameters (rounded to the element type), broadcast to registers.
template <typename R>
struct RegParams {
  R alpha;
  R beta;
};

// ---- Rows -----------------------------------------------------------------

struct Identity {
  static constexpr Activation kAct = Activation::kIdentity;
  static constexpr Form kForm = Form::kRegister;
  template <typename R>
  static RF_VEC_INLINE R Reg(R x, const RegParams<R>&) {
    return x;
  }
  template <typename F>
  static F Reference(F x, const ActivationParams&) {
    return x;
  }
};

// x <= 0 is false for NaN, so NaN passes; -0 <= 0, so relu(-0) = +0.
struct Relu {
  static constexpr Activation kAct = Activation::kRelu;
  static constexpr Form kForm = Form::kRegister;
  template <typename R>
  static RF_VEC_INLINE R Reg(R x, const RegParams<R>&) {
    return x <= R{} ? R{} : x;
  }
  template <typename F>
  static F Reference(F x, const ActivationParams&) {
    return x <= 0 ? F{0} : x;
  }
};

struct Tanh {
  static constexpr Activation kAct = Activation::kTanh;
  static constexpr Form kForm = Form::kVector;
  template <typename T>
  static RF_VEC_INLINE Vec<T> Eval(Vec<T> x, const RegParams<Vec<T>>&) {
    return vmath::Tanh(x);
  }
  template <typename F>
  static F Reference(F x, const ActivationParams&) {
    return std::tanh(x);
  }
};

struct Sigmoid {
  static constexpr Activation kAct = Activation::kSigmoid;
  static constexpr Form kForm = Form::kVector;
  template <typename T>
  static RF_VEC_INLINE Vec<T> Eval(Vec<T> x, const RegParams<Vec<T>>&) {
    return vmath::Sigmoid(x);
  }
  template <typename F>
  static F Reference(F x, const ActivationParams&) {
    return x >= 0 ? 1 / (1 + std::exp(-x)) : std::exp(x) / (1 + std::exp(x));
  }
};

// Negative x times alpha; NaN and -0 pass unchanged.
struct LeakyRelu {
  static constexpr Activation kAct = Activation::kLeakyRelu;
  static constexpr Form kForm = Form::kRegister;
  template <typename R>
  static RF_VEC_INLINE R Reg(R x, const RegParams<R>& p) {
    return x < R{} ? x * p.alpha : x;
  }
  template <typename F>
  static F Reference(F x, const ActivationParams& p) {
    return x < 0 ? static_cast<F>(p.alpha) * x : x;
  }
};

struct Softplus {
  static constexpr Activation kAct = Activation::kSoftplus;
  static constexpr Form kForm = Form::kVector;
  template <typename T>
  static RF_VEC_INLINE Vec<T> Eval(Vec<T> x, const RegParams<Vec<T>>&) {
    return vmath::Softplus(x);
  }
  template <typename F>
  static F Reference(F x, const ActivationParams&) {
    return std::isnan(x)
               ? x
               : std::fmax(x, F{0}) + std::log1p(std::exp(-std::fabs(x)));
  }
};

// Group maximum m, then exp(x - m) / sum (ops/activation.cc).
struct Softmax {
  static constexpr Activation kAct = Activation::kSoftmax;
  static constexpr Form kForm = Form::kLastAxis;
  template <typename T>
  static void Group(T* p, int64_t len, const ActivationParams&);
  static void ReferenceGroup(const long double* x, int64_t len,
                             const ActivationParams&, long double* y);
};

struct Elu {
  static constexpr Activation kAct = Activation::kElu;
  static constexpr Form kForm = Form::kVector;
  template <typename T>
  static RF_VEC_INLINE Vec<T> Eval(Vec<T> x, const RegParams<Vec<T>>& p) {
    return vmath::Elu(x, p.alpha);
  }
  template <typename F>
  static F Reference(F x, const ActivationParams& p) {
    return x >= 0 ? x : static_cast<F>(p.alpha) * std::expm1(x);
  }
};

struct Gelu {
  static constexpr Activation kAct = Activation::kGelu;
  static constexpr Form kForm = Form::kVector;
  template <typename T>
  static RF_VEC_INLINE Vec<T> Eval(Vec<T> x, const RegParams<Vec<T>>&) {
    return vmath::Gelu(x);
  }
  template <typename F>
  static F Reference(F x, const ActivationParams&) {
    if (std::isinf(x)) return x > 0 ? x : -F{0};
    return F{0.5} * x * std::erfc(-x / std::sqrt(F{2}));
  }
};

// 0.5 x (1 + tanh u) = x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3).
struct GeluTanh {
  static constexpr Activation kAct = Activation::kGeluTanh;
  static constexpr Form kForm = Form::kVector;
  template <typename T>
  static RF_VEC_INLINE Vec<T> Eval(Vec<T> x, const RegParams<Vec<T>>&) {
    return vmath::GeluTanh(x);
  }
  template <typename F>
  static F Reference(F x, const ActivationParams&) {
    if (std::isinf(x)) return x > 0 ? x : -F{0};
    const F pi = static_cast<F>(3.14159265358979323846264338327950288L);
    const F u = std::sqrt(2 / pi) * (x + static_cast<F>(0.044715L) * x * x * x);
    return x / (1 + std::exp(-2 * u));
  }
};

// x sigmoid(x).
struct Silu {
  static constexpr Activation kAct = Activation::kSilu;
  static constexpr Form kForm = Form::kVector;
  template <typename T>
  static RF_VEC_INLINE Vec<T> Eval(Vec<T> x, const RegParams<Vec<T>>&) {
    return vmath::Silu(x);
  }
  template <typename F>
  static F Reference(F x, const ActivationParams&) {
    if (std::isinf(x)) return x > 0 ? x : -F{0};
    return x / (1 + std::exp(-x));
  }
};

// max(0, min(1, fma(alpha, x, beta))); NaN passes, a result <= 0 is +0.
struct HardSigmoid {
  static constexpr Activation kAct = Activation::kHardSigmoid;
  static constexpr Form kForm = Form::kRegister;
  template <typename R>
  static RF_VEC_INLINE R Reg(R x, const RegParams<R>& p) {
    R y = vec::FmaReg(p.alpha, x, p.beta);
    y = y <= R{} ? R{} : y;
    return y > R{} + 1 ? R{} + 1 : y;
  }
  template <typename F>
  static F Reference(F x, const ActivationParams& p) {
    const F y = std::fma(static_cast<F>(p.alpha), x, static_cast<F>(p.beta));
    return y <= 0 ? F{0} : y > 1 ? F{1} : y;
  }
};

// x - m - log(sum exp(x - m)), m the group maximum (ops/activation.cc).
struct LogSoftmax {
  static constexpr Activation kAct = Activation::kLogSoftmax;
  static constexpr Form kForm = Form::kLastAxis;
  template <typename T>
  static void Group(T* p, int64_t len, const ActivationParams&);
  static void ReferenceGroup(const long double* x, int64_t len,
                             const ActivationParams&, long double* y);
};

// min(max(x, alpha), beta), alpha <= beta (either may be infinite): exact;
// NaN passes, -0 stays -0 unless a bound replaces it.
struct Clip {
  static constexpr Activation kAct = Activation::kClip;
  static constexpr Form kForm = Form::kRegister;
  template <typename R>
  static RF_VEC_INLINE R Reg(R x, const RegParams<R>& p) {
    const R y = x < p.alpha ? p.alpha : x;
    return y > p.beta ? p.beta : y;
  }
  template <typename F>
  static F Reference(F x, const ActivationParams& p) {
    const F y = x < static_cast<F>(p.alpha) ? static_cast<F>(p.alpha) : x;
    return y > static_cast<F>(p.beta) ? static_cast<F>(p.beta) : y;
  }
};

struct Erf {
  static constexpr Activation kAct = Activation::kErf;
  static constexpr Form kForm = Form::kVector;
  template <typename T>
  static RF_VEC_INLINE Vec<T> Eval(Vec<T> x, const RegParams<Vec<T>>&) {
    return vmath::Erf(x);
  }
  template <typename F>
  static F Reference(F x, const ActivationParams&) {
    return std::erf(x);
  }
};

// (x - mean) / sqrt(var + alpha) over the group, mean and (biased)
// variance in two passes in double (ops/activation.cc).
struct LayerNorm {
  static constexpr Activation kAct = Activation::kLayerNorm;
  static constexpr Form kForm = Form::kLastAxis;
  template <typename T>
  static void Group(T* p, int64_t len, const ActivationParams&);
  static void ReferenceGroup(const long double* x, int64_t len,
                             const ActivationParams&, long double* y);
};

// ---- The table ------------------------------------------------------------

using Rows = std::tuple<Identity, Relu, Tanh, Sigmoid, LeakyRelu, Softplus,
                        Softmax, Elu, Gelu, GeluTanh, Silu, HardSigmoid,
                        LogSoftmax, Clip, Erf, LayerNorm>;
inline constexpr size_t kNumRows = std::tuple_size_v<Rows>;

template <size_t... I>
constexpr bool RowsInEnumOrder(std::index_sequence<I...>) {
  return ((std::tuple_element_t<I, Rows>::kAct == static_cast<Activation>(I)) &&
          ...);
}
static_assert(RowsInEnumOrder(std::make_index_sequence<kNumRows>{}),
              "row i of act::Rows must be the activation with value i");
static_assert(kNumRows == std::size(ir::kActivations),
              "every activation of graph/activation.h needs a row here");

template <typename F, size_t... I>
RF_VEC_INLINE bool VisitIn(Activation act, F& f, std::index_sequence<I...>) {
  return ((static_cast<size_t>(act) == I
               ? (f(std::tuple_element_t<I, Rows>{}), true)
               : false) ||
          ...);
}

// Calls f(Row{}) for the row of `act`; false if `act` has no row.
template <typename F>
RF_VEC_INLINE bool Visit(Activation act, F&& f) {
  return VisitIn(act, f, std::make_index_sequence<kNumRows>{});
}

template <typename F, size_t... I>
RF_VEC_INLINE bool VisitRegisterIn(Activation act, F& f,
                                   std::index_sequence<I...>) {
  return ((std::tuple_element_t<I, Rows>::kForm == Form::kRegister &&
                   static_cast<size_t>(act) == I
               ? (f(std::tuple_element_t<I, Rows>{}), true)
               : false) ||
          ...);
}

// Visit restricted to the register rows (the others are not compared
// against, for the tiny path's per-block dispatch); false for the others.
template <typename F>
RF_VEC_INLINE bool VisitRegister(Activation act, F&& f) {
  return VisitRegisterIn(act, f, std::make_index_sequence<kNumRows>{});
}

// The form of `act`'s row; `act` must have one.
Form FormOf(Activation act);

// Row::Reg or Row::Eval on a whole Vec; register rows run part by part.
template <typename Row, typename T>
RF_VEC_INLINE Vec<T> EvalVec(Vec<T> x, const RegParams<Vec<T>>& p) {
  if constexpr (Row::kForm == Form::kRegister) {
    Vec<T> r;
    RF_VEC_UNROLL for (int i = 0; i < Vec<T>::kParts; ++i) {
      r.p[i] = Row::Reg(
          x.p[i], RegParams<typename Vec<T>::Part>{p.alpha.p[i], p.beta.p[i]});
    }
    return r;
  } else {
    return Row::Eval(x, p);
  }
}

}  // namespace rowflow::ops::ROWFLOW_ISA_NS::act

#endif  // ROWFLOW_OPS_ACTIVATION_TABLE_H_
