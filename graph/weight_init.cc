#include "graph/weight_init.h"

#include <cmath>

namespace rowflow {

uint64_t SplitMix64::Next() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double SplitMix64::NextSigned() {
  // k - 2^52 lies in [-2^52, 2^52), so both the integer-to-double
  // conversion and the power-of-two scaling are exact: no rounding at all.
  const auto k = static_cast<int64_t>(Next() >> 11);
  return static_cast<double>(k - (int64_t{1} << 52)) * 0x1p-52;
}

double InitBound(InitKind kind, int64_t units, int64_t width) {
  // sqrt and division are correctly rounded in IEEE arithmetic, so the
  // bound is the same double everywhere.
  const auto w = static_cast<double>(width);
  const auto u = static_cast<double>(units);
  switch (kind) {
    case InitKind::kHeUniform:
      return std::sqrt(6.0 / w);
    case InitKind::kGlorotUniform:
      return std::sqrt(6.0 / (w + u));
    case InitKind::kUniform:
      return 1.0 / std::sqrt(w);
    case InitKind::kZeros:
      return 0.0;
  }
  return 0.0;
}

std::vector<double> InitWeights(InitKind kind, uint64_t seed, int64_t units,
                                int64_t width, int64_t count) {
  std::vector<double> out(static_cast<size_t>(count), 0.0);
  if (kind == InitKind::kZeros) return out;
  const double bound = InitBound(kind, units, width);
  SplitMix64 rng(seed);
  for (double& v : out) v = bound * rng.NextSigned();
  return out;
}

}  // namespace rowflow
