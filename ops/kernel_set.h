// The kernel set: which instruction set's copy of the dense, tiny-layer and
// activation kernels this process runs.
//
// A build for the build machine (ROWFLOW_NATIVE, the default) has one copy,
// compiled with -march=native. A portable build (ROWFLOW_NATIVE=OFF, as the
// Debian package) has three, for baseline x86-64, AVX2 (x86-64-v3) and
// AVX-512 (x86-64-v4), and picks the widest this CPU runs the first time a
// kernel is needed; ROWFLOW_KERNELS=generic|avx2|avx512 in the environment
// asks for a narrower one. Every set gives bitwise the same results (README
// "Execution and determinism").
//
// Thread-safety: the choice is made once, thread-safely.
#ifndef ROWFLOW_OPS_KERNEL_SET_H_
#define ROWFLOW_OPS_KERNEL_SET_H_

#include <string>

namespace rowflow::ops {

// The set this process runs: "avx512", "avx2" or "generic".
const char* KernelSetName();

// The sets this build holds, widest first ("avx512 avx2 generic"), or the
// one native set.
std::string CompiledKernelSets();

// True if the set is picked at run time (a portable build).
bool KernelSetDispatched();

}  // namespace rowflow::ops

#endif  // ROWFLOW_OPS_KERNEL_SET_H_
