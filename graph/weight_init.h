// Weight initializers for layer specs (`init { kind: HE_UNIFORM seed: 7 }`),
// with a generator of our own so that the same seed gives bitwise the same
// weights with every compiler, standard library and CPU: splitmix64 for the
// bits, the top 53 bits as the fraction, one correctly rounded multiply.
// std::uniform_real_distribution is implementation-defined, so it is not used.
//
// Thread-safety: SplitMix64 is a plain value (one thread per object); the
// free functions are pure.
#ifndef ROWFLOW_GRAPH_WEIGHT_INIT_H_
#define ROWFLOW_GRAPH_WEIGHT_INIT_H_

#include <cstdint>
#include <vector>

namespace rowflow {

// How an initializer draws a layer's weights. U(-a, a) bounds:
enum class InitKind {
  kHeUniform,      // a = sqrt(6 / width)
  kGlorotUniform,  // a = sqrt(6 / (width + units))
  kUniform,        // a = 1 / sqrt(width)
  kZeros,          // all 0
};

// Sebastiano Vigna's splitmix64: a 64-bit state stepped by a Weyl constant
// and scrambled; every seed (0 included) gives a full-period stream.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  // The next 64 random bits.
  uint64_t Next();

  // The next value of the form k / 2^52 - 1 for integer k in [0, 2^53):
  // uniform on [-1, 1), computed exactly.
  double NextSigned();

 private:
  uint64_t state_;
};

// The bound `a` of kind's U(-a, a) for a layer of `units` over `width`
// inputs (0 for kZeros).
double InitBound(InitKind kind, int64_t units, int64_t width);

// `count` values of U(-a, a) from a fresh SplitMix64(seed): value i is
// a * NextSigned() of the i-th draw, so a bias of `units` values drawn with
// the same seed equals the first `units` weights.
std::vector<double> InitWeights(InitKind kind, uint64_t seed, int64_t units,
                                int64_t width, int64_t count);

}  // namespace rowflow

#endif  // ROWFLOW_GRAPH_WEIGHT_INIT_H_
