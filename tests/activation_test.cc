// Tests of ops/activation.h: every activation x {float, double} against a
// long double oracle (in ulps) and against ActivationReference, IEEE special
// values, position independence (bitwise), and softmax.
#include "ops/activation.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace rowflow::ops {
namespace {

using ir::Activation;

constexpr Activation kElementwise[] = {
    Activation::kIdentity, Activation::kRelu,      Activation::kTanh,
    Activation::kSigmoid,  Activation::kLeakyRelu, Activation::kSoftplus};
constexpr double kAlpha = 0.01;

// The exact function, in long double (64-bit mantissa).
long double Exact(Activation act, long double x) {
  switch (act) {
    case Activation::kIdentity:
      return x;
    case Activation::kRelu:
      return std::isnan(x) ? x : (x > 0 ? x : 0.0L);
    case Activation::kTanh:
      return std::tanh(x);
    case Activation::kSigmoid:
      return x >= 0 ? 1 / (1 + std::exp(-x)) : std::exp(x) / (1 + std::exp(x));
    case Activation::kLeakyRelu:
      return x >= 0 ? x : static_cast<long double>(kAlpha) * x;
    case Activation::kSoftplus:
      return std::isnan(x)
                 ? x
                 : std::fmax(x, 0.0L) + std::log1p(std::exp(-std::fabs(x)));
    default:
      return 0;
  }
}

// |got - exact| in units of T's last place at `exact` (subnormal spacing
// below).
template <typename T>
double UlpError(T got, long double exact) {
  if (std::isnan(exact) || std::isnan(got))
    return std::isnan(exact) && std::isnan(got) ? 0 : 1e30;
  if (std::isinf(got) || std::isinf(exact)) return got == exact ? 0 : 1e30;
  using L = std::numeric_limits<T>;
  const int e = exact == 0 ? L::min_exponent - 1
                           : std::max(std::ilogb(exact), L::min_exponent - 1);
  const long double ulp = std::ldexp(1.0L, e - (L::digits - 1));
  return static_cast<double>(std::fabs(static_cast<long double>(got) - exact) /
                             ulp);
}

// Special values plus dense and log-spaced sweeps over both signs.
template <typename T>
std::vector<T> Sweep() {
  using L = std::numeric_limits<T>;
  std::vector<T> v = {T{0},
                      -T{0},
                      L::denorm_min(),
                      L::min(),
                      L::epsilon(),
                      T{1e-30},
                      T{1e-10},
                      T{1e-5},
                      T{0.5},
                      T{1},
                      T{2.652187042551313},
                      T{3},
                      T{9},
                      T{20},
                      T{30},
                      T{50},
                      T{88},
                      T{89},
                      T{100},
                      T{104},
                      T{110},
                      L::max(),
                      L::infinity()};
  if constexpr (sizeof(T) == 8) {
    for (double x : {700.0, 709.7, 709.8, 710.0, 740.0, 745.0, 746.0, 800.0})
      v.push_back(x);
  }
  const size_t n = v.size();
  for (size_t i = 0; i < n; ++i) v.push_back(-v[i]);
  for (double x = -40; x <= 40; x += 0.0173) v.push_back(static_cast<T>(x));
  for (double x = 1e-8; x < 1e3; x *= 1.013) {
    v.push_back(static_cast<T>(x));
    v.push_back(static_cast<T>(-x));
  }
  v.push_back(L::quiet_NaN());
  v.push_back(-L::quiet_NaN());
  return v;
}

template <typename T>
std::vector<T> Activated(Activation act, std::vector<T> v) {
  ActivateInPlace(act, kAlpha, v.data(), static_cast<int64_t>(v.size()));
  return v;
}

template <typename T>
bool SameBits(T a, T b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

template <typename T>
class ActivationTest : public ::testing::Test {};
using Types = ::testing::Types<float, double>;
TYPED_TEST_SUITE(ActivationTest, Types);

TYPED_TEST(ActivationTest, MatchesExactFunctionWithin3Ulp) {
  using T = TypeParam;
  const std::vector<T> x = Sweep<T>();
  for (Activation act : kElementwise) {
    const std::vector<T> y = Activated(act, x);
    double worst = 0;
    T worst_x = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double err = UlpError(y[i], Exact(act, x[i]));
      if (err > worst) worst = err, worst_x = x[i];
    }
    // Exact operations are exact; the transcendental ones within 3 ulp.
    const bool exact = act == Activation::kIdentity || act == Activation::kRelu;
    EXPECT_LE(worst, exact ? 0.0 : 3.0)
        << ir::ActivationName(act) << " worst at x = " << worst_x;
    std::printf("%-10s %s max error %.2f ulp\n",
                std::string(ir::ActivationName(act)).c_str(),
                sizeof(T) == 4 ? "f32" : "f64", worst);
  }
}

TEST(ActivationTest, DoubleMatchesReferenceWithin1e15Relative) {
  const std::vector<double> x = Sweep<double>();
  for (Activation act : kElementwise) {
    const std::vector<double> y = Activated(act, x);
    for (size_t i = 0; i < x.size(); ++i) {
      const double ref = ActivationReference(act, kAlpha, x[i]);
      if (std::isnan(ref) || std::isinf(ref)) {
        EXPECT_TRUE(std::isnan(ref) ? std::isnan(y[i]) : y[i] == ref) << x[i];
      } else if (std::fabs(ref) >= std::numeric_limits<double>::min()) {
        EXPECT_LE(std::fabs(y[i] - ref), 1e-15 * std::fabs(ref))
            << ir::ActivationName(act) << "(" << x[i] << ")";
      } else {
        EXPECT_LE(std::fabs(y[i] - ref), 1e-322)
            << ir::ActivationName(act) << "(" << x[i] << ")";
      }
    }
  }
}

TEST(ActivationTest, SeedTanhNetworkWithin1e15) {
  // The seed's tanh network: 2 tanh(3) - tanh(9).
  std::vector<double> h = {3, 9};
  ActivateInPlace(Activation::kTanh, 0, h.data(), 2);
  EXPECT_NEAR(2 * h[0] - h[1], 0.9901095378334199, 1e-15);
}

TYPED_TEST(ActivationTest, SpecialValues) {
  using T = TypeParam;
  const T inf = std::numeric_limits<T>::infinity(),
          nan = std::numeric_limits<T>::quiet_NaN();
  const std::vector<T> x = {inf, -inf, nan, T{0}, -T{0}};
  auto y = Activated(Activation::kTanh, x);
  EXPECT_EQ(y[0], 1);
  EXPECT_EQ(y[1], -1);
  EXPECT_TRUE(std::isnan(y[2]));
  EXPECT_TRUE(SameBits(y[3], T{0}));
  EXPECT_TRUE(SameBits(y[4], -T{0}));  // tanh keeps the sign of zero
  y = Activated(Activation::kSigmoid, x);
  EXPECT_EQ(y[0], 1);
  EXPECT_EQ(y[1], 0);
  EXPECT_TRUE(std::isnan(y[2]));
  EXPECT_EQ(y[3], T{0.5});
  y = Activated(Activation::kSoftplus, x);
  EXPECT_EQ(y[0], inf);
  EXPECT_EQ(y[1], 0);
  EXPECT_TRUE(std::isnan(y[2]));
  y = Activated(Activation::kRelu, x);
  EXPECT_EQ(y[0], inf);
  EXPECT_TRUE(SameBits(y[1], T{0}));
  EXPECT_TRUE(std::isnan(y[2]));
  EXPECT_TRUE(SameBits(y[4], T{0}));  // relu(-0) = +0, as x > 0 ? x : 0
  y = Activated(Activation::kLeakyRelu, x);
  EXPECT_EQ(y[0], inf);
  EXPECT_EQ(y[1], -inf);
  EXPECT_TRUE(std::isnan(y[2]));
}

TYPED_TEST(ActivationTest, ResultDoesNotDependOnPositionInArray) {
  using T = TypeParam;
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> dist(-30, 30);
  std::vector<T> x(203);
  for (T& v : x) v = static_cast<T>(dist(rng));
  x[5] = std::numeric_limits<T>::quiet_NaN();
  x[17] = std::numeric_limits<T>::infinity();
  for (Activation act : kElementwise) {
    const std::vector<T> whole = Activated(act, x);
    // Every suffix and every short prefix: elements move between the vector
    // body and the tail, and between lanes.
    for (size_t start = 0; start < 40; ++start) {
      for (size_t n :
           {size_t{1}, size_t{3}, size_t{15}, size_t{17}, x.size() - start}) {
        if (start + n > x.size()) continue;
        std::vector<T> part(x.begin() + start, x.begin() + start + n);
        ActivateInPlace(act, kAlpha, part.data(), static_cast<int64_t>(n));
        for (size_t i = 0; i < n; ++i) {
          ASSERT_TRUE(SameBits(part[i], whole[start + i]))
              << ir::ActivationName(act) << " element " << start + i
              << " start " << start;
        }
      }
    }
  }
}

// The kernels promise the same bits on AVX-512, AVX2 and portable builds;
// these checksums (FNV-1a of the outputs) were produced by all three.
TYPED_TEST(ActivationTest, OutputBitsAreTheSameOnEveryTarget) {
  using T = TypeParam;
  std::vector<T> x = Sweep<T>();
  std::mt19937 g(1);
  for (int i = 0; i < 5000; ++i)
    x.push_back(static_cast<T>((g() / 4294967296.0 - 0.5) * 60));
  uint64_t h = 1469598103934665603ull;
  const auto mix = [&h](const std::vector<T>& v) {
    const auto* p = reinterpret_cast<const unsigned char*>(v.data());
    for (size_t i = 0; i < v.size() * sizeof(T); ++i)
      h = (h ^ p[i]) * 1099511628211ull;
  };
  for (Activation act : kElementwise) mix(Activated(act, x));
  std::vector<T> s(x.begin(), x.begin() + 37 * 100);
  SoftmaxInPlace(s.data(), 100, 37);
  mix(s);
  EXPECT_EQ(h, sizeof(T) == 4 ? 0xe74e77091e9aa5faull : 0x67469aac4e9b0576ull)
      << std::hex << h;
}

TEST(ActivationDeathTest, SoftmaxIsNotElementwise) {
  float v = 1;
  EXPECT_DEATH(ActivateInPlace(Activation::kSoftmax, 0, &v, 1), "");
}

template <typename T>
std::vector<long double> SoftmaxExact(const T* x, int64_t len) {
  long double m = -INFINITY, sum = 0;
  for (int64_t i = 0; i < len; ++i) m = std::max<long double>(m, x[i]);
  std::vector<long double> e(len);
  for (int64_t i = 0; i < len; ++i)
    sum += e[i] = std::exp(static_cast<long double>(x[i]) - m);
  for (long double& v : e) v /= sum;
  return e;
}

TYPED_TEST(ActivationTest, SoftmaxSumsToOneAndMatchesExact) {
  using T = TypeParam;
  const double tol = sizeof(T) == 4 ? 5e-7 : 1e-15;  // ~4 ulp
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> dist(-20, 20);
  for (int64_t len : {1, 2, 7, 16, 17, 33, 100, 300}) {
    const int64_t groups = 5;
    std::vector<T> x(groups * len);
    for (T& v : x) v = static_cast<T>(dist(rng));
    std::vector<T> y = x;
    SoftmaxInPlace(y.data(), groups, len);
    for (int64_t g = 0; g < groups; ++g) {
      const std::vector<long double> exact =
          SoftmaxExact(x.data() + g * len, len);
      long double sum = 0;
      for (int64_t i = 0; i < len; ++i) {
        const T v = y[g * len + i];
        sum += v;
        EXPECT_LE(std::fabs(v - exact[i]), tol * exact[i])
            << "len " << len << " i " << i;
      }
      EXPECT_NEAR(static_cast<double>(sum), 1.0, tol * 2) << "len " << len;
      // A group alone gives the same bits as inside the batch.
      std::vector<T> alone(x.begin() + g * len, x.begin() + (g + 1) * len);
      SoftmaxInPlace(alone.data(), 1, len);
      for (int64_t i = 0; i < len; ++i)
        ASSERT_TRUE(SameBits(alone[i], y[g * len + i]));
    }
  }
}

TYPED_TEST(ActivationTest, SoftmaxLimits) {
  using T = TypeParam;
  const T inf = std::numeric_limits<T>::infinity();
  std::vector<T> v = {inf, 1, -inf};
  SoftmaxInPlace(v.data(), 1, 3);
  EXPECT_EQ(v, (std::vector<T>{1, 0, 0}));
  v = {1, std::numeric_limits<T>::quiet_NaN(), 2};
  SoftmaxInPlace(v.data(), 1, 3);
  for (T y : v) EXPECT_TRUE(std::isnan(y));
  v = {1000, 1000};  // no overflow: the maximum is subtracted first
  SoftmaxInPlace(v.data(), 1, 2);
  EXPECT_EQ(v, (std::vector<T>{0.5, 0.5}));
}

}  // namespace
}  // namespace rowflow::ops
