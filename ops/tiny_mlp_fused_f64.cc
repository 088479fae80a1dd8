// The fused tiny-layer kernels for double (see ops/tiny_mlp_fused.h); one
// source file per type so that the two halves compile in parallel.
#include "ops/tiny_mlp_fused.h"

namespace rowflow::ops::ROWFLOW_ISA_NS::tiny {

Kernel<double> FindFused(const std::vector<int64_t>& dims,
                         const std::vector<LayerPlan<double>>& layers) {
  return FindFusedIn<double>(dims, layers);
}

}  // namespace rowflow::ops::ROWFLOW_ISA_NS::tiny
