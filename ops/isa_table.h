// The kernel sets' entry points, one table per copy of the kernels
// (ops/isa.h), and the one this process runs. Internal to ops/.
//
// Thread-safety: constant tables; Active() picks once, thread-safely.
#ifndef ROWFLOW_OPS_ISA_TABLE_H_
#define ROWFLOW_OPS_ISA_TABLE_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "graph/ir.h"
#include "ops/activation.h"
#include "ops/fma_loop.h"
#include "ops/gemm.h"
#include "ops/isa.h"
#include "ops/tiny_mlp.h"

namespace rowflow::ops::isa {

// The ISA-dependent half of PackedDense, TinyMlp and the activations.
template <typename T>
struct Entries {
  std::shared_ptr<const gemm_internal::DenseKernel<T>> (*make_dense)(
      const T* w, int64_t units, int64_t width, const T* bias,
      ir::Activation act, const ActivationParams& params);
  // Fills *plan and *kernel for `layers` (TinyMlp::Supports holds); true
  // if the kernel is one fused for these sizes.
  bool (*build_tiny)(const std::vector<TinyLayer<T>>& layers, bool allow_fused,
                     tiny::TinyPlan<T>* plan, tiny::Kernel<T>* kernel);
  void (*activate)(ir::Activation act, const ActivationParams& params, T* data,
                   int64_t n);
  void (*activate_groups)(ir::Activation act, const ActivationParams& params,
                          T* data, int64_t groups, int64_t len);
};

struct Table {
  const char* name;  // "avx512", "avx2" or "generic"
  Entries<float> f32;
  Entries<double> f64;
  const FmaLoop* fma_loop;

  template <typename T>
  const Entries<T>& Of() const {
    if constexpr (sizeof(T) == sizeof(float)) {
      return f32;
    } else {
      return f64;
    }
  }
};

// The table this process runs (ops/dispatch.cc).
const Table& Active();

}  // namespace rowflow::ops::isa

namespace rowflow::ops::ROWFLOW_ISA_NS {

// This copy's table (ops/isa_table.cc).
extern const isa::Table kTable;

// This copy's FMA-limit loop (fma_loop_kernels.cc).
extern const FmaLoop kFmaLoop;

// This copy's entry points (gemm_kernels.cc, tiny_mlp_build.cc,
// activation_kernels.cc), for T = float and double.
template <typename T>
std::shared_ptr<const gemm_internal::DenseKernel<T>> MakeDense(
    const T* w, int64_t units, int64_t width, const T* bias, ir::Activation act,
    const ActivationParams& params);
template <typename T>
bool BuildTiny(const std::vector<TinyLayer<T>>& layers, bool allow_fused,
               tiny::TinyPlan<T>* plan, tiny::Kernel<T>* kernel);
template <typename T>
void ApplyActivation(ir::Activation act, const ActivationParams& params,
                     T* data, int64_t n);
template <typename T>
void ApplyActivationGroups(ir::Activation act, const ActivationParams& params,
                           T* data, int64_t groups, int64_t len);

}  // namespace rowflow::ops::ROWFLOW_ISA_NS

#endif  // ROWFLOW_OPS_ISA_TABLE_H_
