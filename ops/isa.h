// ROWFLOW_ISA_NS: the namespace that holds this translation unit's copy of
// the kernels. Internal to ops/.
//
// A build with runtime dispatch (ROWFLOW_DISPATCH, see ops/CMakeLists.txt)
// compiles the kernel sources once per instruction set, each with its -m
// flags and its own ROWFLOW_ISA_NS (avx2, avx512); the copy built with the
// library's own flags, and every other source, uses `generic`. Everything
// the kernel headers define lives in rowflow::ops::ROWFLOW_ISA_NS, so the
// copies never share an inline function or template (which the linker
// would otherwise merge, running AVX-512 code on a CPU without it).
//
// Thread-safety: macros only.
#ifndef ROWFLOW_OPS_ISA_H_
#define ROWFLOW_OPS_ISA_H_

#ifndef ROWFLOW_ISA_NS
#define ROWFLOW_ISA_NS generic
#endif

// The public halves of the kernel namespaces (ops/tiny_mlp.h, ops/gemm.h)
// are seen from inside each copy's namespace of the same name.
namespace rowflow::ops {
namespace tiny {}
namespace gemm_internal {}
namespace ROWFLOW_ISA_NS {
namespace tiny {
using namespace ::rowflow::ops::tiny;
}  // namespace tiny
namespace gemm_internal {
using namespace ::rowflow::ops::gemm_internal;
}  // namespace gemm_internal
}  // namespace ROWFLOW_ISA_NS
}  // namespace rowflow::ops

#endif  // ROWFLOW_OPS_ISA_H_
