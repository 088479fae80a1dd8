// The machine's limits that `rowflow bench` sets its figures against: the
// FMA limit (a loop of independent fused multiply-adds in registers, the
// vectors of the kernel set this process runs, f32 and f64: ops/fma_loop.h) and
// the memory copy bandwidth (memcpy of a buffer far larger than the last-level
// cache, read + write bytes), each on a given number of threads at once.
//
// Thread-safety: free functions without shared state; each call starts and
// joins its own threads, so run one at a time for figures worth reading.
#ifndef ROWFLOW_TOOLS_CLI_MACHINE_LIMITS_H_
#define ROWFLOW_TOOLS_CLI_MACHINE_LIMITS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace rowflow::cli {

struct FmaLimit {
  std::string isa;  // "avx512 fma", "avx2 fma" or "sse2 mul+add"
  double gflops_f32 = 0;
  double gflops_f64 = 0;
};

// The FMA limit on `threads` threads, GFLOP/s (2 FLOP per lane and FMA),
// the best of `attempts` timings of about 50 ms each.
FmaLimit MeasureFmaLimit(int threads, int attempts = 3);

// Bytes of each of the two buffers MeasureCopyBandwidth copies between:
// twice the L3 the OS reports, 256 MiB .. 1 GiB.
int64_t CopyBufferBytes();

// Read + write GB/s of memcpy over `bytes` (split evenly over the threads)
// on each of `threads` threads, the best of `attempts` copies after a first
// touch; one pair of buffers for all.
std::vector<double> MeasureCopyBandwidth(const std::vector<int>& threads,
                                         int64_t bytes, int attempts = 3);

}  // namespace rowflow::cli

#endif  // ROWFLOW_TOOLS_CLI_MACHINE_LIMITS_H_
