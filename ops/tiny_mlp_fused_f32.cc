// The fused tiny-layer kernels for float (see ops/tiny_mlp_fused.h); one
// source file per type so that the two halves compile in parallel.
#include "ops/tiny_mlp_fused.h"

namespace rowflow::ops::ROWFLOW_ISA_NS::tiny {

Kernel<float> FindFused(const std::vector<int64_t>& dims,
                        const std::vector<LayerPlan<float>>& layers) {
  return FindFusedIn<float>(dims, layers);
}

}  // namespace rowflow::ops::ROWFLOW_ISA_NS::tiny
