// Tests of ops/gemm.h: PackedDense against a naive long double reference
// over random shapes and every activation, the seed's exact integer example,
// and determinism (bitwise) across tile sizes, offsets, strides and threads.
#include "ops/gemm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <span>
#include <thread>
#include <vector>

#include "graph/activation.h"
#include "ops/activation.h"

namespace rowflow::ops {
namespace {

using ir::Activation;

const std::span<const Activation> kAll = AllActivations();

// The test's parameters for `act` (ONNX's defaults; LEAKY_RELU 0.1).
// The defaults of graph/activation.h; `alpha` for LEAKY_RELU.
ActivationParams ParamsFor(Activation act, double alpha) {
  const ir::ActivationInfo& info = ir::GetActivation(act);
  if (act == Activation::kLeakyRelu) return {alpha, 0.5};
  return {info.Default(ir::ActivationParam::kAlpha).value_or(alpha),
          info.Default(ir::ActivationParam::kBeta).value_or(0.5)};
}

// One dense layer with random contents, its inputs, and strided buffers.
template <typename T>
struct Layer {
  int64_t units, width, rows, ldx, ldy;
  Activation act;
  double alpha = 0.1;
  bool has_bias;
  std::vector<T> w, b, x;

  Layer(int64_t units_, int64_t width_, int64_t rows_, Activation act_,
        bool bias, std::mt19937& rng, int64_t pad_x = 3, int64_t pad_y = 5)
      : units(units_),
        width(width_),
        rows(rows_),
        ldx(width_ + pad_x),
        ldy(units_ + pad_y),
        act(act_),
        has_bias(bias) {
    std::uniform_real_distribution<double> dist(-1, 1);
    w.resize(units * width);
    b.resize(units);
    x.resize(rows * ldx);
    for (T& v : w) v = static_cast<T>(dist(rng));
    for (T& v : b) v = static_cast<T>(dist(rng));
    for (T& v : x) v = static_cast<T>(4 * dist(rng));
    // NaN in the padding: a kernel reading past `width` would show.
    for (int64_t r = 0; r < rows; ++r) {
      std::fill(&x[r * ldx + width], &x[r * ldx + ldx],
                std::numeric_limits<T>::quiet_NaN());
    }
  }
  PackedDense<T> Pack() const {
    return PackedDense<T>(w.data(), units, width, has_bias ? b.data() : nullptr,
                          act, ParamsFor(act, alpha));
  }
  // y, (rows, ldy), with its padding filled with a sentinel.
  std::vector<T> Run(const PackedDense<T>& d) const {
    std::vector<T> y(rows * ldy, T{-777});
    d.Forward(x.data(), ldx, rows, y.data(), ldy);
    return y;
  }
};

// Checks y against the layer computed in long double. An output's allowed
// error is c * sqrt(width) * eps * (sum_i |x_i w_i| + |b|), the typical
// growth of a rounded sum, plus 4 ulp for the activation.
template <typename T>
void ExpectNearReference(const Layer<T>& l, const std::vector<T>& y) {
  const double eps = std::numeric_limits<T>::epsilon();
  const double c = 8;
  for (int64_t r = 0; r < l.rows; ++r) {
    std::vector<long double> z(l.units), scale(l.units);
    for (int64_t u = 0; u < l.units; ++u) {
      long double s = l.has_bias ? l.b[u] : 0,
                  a = l.has_bias ? std::fabs(l.b[u]) : 0;
      for (int64_t i = 0; i < l.width; ++i) {
        const long double p =
            static_cast<long double>(l.x[r * l.ldx + i]) * l.w[u * l.width + i];
        s += p;
        a += std::fabs(p);
      }
      z[u] = s;
      scale[u] = c *
                 std::sqrt(static_cast<double>(std::max<int64_t>(l.width, 1))) *
                 eps * a;
    }
    const ActivationParams params = ParamsFor(l.act, l.alpha);
    if (IsLastAxis(l.act)) {
      const long double zerr = *std::max_element(scale.begin(), scale.end());
      std::vector<long double> ref(l.units);
      ActivationReferenceGroup(l.act, params, z.data(), l.units, ref.data());
      for (int64_t u = 0; u < l.units; ++u) {
        // Softmax is relative to its value (below the normal range only
        // absolute accuracy is left); log-softmax moves with z (absolute).
        const long double tol =
            l.act == Activation::kSoftmax
                ? ref[u] * (2 * zerr + 8 * eps) + std::numeric_limits<T>::min()
                : 2 * zerr + 8 * eps * std::fabs(ref[u]);
        ASSERT_LE(std::fabs(y[r * l.ldy + u] - ref[u]), tol)
            << "row " << r << " unit " << u << " " << ir::ActivationName(l.act);
      }
    } else {
      for (int64_t u = 0; u < l.units; ++u) {
        const long double ref = ActivationReference(l.act, params, z[u]);
        // z's error moves the result by at most the activation's spread
        // over z +- scale (scale itself for slopes up to 1).
        const long double spread = std::max(
            std::fabs(ActivationReference(l.act, params, z[u] + scale[u]) -
                      ref),
            std::fabs(ActivationReference(l.act, params, z[u] - scale[u]) -
                      ref));
        ASSERT_LE(
            std::fabs(y[r * l.ldy + u] - ref),
            std::max<long double>(scale[u], spread) + 4 * eps * std::fabs(ref))
            << "row " << r << " unit " << u << " of (" << l.units << ", "
            << l.width << ") " << ir::ActivationName(l.act);
      }
    }
    for (int64_t u = l.units; u < l.ldy; ++u) {
      ASSERT_EQ(y[r * l.ldy + u], T{-777}) << "wrote past the row's units";
    }
  }
}

template <typename T>
bool SameBits(const T* a, const T* b, int64_t n) {
  return std::memcmp(a, b, sizeof(T) * n) == 0;
}

template <typename T>
class GemmTest : public ::testing::Test {};
using Types = ::testing::Types<float, double>;
TYPED_TEST_SUITE(GemmTest, Types);

TYPED_TEST(GemmTest, SeedIntegerExampleIsExact) {
  using T = TypeParam;
  const T w[] = {2, 4, 4, -5}, x[] = {3, 5};
  T y[2];
  PackedDense<T>(w, 2, 2, nullptr, Activation::kRelu, {})
      .Forward(x, 2, 1, y, 2);
  EXPECT_EQ(y[0], 26);
  EXPECT_EQ(y[1], 0);
  PackedDense<T>(w, 2, 2, nullptr, Activation::kIdentity, {})
      .Forward(x, 2, 1, y, 2);
  EXPECT_EQ(y[1], -13);
}

TYPED_TEST(GemmTest, RandomShapesMatchReference) {
  using T = TypeParam;
  std::mt19937 rng(42);
  std::uniform_int_distribution<int64_t> units(1, 300), width(1, 300),
      rows(1, 100);
  for (int iter = 0; iter < 60; ++iter) {
    const Activation act = kAll[iter % kAll.size()];
    const Layer<T> l(units(rng), width(rng), rows(rng), act, iter % 3 != 0, rng,
                     1 + iter % 4, 1 + iter % 5);
    ExpectNearReference(l, l.Run(l.Pack()));
  }
}

TYPED_TEST(GemmTest, EveryActivationOnEveryKernelShape) {
  using T = TypeParam;
  std::mt19937 rng(3);
  // Narrow (dot kernel), one panel, panel remainders, several K blocks.
  for (int64_t units : {1, 7, 10, 16, 17, 32, 33, 64, 100}) {
    for (int64_t width : {1, 2, 15, 16, 17, 64, 300, 784}) {
      for (Activation act : kAll) {
        const Layer<T> l(units, width, 29, act, (units + width) % 2 == 0, rng);
        ExpectNearReference(l, l.Run(l.Pack()));
      }
    }
  }
}

TYPED_TEST(GemmTest, ZeroWidthGivesActivatedBias) {
  using T = TypeParam;
  const T b[] = {-1, 2, 3};
  T y[3];
  PackedDense<T>(nullptr, 3, 0, b, Activation::kRelu, {})
      .Forward(nullptr, 0, 1, y, 3);
  EXPECT_EQ(y[0], 0);
  EXPECT_EQ(y[1], 2);
  EXPECT_EQ(y[2], 3);
}

// Each row computed on its own, inside tiles of different sizes and offsets,
// with other strides, gives exactly the bits of the whole-batch result.
TYPED_TEST(GemmTest, RowResultIsBitwiseIndependentOfTiling) {
  using T = TypeParam;
  std::mt19937 rng(5);
  for (int64_t units : {3, 10, 16, 40, 256, 300}) {
    for (int64_t width : {5, 64, 300, 784}) {
      for (Activation act :
           {Activation::kTanh, Activation::kSoftmax, Activation::kIdentity}) {
        const Layer<T> l(units, width, 53, act, true, rng);
        const PackedDense<T> d = l.Pack();
        const std::vector<T> whole = l.Run(d);
        for (int64_t tile : {1, 2, 5, 12, 13, 25}) {
          for (int64_t offset : {0, 1, 7}) {
            // A copy of the input with other strides, starting mid-batch.
            const int64_t ldx = width + 1 + offset, ldy = units + 2 + offset;
            for (int64_t r0 = offset; r0 < l.rows; r0 += tile) {
              const int64_t n = std::min(tile, l.rows - r0);
              std::vector<T> x(n * ldx), y(n * ldy);
              for (int64_t r = 0; r < n; ++r) {
                std::copy_n(&l.x[(r0 + r) * l.ldx], width, &x[r * ldx]);
              }
              d.Forward(x.data(), ldx, n, y.data(), ldy);
              for (int64_t r = 0; r < n; ++r) {
                ASSERT_TRUE(
                    SameBits(&y[r * ldy], &whole[(r0 + r) * l.ldy], units))
                    << "row " << r0 + r << " in a tile of " << n << ", ("
                    << units << ", " << width << ")";
              }
            }
          }
        }
      }
    }
  }
}

// Calls of 1..30 rows (their last row block, or all of them, short enough
// for the small-M kernel, in blocks of up to 4 rows) give each row the bits it
// gets inside a batch of 420 rows: whole panel-kernel row blocks on every
// kernel set (kMR 1, 2, 3, 5, 12 or 28 divides 420).
TYPED_TEST(GemmTest, FewRowCallsEqualThePanelKernelBitwise) {
  using T = TypeParam;
  constexpr int64_t kBatch = 420;
  std::mt19937 rng(13);
  std::uniform_int_distribution<int64_t> units(17, 600), width(0, 700);
  for (int iter = 0; iter < 40; ++iter) {
    // Random panel shapes, and the edges: one panel, partial panels,
    // several K blocks.
    const int64_t u = iter < 4 ? int64_t{16} << iter : units(rng);
    const int64_t w = iter < 4 ? 64 * (iter + 1) : width(rng);
    const Activation act = kAll[iter % kAll.size()];
    const Layer<T> l(u, w, kBatch, act, iter % 3 != 0, rng, 1 + iter % 3,
                     iter % 4);
    const PackedDense<T> d = l.Pack();
    const std::vector<T> batch = l.Run(d);
    for (int64_t rows = 1; rows <= 30; ++rows) {
      // The rows from a place in the batch that is no block boundary.
      const int64_t r0 = 7 * rows;
      std::vector<T> y(rows * l.ldy, T{-777});
      d.Forward(&l.x[r0 * l.ldx], l.ldx, rows, y.data(), l.ldy);
      for (int64_t r = 0; r < rows; ++r) {
        ASSERT_TRUE(SameBits(&y[r * l.ldy], &batch[(r0 + r) * l.ldy], u))
            << "row " << r << " of " << rows << ", (" << u << ", " << w << "), "
            << ir::GetActivation(act).name;
      }
      // Nothing past the units is written.
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t j = u; j < l.ldy; ++j) ASSERT_EQ(y[r * l.ldy + j], -777);
      }
    }
  }
}

TYPED_TEST(GemmTest, ConcurrentCallsGiveTheSameBits) {
  using T = TypeParam;
  std::mt19937 rng(9);
  for (int64_t units : {10, 300}) {
    const Layer<T> l(units, 200, 64, Activation::kSigmoid, true, rng);
    const PackedDense<T> d = l.Pack();
    const std::vector<T> expected = l.Run(d);
    std::vector<std::vector<T>> got(4);
    std::vector<std::thread> threads;
    for (auto& g : got) {
      threads.emplace_back([&] {
        for (int rep = 0; rep < 20; ++rep) g = l.Run(d);
      });
    }
    for (std::thread& t : threads) t.join();
    for (const auto& g : got) {
      EXPECT_TRUE(
          SameBits(g.data(), expected.data(), static_cast<int64_t>(g.size())));
    }
  }
}

// FNV-1a over the bytes of v, continuing from h.
template <typename T>
uint64_t Fnv(uint64_t h, const std::vector<T>& v) {
  const auto* p = reinterpret_cast<const unsigned char*>(v.data());
  for (size_t i = 0; i < v.size() * sizeof(T); ++i)
    h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

// Uniform in [-scale, scale), from mt19937's specified sequence only.
template <typename T>
std::vector<T> Portable(size_t n, uint32_t seed, double scale) {
  std::mt19937 g(seed);
  std::vector<T> v(n);
  for (T& x : v) x = static_cast<T>((g() / 4294967296.0 * 2 - 1) * scale);
  return v;
}

// The kernels promise the same bits on AVX-512, AVX2 and portable builds;
// these checksums were produced by all three.
TYPED_TEST(GemmTest, OutputBitsAreTheSameOnEveryTarget) {
  using T = TypeParam;
  uint64_t h = 1469598103934665603ull;
  for (int64_t units : {1, 3, 10, 16, 17, 40, 300}) {
    for (int64_t width : {5, 64, 300}) {
      // The activations these checksums were taken on, in this order.
      for (Activation act :
           {Activation::kIdentity, Activation::kRelu, Activation::kTanh,
            Activation::kSigmoid, Activation::kLeakyRelu, Activation::kSoftplus,
            Activation::kSoftmax}) {
        const int64_t rows = 19;
        const std::vector<T> w = Portable<T>(units * width, units + width, 0.3);
        const std::vector<T> b = Portable<T>(units, 7, 0.5),
                             x = Portable<T>(rows * width, 11, 2);
        const PackedDense<T> d(w.data(), units, width, b.data(), act,
                               {0.01, 0.5});
        std::vector<T> y(rows * units);
        d.Forward(x.data(), width, rows, y.data(), units);
        h = Fnv(h, y);
      }
    }
  }
  EXPECT_EQ(h, sizeof(T) == 4 ? 0x72b04b1939499058ull : 0x5ea7352fe0eea73full)
      << std::hex << h;
}

}  // namespace
}  // namespace rowflow::ops
