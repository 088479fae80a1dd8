#include "ops/tiny_mlp.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "ops/activation.h"

namespace rowflow::ops {
namespace {

using A = ir::Activation;

template <typename T>
TinyLayer<T> Layer(int64_t units, int64_t width, std::vector<T> w, A act,
                   std::vector<T> bias = {}) {
  return {units, width, std::move(w), std::move(bias), act, 0.01};
}

// Runs `net` on `rows` rows packed at x (stride width) into a fresh output.
template <typename T>
std::vector<T> Run(const TinyMlp<T>& net, const std::vector<T>& x) {
  const int64_t rows = static_cast<int64_t>(x.size()) / net.width();
  std::vector<T> y(rows * net.units());
  net.Forward(x.data(), net.width(), rows, y.data(), net.units());
  return y;
}

template <typename T>
class TinyMlpTest : public ::testing::Test {};
using Types = ::testing::Types<float, double>;
TYPED_TEST_SUITE(TinyMlpTest, Types);

TYPED_TEST(TinyMlpTest, SeedThreeLayerNetworkIsExact) {
  using T = TypeParam;
  for (bool fused : {true, false}) {
    TinyMlp<T> net({Layer<T>(2, 2, {2, 4, 4, -5}, A::kRelu),
                    Layer<T>(2, 2, {-1, 2, 1, 2}, A::kRelu),
                    Layer<T>(1, 2, {2, 7}, A::kIdentity)},
                   fused);
    EXPECT_EQ(net.fused(), fused);
    // 37 rows: two full blocks and a remainder, every one [3, 5].
    std::vector<T> x;
    for (int r = 0; r < 37; ++r) x.insert(x.end(), {T(3), T(5)});
    for (T v : Run(net, x)) EXPECT_EQ(v, T(182));
  }
}

TYPED_TEST(TinyMlpTest, SeedHiddenLayerNetworkIsExact) {
  using T = TypeParam;
  const std::vector<T> x = {3, 5, 1, -1, 0, 0, 8, 4};
  for (bool fused : {true, false}) {
    TinyMlp<T> relu_out({Layer<T>(2, 2, {2, 4, 4, -5}, A::kRelu),
                         Layer<T>(1, 2, {2, 7}, A::kRelu)},
                        fused);
    EXPECT_EQ(Run(relu_out, x), (std::vector<T>{52, 63, 0, 148}));
    TinyMlp<T> linear_out({Layer<T>(2, 2, {2, 4, 4, -5}, A::kRelu),
                           Layer<T>(1, 2, {2, 7}, A::kIdentity)},
                          fused);
    EXPECT_EQ(Run(linear_out, {3, 5}), (std::vector<T>{52}));
  }
}

TYPED_TEST(TinyMlpTest, SupportsOnlySmallWellFormedChains) {
  using T = TypeParam;
  using V = std::vector<TinyLayer<T>>;
  const TinyLayer<T> l22 = Layer<T>(2, 2, {1, 2, 3, 4}, A::kRelu);
  EXPECT_TRUE(TinyMlp<T>::Supports(V{l22, l22}));
  EXPECT_FALSE(TinyMlp<T>::Supports(V{}));
  EXPECT_FALSE(
      TinyMlp<T>::Supports(V{Layer<T>(9, 1, std::vector<T>(9), A::kRelu)}));
  EXPECT_FALSE(TinyMlp<T>::Supports(V{Layer<T>(2, 2, {1, 2, 3}, A::kRelu)}));
  EXPECT_FALSE(
      TinyMlp<T>::Supports(V{Layer<T>(2, 2, {1, 2, 3, 4}, A::kRelu, {1})}));
  EXPECT_FALSE(
      TinyMlp<T>::Supports(V{l22, Layer<T>(1, 3, {1, 2, 3}, A::kRelu)}));
  const TinyLayer<T> softmax = Layer<T>(2, 2, {1, 2, 3, 4}, A::kSoftmax);
  EXPECT_TRUE(TinyMlp<T>::Supports(V{l22, softmax}));
  EXPECT_FALSE(TinyMlp<T>::Supports(V{softmax, l22}));
}

// A random network: dims in [1, max_dim], weights, bias and inputs in
// [-1, 1], any activation (softmax only last).
template <typename T>
std::vector<TinyLayer<T>> RandomNetwork(std::mt19937& rng, int depth,
                                        A last_act, int max_dim) {
  std::uniform_int_distribution<int> dim(1, max_dim);
  std::vector<A> elementwise;
  for (A a : AllActivations())
    if (!IsLastAxis(a)) elementwise.push_back(a);
  std::uniform_int_distribution<size_t> act(0, elementwise.size() - 1);
  std::uniform_real_distribution<double> val(-1, 1);
  std::vector<TinyLayer<T>> layers;
  int64_t width = dim(rng);
  for (int k = 0; k < depth; ++k) {
    TinyLayer<T> l;
    l.units = dim(rng);
    l.width = width;
    for (int64_t i = 0; i < l.units * l.width; ++i) l.w.push_back(T(val(rng)));
    if (rng() % 2) {
      for (int64_t i = 0; i < l.units; ++i) l.bias.push_back(T(val(rng)));
    }
    l.act = k + 1 == depth ? last_act : elementwise[act(rng)];
    l.alpha = 0.25 * (val(rng) + 1);
    layers.push_back(l);
    width = l.units;
  }
  return layers;
}

// The network in double, naively; `mag` gets the same network run on
// absolute values, a bound on the size of every partial sum.
template <typename T>
void Reference(const std::vector<TinyLayer<T>>& layers, const T* x,
               std::vector<double>* out, std::vector<double>* mag) {
  std::vector<double> v(x, x + layers.front().width);
  std::vector<double> m(v.size());
  for (size_t i = 0; i < v.size(); ++i) m[i] = std::fabs(v[i]);
  for (const TinyLayer<T>& l : layers) {
    std::vector<double> z(l.units), zm(l.units);
    for (int64_t u = 0; u < l.units; ++u) {
      for (int64_t i = 0; i < l.width; ++i) {
        z[u] += double(l.w[u * l.width + i]) * v[i];
        zm[u] += std::fabs(double(l.w[u * l.width + i])) * m[i];
      }
      if (!l.bias.empty()) {
        z[u] += l.bias[u];
        zm[u] += std::fabs(double(l.bias[u]));
      }
    }
    // The table's definition of the activation, in long double.
    const ActivationParams params{static_cast<T>(l.alpha),
                                  static_cast<T>(l.beta)};
    std::vector<long double> zl(z.begin(), z.end()), yl(z.size());
    ActivationReferenceGroup(l.act, params, zl.data(), l.units, yl.data());
    for (int64_t u = 0; u < l.units; ++u) z[u] = static_cast<double>(yl[u]);
    v = z;
    m = zm;
  }
  *out = v;
  *mag = m;
}

TYPED_TEST(TinyMlpTest, RandomNetworksMatchDoubleReference) {
  using T = TypeParam;
  std::mt19937 rng(42);
  std::uniform_real_distribution<double> val(-1, 1);
  int fused_count = 0;
  double worst = 0;  // largest error, in units of the tolerance
  for (int trial = 0; trial < 400; ++trial) {
    const int depth = 1 + trial / 2 % 4;
    const A last = AllActivations()[trial / 8 % AllActivations().size()];
    // Half the networks are small enough for fused kernels.
    const int max_dim = trial % 2 ? 4 : TinyMlp<T>::kMaxUnits;
    const std::vector<TinyLayer<T>> layers =
        RandomNetwork<T>(rng, depth, last, max_dim);
    ASSERT_TRUE(TinyMlp<T>::Supports(layers));
    const TinyMlp<T> net(layers);
    fused_count += net.fused();
    const int64_t rows = 1 + rng() % 100;
    const int64_t ldx = net.width() + rng() % 3;
    const int64_t ldy = net.units() + rng() % 3;
    std::vector<T> x(rows * ldx);
    for (T& e : x) e = T(val(rng));
    const T sentinel = T(-12345);
    std::vector<T> y(rows * ldy, sentinel);
    net.Forward(x.data(), ldx, rows, y.data(), ldy);
    // Each layer adds at most ~(width + 2) roundings of the partial sums
    // plus a few ulp of activation, all bounded by the magnitude network.
    const double eps = std::numeric_limits<T>::epsilon();
    const double tol = 2.0 * depth * (TinyMlp<T>::kMaxUnits + 4) * eps;
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<double> want, mag;
      Reference(layers, x.data() + r * ldx, &want, &mag);
      for (int64_t j = 0; j < ldy; ++j) {
        const T got = y[r * ldy + j];
        if (j >= net.units()) {
          ASSERT_EQ(got, sentinel) << "wrote past units() at row " << r;
          continue;
        }
        worst =
            std::max(worst, std::fabs(got - want[j]) / (tol * (1 + mag[j])));
        ASSERT_NEAR(got, want[j], tol * (1 + mag[j]))
            << "trial " << trial << " row " << r << " unit " << j << " of "
            << rows << " rows, depth " << depth << ", last act "
            << static_cast<int>(last);
      }
    }
  }
  std::printf("worst error: %.3g of the tolerance; %d of 400 fused\n", worst,
              fused_count);
  // Both kernels ran (sanitizer builds compile fewer fused shapes).
  EXPECT_GT(fused_count, 0);
  EXPECT_LT(fused_count, 400);
}

// Output of `net` over rows [0, rows) computed in pieces of random sizes.
template <typename T>
std::vector<T> RunInPieces(const TinyMlp<T>& net, const std::vector<T>& x,
                           int64_t ldx, int64_t rows, std::mt19937& rng) {
  std::vector<T> y(rows * net.units());
  for (int64_t r = 0; r < rows;) {
    const int64_t n = std::min<int64_t>(rows - r, 1 + rng() % 40);
    net.Forward(x.data() + r * ldx, ldx, n, y.data() + r * net.units(),
                net.units());
    r += n;
  }
  return y;
}

TYPED_TEST(TinyMlpTest, TileSplitsAndKernelsAgreeBitwise) {
  using T = TypeParam;
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> val(-3, 3);
  for (int trial = 0; trial < 60; ++trial) {
    const std::vector<TinyLayer<T>> layers =
        RandomNetwork<T>(rng, 1 + trial % 3, static_cast<A>(trial % 7),
                         trial % 2 ? 4 : TinyMlp<T>::kMaxUnits);
    const TinyMlp<T> net(layers);
    const TinyMlp<T> per_layer(layers, /*allow_fused=*/false);
    // The whole run reads a strided copy and writes strided output, the
    // pieces read and write packed rows.
    const int64_t rows = 500;
    const int64_t w = net.width();
    const int64_t u = net.units();
    std::vector<T> x(rows * w);
    for (T& e : x) e = T(val(rng));
    std::vector<T> strided_x(rows * (w + 1));
    for (int64_t r = 0; r < rows; ++r) {
      std::copy_n(x.data() + r * w, w, strided_x.data() + r * (w + 1));
    }
    std::vector<T> strided_y(rows * (u + 2));
    net.Forward(strided_x.data(), w + 1, rows, strided_y.data(), u + 2);
    std::vector<T> whole(rows * u);
    for (int64_t r = 0; r < rows; ++r) {
      std::copy_n(strided_y.data() + r * (u + 2), u, whole.data() + r * u);
    }
    const std::vector<T> pieces = RunInPieces(net, x, w, rows, rng);
    const std::vector<T> other = RunInPieces(per_layer, x, w, rows, rng);
    ASSERT_EQ(
        std::memcmp(whole.data(), pieces.data(), whole.size() * sizeof(T)), 0)
        << "trial " << trial;
    ASSERT_EQ(std::memcmp(whole.data(), other.data(), whole.size() * sizeof(T)),
              0)
        << "trial " << trial;
  }
}

// Calls of more than 1 MiB of rows store with non-temporal stores after a
// head of rows that reaches register alignment; any output offset and row
// count not a multiple of the vector width or step gives the same bits as
// small calls (which never stream), and nothing outside the output moves.
TYPED_TEST(TinyMlpTest, StreamingStoresMatchSmallCallsAtAnyAlignment) {
  using T = TypeParam;
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> val(-3, 3);
  for (int trial = 0; trial < 8; ++trial) {
    const std::vector<TinyLayer<T>> layers =
        RandomNetwork<T>(rng, 1 + trial % 3, A::kRelu, 1 + trial % 4);
    const TinyMlp<T> net(layers);
    const int64_t w = net.width(), u = net.units();
    const int64_t rows = (int64_t{1} << 20) / (sizeof(T) * (w + u)) + 1 +
                         static_cast<int64_t>(rng() % 61);
    std::vector<T> x(rows * w + 16);
    for (T& e : x) e = T(val(rng));
    const int64_t x_off = static_cast<int64_t>(rng() % 8);
    std::vector<T> want(rows * u);
    for (int64_t r = 0; r < rows; r += 1000) {
      const int64_t n = std::min<int64_t>(1000, rows - r);
      net.Forward(x.data() + x_off + r * w, w, n, want.data() + r * u, u);
    }
    for (int64_t y_off = 0; y_off < 9; ++y_off) {
      const T sentinel = T(-12345);
      std::vector<T> y(rows * u + 32, sentinel);
      net.Forward(x.data() + x_off, w, rows, y.data() + y_off, u);
      ASSERT_EQ(
          std::memcmp(y.data() + y_off, want.data(), want.size() * sizeof(T)),
          0)
          << "trial " << trial << " offset " << y_off << " rows " << rows;
      for (int64_t i = 0; i < y_off; ++i) ASSERT_EQ(y[i], sentinel);
      for (size_t i = y_off + want.size(); i < y.size(); ++i)
        ASSERT_EQ(y[i], sentinel);
    }
  }
}

TYPED_TEST(TinyMlpTest, NanAndInfinityPassThrough) {
  using T = TypeParam;
  const T inf = std::numeric_limits<T>::infinity();
  TinyMlp<T> net({Layer<T>(1, 1, {1}, A::kRelu)});
  const std::vector<T> y = Run(net, {std::nanf(""), inf, -inf, 2});
  EXPECT_TRUE(std::isnan(y[0]));
  EXPECT_EQ(y[1], inf);
  EXPECT_EQ(y[2], T(0));
  EXPECT_EQ(y[3], T(2));
}

}  // namespace
}  // namespace rowflow::ops
