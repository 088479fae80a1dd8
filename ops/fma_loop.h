// The FMA limit's loop: independent chains of acc = acc * a + b in the
// registers of the kernel set this process runs (ops/kernel_set.h), the
// rate no dense kernel can beat. `rowflow bench` times it to set its
// figures against (tools/cli/machine_limits.h).
//
// Thread-safety: stateless functions; run one per thread.
#ifndef ROWFLOW_OPS_FMA_LOOP_H_
#define ROWFLOW_OPS_FMA_LOOP_H_

#include <cstdint>

namespace rowflow::ops {

struct FmaLoop {
  // What the loop runs: "avx512 fma", "avx2 fma" or "sse2 mul+add".
  const char* isa;
  // Floating-point operations per trip of f32 / f64 (2 per lane and FMA).
  int64_t flop_per_trip_f32;
  int64_t flop_per_trip_f64;
  // Runs `trips` trips; returns a sum of the chains so the loop is kept.
  double (*f32)(int64_t trips);
  double (*f64)(int64_t trips);
};

// The loop of the active kernel set.
const FmaLoop& ActiveFmaLoop();

}  // namespace rowflow::ops

#endif  // ROWFLOW_OPS_FMA_LOOP_H_
