// Picks the kernel set (ops/kernel_set.h): the widest copy that this CPU
// runs, or the narrower one ROWFLOW_KERNELS names.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "ops/fma_loop.h"
#include "ops/isa_table.h"
#include "ops/kernel_set.h"

#if defined(ROWFLOW_DISPATCH)
namespace rowflow::ops::avx2 {
extern const isa::Table kTable;
}  // namespace rowflow::ops::avx2
namespace rowflow::ops::avx512 {
extern const isa::Table kTable;
}  // namespace rowflow::ops::avx512
#endif

namespace rowflow::ops {
namespace {

struct Candidate {
  const isa::Table* table;
  bool runs;  // this CPU (and its OS) has the instructions
};

#if defined(ROWFLOW_DISPATCH)
// The copies' -march levels (ops/CMakeLists.txt): x86-64-v4 is AVX-512
// F/BW/CD/DQ/VL, x86-64-v3 AVX2, FMA, BMI1/2, F16C, LZCNT and MOVBE.
// libgcc's checks include the OS's saving of the registers (XGETBV).
bool RunsAvx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") &&
         __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512cd") &&
         __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx2") &&
         __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2");
}
bool RunsAvx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
         __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") &&
         __builtin_cpu_supports("f16c");
}
#endif

const isa::Table* Choose() {
#if defined(ROWFLOW_DISPATCH)
  const Candidate candidates[] = {{&avx512::kTable, RunsAvx512()},
                                  {&avx2::kTable, RunsAvx2()},
                                  {&generic::kTable, true}};
  const char* want = std::getenv("ROWFLOW_KERNELS");
  if (want != nullptr && *want != '\0') {
    for (const Candidate& c : candidates) {
      if (std::strcmp(want, c.table->name) != 0) continue;
      if (c.runs) return c.table;
      std::fprintf(stderr,
                   "rowflow: warning: ROWFLOW_KERNELS=%s: this CPU lacks "
                   "those instructions; using the widest it has\n",
                   want);
      want = nullptr;
      break;
    }
    if (want != nullptr) {
      std::fprintf(stderr,
                   "rowflow: warning: ROWFLOW_KERNELS=%s: not a kernel set "
                   "(avx512, avx2, generic); using the widest this CPU has\n",
                   want);
    }
  }
  for (const Candidate& c : candidates) {
    if (c.runs) return c.table;
  }
#endif
  return &generic::kTable;
}

}  // namespace

const isa::Table& isa::Active() {
  static const Table* const table = Choose();
  return *table;
}

const char* KernelSetName() { return isa::Active().name; }

const FmaLoop& ActiveFmaLoop() { return *isa::Active().fma_loop; }

std::string CompiledKernelSets() {
#if defined(ROWFLOW_DISPATCH)
  return std::string(avx512::kTable.name) + " " + avx2::kTable.name + " " +
         generic::kTable.name;
#else
  return generic::kTable.name;
#endif
}

bool KernelSetDispatched() {
#if defined(ROWFLOW_DISPATCH)
  return true;
#else
  return false;
#endif
}

}  // namespace rowflow::ops
