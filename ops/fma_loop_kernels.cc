// One kernel copy's FMA-limit loop (ops/fma_loop.h), written on Vec so that
// each copy runs its own widest registers: 12 registers of chains, more
// than the FMA latency times the FMA ports of the x86 cores seen (4-5
// cycles x 2), so the loop is bound by FMA throughput alone. Baseline
// x86-64 has no FMA instruction; its loop multiplies and adds.
#include "ops/isa_table.h"
#include "ops/vec64.h"

namespace rowflow::ops::ROWFLOW_ISA_NS {
namespace {

using vec::Vec;

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
constexpr bool kHasFma = true;
#else
constexpr bool kHasFma = false;
#endif

template <typename T>
constexpr int kChains = 12 / Vec<T>::kParts;

// The chains converge to b / (1 - a) ~ 0.84, never denormal or infinite.
template <typename T>
double Loop(int64_t trips) {
  Vec<T> acc[kChains<T>];
  for (int k = 0; k < kChains<T>; ++k) {
    acc[k] = vec::Set1(static_cast<T>(1 + 0.001 * k));
  }
  const Vec<T> a = vec::Set1(static_cast<T>(0.9999999));
  const Vec<T> b = vec::Set1(static_cast<T>(1e-7));
  for (int64_t i = 0; i < trips; ++i) {
    RF_VEC_UNROLL for (int k = 0; k < kChains<T>; ++k) {
      if constexpr (kHasFma) {
        acc[k] = vec::Fma(acc[k], a, b);
      } else {
        acc[k] = acc[k] * a + b;
      }
    }
  }
  Vec<T> s = acc[0];
  for (int k = 1; k < kChains<T>; ++k) s = s + acc[k];
  return static_cast<double>(vec::ReduceAdd(s));
}

}  // namespace

const FmaLoop kFmaLoop = {
    kHasFma ? (Vec<float>::kParts == 1 ? "avx512 fma" : "avx2 fma")
            : "sse2 mul+add",
    int64_t{2} * kChains<float>* Vec<float>::kLanes,
    int64_t{2} * kChains<double>* Vec<double>::kLanes, &Loop<float>,
    &Loop<double>};

}  // namespace rowflow::ops::ROWFLOW_ISA_NS
