// isa_hashes: runs a fixed set of models over fixed rows through a Session
// and prints one line per case, "<dtype> <activation> <shape> <hash>", the
// hash being FNV-1a 64 of the output's bytes. tests/isa/run.sh runs the
// native build's and the portable build's under every kernel set
// (ROWFLOW_KERNELS=generic|avx2|avx512) and checks that all print
// tests/isa/golden_hashes.txt: README promises the same bits on every
// build. The kernel set that ran goes to stderr, so run.sh can tell a set
// that really ran from a refused ROWFLOW_KERNELS. Models: every activation
// the graph accepts (those refused are named on stderr), in a tiny chain,
// the seed's per-node form, a GEMM with several K blocks and a wide-output
// GEMM, F32 and F64. Weights and rows come from SplitMix64, so they are the
// same on every machine; rows mix three scales (1, 4 and 30) to reach the
// activations' tails.
//
//   isa_hashes > hashes.txt
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "graph/builder.h"
#include "graph/error.h"
#include "ops/kernel_set.h"
#include "runtime/session.h"

namespace rowflow {
namespace {

using ir::Activation;

// Extend when the activation enum grows (the same range as
// tests/differential_table_test.cc).
constexpr Activation kFirstActivation = Activation::kIdentity;
constexpr Activation kLastActivation = Activation::kLayerNorm;
constexpr int64_t kRows = 1000;

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
  }
  // Uniform in [-1, 1) on a grid of 2^-23, exact in f32 and f64.
  double Symmetric() {
    return static_cast<double>(static_cast<int64_t>(Next() >> 40) -
                               (int64_t{1} << 23)) /
           static_cast<double>(int64_t{1} << 23);
  }

 private:
  uint64_t state_;
};

struct Shape {
  const char* name;
  int64_t width;
  std::vector<int64_t> units;  // per layer; the last layer is IDENTITY
  DenseForm form;
};

const Shape kShapes[] = {
    {"tiny_3-5-2", 3, {5, 2}, DenseForm::kLayer},
    {"seed_per_node_2-2-1", 2, {2, 1}, DenseForm::kPerNode},
    {"gemm_300-129-17", 300, {129, 17}, DenseForm::kLayer},
    {"wide_1025-40", 1025, {40}, DenseForm::kLayer},
};

// The model of `shape` with `act` on every layer but an IDENTITY last one
// (or on the only layer), weights in +-1/sqrt(width), biases in +-1/2.
ir::Graph Model(const Shape& shape, ir::DType dtype, Activation act,
                SplitMix64& rng) {
  GraphBuilder b(shape.name, dtype);
  ValueRef v = b.Input("x", {shape.width});
  int64_t width = shape.width;
  for (size_t i = 0; i < shape.units.size(); ++i) {
    const int64_t units = shape.units[i];
    const double scale = 1 / std::sqrt(static_cast<double>(width));
    std::vector<double> w(units * width), bias(units);
    for (double& x : w) x = scale * rng.Symmetric();
    for (double& x : bias) x = 0.5 * rng.Symmetric();
    DenseOptions options;
    const bool last = i + 1 == shape.units.size();
    options.activation = last && i > 0 ? Activation::kIdentity : act;
    options.alpha = 0.3;
    options.form = shape.form;
    v = b.Dense(v, "layer_" + std::to_string(i), units, w, bias, options);
    width = units;
  }
  b.Output(v);
  return b.Build();
}

template <typename T>
uint64_t RunHash(const ir::Graph& g, int64_t width, SplitMix64& rng) {
  RowMatrix<T> in(kRows, width);
  const double scales[] = {1, 4, 30};
  for (int64_t r = 0; r < kRows; ++r) {
    for (int64_t c = 0; c < width; ++c)
      in.at(r, c) = static_cast<T>(scales[r % 3] * rng.Symmetric());
  }
  SessionOptions options;
  options.threads = 2;
  Session session(g, options);
  const RowMatrix<T> out = session.Run(in);
  uint64_t h = 0xcbf29ce484222325u;
  const auto* bytes = reinterpret_cast<const unsigned char*>(out.data.data());
  for (size_t i = 0; i < out.data.size() * sizeof(T); ++i) {
    h = (h ^ bytes[i]) * 0x100000001b3u;
  }
  return h;
}

int Main() {
  for (ir::DType dtype : {ir::DType::kF32, ir::DType::kF64}) {
    for (int a = static_cast<int>(kFirstActivation);
         a <= static_cast<int>(kLastActivation); ++a) {
      const auto act = static_cast<Activation>(a);
      for (const Shape& shape : kShapes) {
        // One stream per case, so a refused case does not shift the rest.
        SplitMix64 rng(static_cast<uint64_t>(a) * 1000003u +
                       static_cast<uint64_t>(&shape - kShapes) * 101u +
                       (dtype == ir::DType::kF64 ? 7u : 0u));
        ir::Graph g;
        try {
          g = Model(shape, dtype, act, rng);
        } catch (const Error& e) {
          if (e.kind() != ErrorKind::kModel) throw;
          if (dtype == ir::DType::kF32)
            std::fprintf(stderr, "isa_hashes: skipped %s (refused: %s)\n",
                         std::string(ir::ActivationName(act)).c_str(),
                         e.what());
          break;
        }
        const uint64_t h = dtype == ir::DType::kF32
                               ? RunHash<float>(g, shape.width, rng)
                               : RunHash<double>(g, shape.width, rng);
        std::printf("%s %s %s %016" PRIx64 "\n",
                    std::string(ir::DTypeName(dtype)).c_str(),
                    std::string(ir::ActivationName(act)).c_str(), shape.name,
                    h);
      }
    }
  }
  std::fprintf(stderr, "isa_hashes: kernel set %s\n", ops::KernelSetName());
  return 0;
}

}  // namespace
}  // namespace rowflow

int main() {
  try {
    return rowflow::Main();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "isa_hashes: %s\n", e.what());
    return 1;
  }
}
