// Tests of ops/activation.h, table-driven over ops::AllActivations(): every
// activation x {float, double} against the long double oracle
// (ActivationReference) in ulps -- every float bit pattern in Release
// builds -- IEEE special values, position independence (bitwise), the
// last-axis kinds on sampled groups, and tiny path = GEMM path = elementwise
// kernel = reference bitwise on special values.
#include "ops/activation.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "graph/activation.h"
#include "ops/activation_table.h"
#include "ops/gemm.h"
#include "ops/tiny_mlp.h"

namespace rowflow::ops {
namespace {

// The table as the library's own flags compile it (ops/isa.h).
namespace act = ROWFLOW_ISA_NS::act;
using ir::Activation;

std::vector<Activation> Elementwise() {
  std::vector<Activation> v;
  for (Activation a : AllActivations())
    if (!IsLastAxis(a)) v.push_back(a);
  return v;
}

std::vector<Activation> LastAxis() {
  std::vector<Activation> v;
  for (Activation a : AllActivations())
    if (IsLastAxis(a)) v.push_back(a);
  return v;
}

// The parameters tested: ONNX's defaults, rounded to T as the kernels do.
template <typename T>
ActivationParams ParamsFor(Activation act) {
  // The defaults of graph/activation.h, as a model without alpha/beta gets.
  const ir::ActivationInfo& info = ir::GetActivation(act);
  const T alpha =
      static_cast<T>(info.Default(ir::ActivationParam::kAlpha).value_or(0.01));
  const T beta =
      static_cast<T>(info.Default(ir::ActivationParam::kBeta).value_or(0.5));
  return {static_cast<double>(alpha), static_cast<double>(beta)};
}

// Rows computed in registers are one IEEE rounding of the exact value (up
// to the oracle's own double rounding); the others are held to 3 ulp, but
// f64 GELU to the 7 its header states.
double UlpBound(Activation act, bool f64 = false) {
  if (f64 && act == Activation::kGelu) return 7.0;
  return act::FormOf(act) == act::Form::kRegister ? 0.501 : 3.0;
}

std::string Name(Activation act) {
  return std::string(ir::ActivationName(act));
}

template <typename T>
long double Exact(Activation act, long double x) {
  return ActivationReference(act, ParamsFor<T>(act), x);
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

// UlpError for a float against a double oracle, in double arithmetic.
double UlpErrorF32(float got, double exact) {
  if (std::isnan(exact) || std::isnan(got))
    return std::isnan(exact) && std::isnan(got) ? 0 : 1e30;
  if (std::isinf(got) || std::isinf(exact)) return got == exact ? 0 : 1e30;
  const int e = exact == 0 ? -126 : std::max(std::ilogb(exact), -126);
  return std::fabs(got - exact) / std::ldexp(1.0, e - 23);
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
  ActivateInPlace(act, ParamsFor<T>(act), v.data(),
                  static_cast<int64_t>(v.size()));
  return v;
}

template <typename T>
void SoftmaxInPlace(T* data, int64_t groups, int64_t len) {
  ActivateGroupsInPlace(Activation::kSoftmax, {}, data, groups, len);
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
  for (Activation act : Elementwise()) {
    const std::vector<T> y = Activated(act, x);
    double worst = 0;
    T worst_x = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double err = UlpError(y[i], Exact<T>(act, x[i]));
      if (err > worst) worst = err, worst_x = x[i];
    }
    // Exact operations are exact; the transcendental ones within 3 ulp.
    const bool exact = act == Activation::kIdentity || act == Activation::kRelu;
    EXPECT_LE(worst, exact ? 0.0 : UlpBound(act, sizeof(T) == 8))
        << ir::ActivationName(act) << " worst at x = " << worst_x;
    std::printf("%-10s %s max error %.2f ulp\n",
                std::string(ir::ActivationName(act)).c_str(),
                sizeof(T) == 4 ? "f32" : "f64", worst);
  }
}

TEST(ActivationTest, DoubleMatchesReferenceWithin1e15Relative) {
  const std::vector<double> x = Sweep<double>();
  for (Activation act : Elementwise()) {
    const std::vector<double> y = Activated(act, x);
    for (size_t i = 0; i < x.size(); ++i) {
      const double ref = static_cast<double>(Exact<double>(act, x[i]));
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
  ActivateInPlace(Activation::kTanh, {}, h.data(), 2);
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
  for (Activation act : Elementwise()) {
    const std::vector<T> whole = Activated(act, x);
    // Every suffix and every short prefix: elements move between the vector
    // body and the tail, and between lanes.
    for (size_t start = 0; start < 40; ++start) {
      for (size_t n :
           {size_t{1}, size_t{3}, size_t{15}, size_t{17}, x.size() - start}) {
        if (start + n > x.size()) continue;
        std::vector<T> part(x.begin() + start, x.begin() + start + n);
        ActivateInPlace(act, ParamsFor<T>(act), part.data(),
                        static_cast<int64_t>(n));
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
  // The activations these checksums were taken on, in this order.
  for (Activation act :
       {Activation::kIdentity, Activation::kRelu, Activation::kTanh,
        Activation::kSigmoid, Activation::kLeakyRelu, Activation::kSoftplus}) {
    std::vector<T> y = x;
    ActivateInPlace(act, {0.01, 0.5}, y.data(), static_cast<int64_t>(y.size()));
    mix(y);
  }
  std::vector<T> s(x.begin(), x.begin() + 37 * 100);
  SoftmaxInPlace(s.data(), 100, 37);
  mix(s);
  EXPECT_EQ(h, sizeof(T) == 4 ? 0xe74e77091e9aa5faull : 0x67469aac4e9b0576ull)
      << std::hex << h;
}

// Every activation (params 0.2, 0.5; last-axis kinds in groups of 50) on
// uniform values in [-40, 40) and random bit patterns (NaNs, infinities,
// subnormals): FNV-1a of the f32 then f64 outputs, as produced by native
// AVX-512, -march=haswell (AVX2) and -march=x86-64 (portable) builds alike.
// A new row's checksum is printed here; record it once all three agree.
TEST(ActivationTest, EveryActivationGivesTheSameBitsOnEveryTarget) {
  const std::map<Activation, uint64_t> kGolden = {
      {Activation::kIdentity, 0x9b71ed43178bbe84ull},
      {Activation::kRelu, 0xa58fa77471ef4fbcull},
      {Activation::kTanh, 0x0db2a54727a02e15ull},
      {Activation::kSigmoid, 0x450c6fb895e9664dull},
      {Activation::kLeakyRelu, 0x03d7b9b61a94d947ull},
      {Activation::kSoftplus, 0xc652dd7dcff4bec2ull},
      {Activation::kSoftmax, 0xbc9ae8573a88e38dull},
      {Activation::kElu, 0x7ff51472913b887aull},
      {Activation::kGelu, 0x8d3cdb97ccca2f05ull},
      {Activation::kGeluTanh, 0x18818eafe183938eull},
      {Activation::kSilu, 0x45b864d13a141866ull},
      {Activation::kHardSigmoid, 0x91d3b8b36408dd80ull},
      {Activation::kLogSoftmax, 0xcf6cf51868aec48aull},
      {Activation::kClip, 0x0f288a6e05e0251full},
      {Activation::kErf, 0x64be45223548966eull},
      {Activation::kLayerNorm, 0xa15cf8cbb47280c2ull},
  };
  std::vector<float> xf;
  std::vector<double> xd;
  std::mt19937 g(1);
  for (int i = 0; i < 200000; ++i) {
    const double v = (g() / 4294967296.0 - 0.5) * 80;
    xf.push_back(static_cast<float>(v));
    xd.push_back(v);
  }
  for (int i = 0; i < 50000; ++i) {
    const uint32_t b = g();
    float f;
    std::memcpy(&f, &b, 4);
    xf.push_back(f);
    const uint64_t hi = g();
    const uint64_t b2 = (hi << 32) | g();
    double d;
    std::memcpy(&d, &b2, 8);
    xd.push_back(d);
  }
  for (Activation act : AllActivations()) {
    uint64_t h = 1469598103934665603ull;
    const auto mix = [&h](const void* p, size_t n) {
      const auto* c = static_cast<const unsigned char*>(p);
      for (size_t i = 0; i < n; ++i) h = (h ^ c[i]) * 1099511628211ull;
    };
    std::vector<float> f = xf;
    std::vector<double> d = xd;
    ActivateGroupsInPlace(act, {0.2, 0.5}, f.data(),
                          static_cast<int64_t>(f.size()) / 50, 50);
    ActivateGroupsInPlace(act, {0.2, 0.5}, d.data(),
                          static_cast<int64_t>(d.size()) / 50, 50);
    mix(f.data(), f.size() * sizeof(float));
    mix(d.data(), d.size() * sizeof(double));
    const auto it = kGolden.find(act);
    if (it == kGolden.end()) {
      std::printf("%s: no checksum recorded; this build gives 0x%016llx\n",
                  Name(act).c_str(), static_cast<unsigned long long>(h));
      continue;
    }
    EXPECT_EQ(h, it->second) << Name(act) << std::hex << " gives 0x" << h;
  }
}

TEST(ActivationDeathTest, SoftmaxIsNotElementwise) {
  float v = 1;
  for (Activation act : LastAxis())
    EXPECT_DEATH(ActivateInPlace(act, {}, &v, 1), "") << Name(act);
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

// ---- Table-wide tests
// --------------------------------------------------------

TEST(ActivationTableTest, EveryNamedActivationHasAKernel) {
  int named = 0;
  for (int v = 0; v < 256; ++v) {
    const auto act = static_cast<Activation>(v);
    const bool has_name = ir::ActivationName(act) != "?";
    EXPECT_EQ(HasKernel(act), has_name) << v;
    named += has_name;
  }
  EXPECT_EQ(named, static_cast<int>(AllActivations().size()));
  EXPECT_EQ(LastAxis(), (std::vector<Activation>{Activation::kSoftmax,
                                                 Activation::kLogSoftmax,
                                                 Activation::kLayerNorm}));
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

// Float bit patterns against the definition in double (accurate to well
// under 0.01 float ulp). Every 61st pattern by default (70 million: all
// exponents, both signs, NaNs, and every residue of the mantissa over the
// run), every 1021st in sanitizer builds (20-50x slower), so that CI stays
// short; ROWFLOW_EXHAUSTIVE=1 in the environment checks all 2^32 (one to
// two minutes per activation in Release).
class ExhaustiveF32Test : public ::testing::TestWithParam<Activation> {};

TEST_P(ExhaustiveF32Test, FloatsWithinTheirUlpBound) {
  const Activation act = GetParam();
  const ActivationParams params = ParamsFor<float>(act);
  const char* all = std::getenv("ROWFLOW_EXHAUSTIVE");
  const uint64_t stride = all != nullptr && std::string(all) == "1" ? 1
                          : kSanitized                              ? 1021
                                                                    : 61;
  constexpr int kChunk = 1 << 16;
  std::vector<float> x(kChunk), y(kChunk);
  double worst = 0;
  float worst_x = 0;
  uint64_t checked = 0, bad = 0;
  act::Visit(act, [&](auto row) {
    using Row = decltype(row);
    if constexpr (Row::kForm != act::Form::kLastAxis) {
      for (uint64_t b = 0; b < (uint64_t{1} << 32);) {
        int n = 0;
        for (; n < kChunk && b < (uint64_t{1} << 32); ++n, b += stride) {
          const auto bits = static_cast<uint32_t>(b);
          std::memcpy(&x[n], &bits, 4);
        }
        std::copy_n(x.begin(), n, y.begin());
        ActivateInPlace(act, params, y.data(), n);
        for (int i = 0; i < n; ++i) {
          const double want = Row::Reference(static_cast<double>(x[i]), params);
          const double err = UlpErrorF32(y[i], want);
          if (err > worst) worst = err, worst_x = x[i];
          bad += err > UlpBound(act);
        }
        checked += n;
      }
    }
  });
  EXPECT_EQ(bad, 0u) << Name(act) << ": worst " << worst
                     << " ulp at x = " << worst_x;
  std::printf(
      "%-12s f32 %llu inputs (stride %llu), max error %.3f ulp (at %a)\n",
      Name(act).c_str(), static_cast<unsigned long long>(checked),
      static_cast<unsigned long long>(stride), worst, worst_x);
}

INSTANTIATE_TEST_SUITE_P(Elementwise, ExhaustiveF32Test,
                         ::testing::ValuesIn(Elementwise()),
                         [](const auto& info) { return Name(info.param); });

// f64: the sweep plus 2^18 draws, uniform on [-45, 45] and log-uniform in
// magnitude over the whole range, both signs.
TEST(ActivationTest, SampledDoublesWithinTheirUlpBound) {
  std::vector<double> x = Sweep<double>();
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> lin(-45, 45), lg(-1074, 1024);
  for (int i = 0; i < (1 << 17); ++i) {
    x.push_back(lin(rng));
    const double m = std::exp2(lg(rng));
    x.push_back(rng() & 1 ? m : -m);
  }
  for (Activation act : Elementwise()) {
    const std::vector<double> y = Activated(act, x);
    double worst = 0, worst_x = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double err = UlpError(y[i], Exact<double>(act, x[i]));
      if (err > worst) worst = err, worst_x = x[i];
    }
    EXPECT_LE(worst, UlpBound(act, true))
        << Name(act) << " worst at " << worst_x;
    std::printf("%-12s f64 %zu inputs, max error %.3f ulp (at %a)\n",
                Name(act).c_str(), x.size(), worst, worst_x);
  }
}

// NaN -> NaN, and the exact limits and zeros of the table's definitions:
// the kernel equals the reference rounded to T, bit for bit.
TYPED_TEST(ActivationTest, SpecialValuesMatchTheReferenceBitwise) {
  using T = TypeParam;
  using L = std::numeric_limits<T>;
  const std::vector<T> x = {T{0},           -T{0},          L::infinity(),
                            -L::infinity(), L::max(),       -L::max(),
                            L::quiet_NaN(), -L::quiet_NaN()};
  for (Activation act : Elementwise()) {
    const std::vector<T> y = Activated(act, x);
    for (size_t i = 0; i < x.size(); ++i) {
      const T want = static_cast<T>(Exact<T>(act, x[i]));
      if (std::isnan(x[i])) {
        EXPECT_TRUE(std::isnan(y[i])) << Name(act);
      } else {
        EXPECT_TRUE(SameBits(y[i], want))
            << Name(act) << "(" << x[i] << ") = " << y[i] << ", want " << want;
      }
    }
  }
}

TYPED_TEST(ActivationTest, NewActivationsAtTheirLimits) {
  using T = TypeParam;
  const T inf = std::numeric_limits<T>::infinity();
  const std::vector<T> x = {inf, -inf, T{0}, -T{0}};
  const auto y = [&](Activation act) { return Activated(act, x); };
  EXPECT_EQ(y(Activation::kElu), (std::vector<T>{inf, -1, 0, 0}));
  EXPECT_TRUE(std::signbit(y(Activation::kElu)[3]));  // elu(-0) = -0
  for (Activation act :
       {Activation::kGelu, Activation::kGeluTanh, Activation::kSilu}) {
    const std::vector<T> v = y(act);
    EXPECT_EQ(v[0], inf) << Name(act);
    EXPECT_TRUE(SameBits(v[1], -T{0})) << Name(act);  // x -> -inf: -0
    EXPECT_TRUE(SameBits(v[2], T{0})) << Name(act);
    EXPECT_TRUE(SameBits(v[3], -T{0})) << Name(act);
  }
  const std::vector<T> hs = y(Activation::kHardSigmoid);
  EXPECT_EQ(hs[0], 1);
  EXPECT_TRUE(SameBits(hs[1], T{0}));
  EXPECT_EQ(hs[2], T{0.5});
  EXPECT_EQ(hs[3], T{0.5});
  // The clamp is +0 below: alpha x + beta = -0 exactly.
  T z = -T{0};
  ActivateInPlace(Activation::kHardSigmoid, {1, -0.0}, &z, 1);
  EXPECT_TRUE(SameBits(z, T{0}));
}

// Both last-axis kinds on sampled groups against the reference (in ulps
// of each element), a group alone = inside a batch bitwise, and NaN.
TYPED_TEST(ActivationTest, LastAxisKindsMatchReferenceOnSampledGroups) {
  using T = TypeParam;
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> dist(-20, 20);
  for (Activation act : LastAxis()) {
    double worst = 0;
    for (int64_t len : {1, 2, 3, 7, 16, 17, 33, 100, 300}) {
      const int64_t groups = 7;
      std::vector<T> x(groups * len);
      for (T& v : x) v = static_cast<T>(dist(rng));
      if (len > 2) x[len + 1] = x[len];  // a repeated maximum or two
      std::vector<T> y = x;
      ActivateGroupsInPlace(act, {}, y.data(), groups, len);
      std::vector<long double> gx(len), gy(len);
      for (int64_t g = 0; g < groups; ++g) {
        std::copy_n(x.begin() + g * len, len, gx.begin());
        ActivationReferenceGroup(act, {}, gx.data(), len, gy.data());
        for (int64_t i = 0; i < len; ++i)
          worst = std::max(worst, UlpError(y[g * len + i], gy[i]));
        std::vector<T> alone(x.begin() + g * len, x.begin() + (g + 1) * len);
        ActivateGroupsInPlace(act, {}, alone.data(), 1, len);
        for (int64_t i = 0; i < len; ++i)
          ASSERT_TRUE(SameBits(alone[i], y[g * len + i])) << Name(act);
      }
    }
    EXPECT_LE(worst, 4.0) << Name(act);
    std::printf("%-12s %s max error %.2f ulp\n", Name(act).c_str(),
                sizeof(T) == 4 ? "f32" : "f64", worst);
    std::vector<T> v = {1, std::numeric_limits<T>::quiet_NaN(), 2};
    ActivateGroupsInPlace(act, {}, v.data(), 1, 3);
    for (T e : v) EXPECT_TRUE(std::isnan(e)) << Name(act);
  }
}

TYPED_TEST(ActivationTest, LogSoftmaxLimits) {
  using T = TypeParam;
  const T inf = std::numeric_limits<T>::infinity();
  std::vector<T> v = {inf, 1, -inf};
  ActivateGroupsInPlace(Activation::kLogSoftmax, {}, v.data(), 1, 3);
  EXPECT_EQ(v, (std::vector<T>{0, -inf, -inf}));
  v = {1000, 1000};  // no overflow: the maximum is subtracted first
  ActivateGroupsInPlace(Activation::kLogSoftmax, {}, v.data(), 1, 2);
  EXPECT_EQ(v, (std::vector<T>{-std::log(T{2}), -std::log(T{2})}));
  v = {-inf, -inf};  // as softmax: uniform
  ActivateGroupsInPlace(Activation::kLogSoftmax, {}, v.data(), 1, 2);
  EXPECT_EQ(v, (std::vector<T>{-std::log(T{2}), -std::log(T{2})}));
}

// ReLU6 / Hardtanh bounds: exact, NaN passes, a bound replaces -0 only
// where it is above it, and infinite bounds clip nothing.
TYPED_TEST(ActivationTest, ClipBounds) {
  using T = TypeParam;
  const T inf = std::numeric_limits<T>::infinity();
  std::vector<T> v = {-7, -0.0, 0, 2.5, 6, 7, inf, -inf};
  ActivateInPlace(Activation::kClip, {0, 6}, v.data(), v.size());
  EXPECT_EQ(v, (std::vector<T>{0, 0, 0, 2.5, 6, 6, 6, 0}));
  v = {-0.0};
  ActivateInPlace(Activation::kClip, {-1, 1}, v.data(), 1);
  EXPECT_TRUE(std::signbit(v[0]));  // -0 is inside [-1, 1]: unchanged
  v = {std::numeric_limits<T>::quiet_NaN(), -inf, 3};
  ActivateInPlace(Activation::kClip, {-static_cast<double>(inf), 2}, v.data(),
                  v.size());
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_EQ(v[1], -inf);
  EXPECT_EQ(v[2], 2);
}

// LayerNorm of [1, 2, 3, 6] (mean 3, biased variance 3.5) with epsilon 0.5:
// (x - 3) / 2, exact; a constant group is 0 (eps > 0); a NaN or an
// infinity makes the whole group NaN.
TYPED_TEST(ActivationTest, LayerNormValues) {
  using T = TypeParam;
  std::vector<T> v = {1, 2, 3, 6, 5, 5, 5, 5};
  ActivateGroupsInPlace(Activation::kLayerNorm, {0.5, 0}, v.data(), 2, 4);
  EXPECT_EQ(v, (std::vector<T>{-1, -0.5, 0, 1.5, 0, 0, 0, 0}));
  v = {1, std::numeric_limits<T>::infinity(), 2};
  ActivateGroupsInPlace(Activation::kLayerNorm, {1e-5, 0}, v.data(), 1, 3);
  for (T y : v) EXPECT_TRUE(std::isnan(y));
  // Huge and tiny groups normalise like any other (no overflow of the
  // squares, no loss in the subnormal range of the sums).
  const T big = std::numeric_limits<T>::max() / 2;
  v = {big, -big};
  ActivateGroupsInPlace(Activation::kLayerNorm, {0, 0}, v.data(), 1, 2);
  EXPECT_EQ(v, (std::vector<T>{1, -1}));
  const T tiny = std::numeric_limits<T>::denorm_min() * 4;
  v = {tiny, -tiny};
  ActivateGroupsInPlace(Activation::kLayerNorm, {0, 0}, v.data(), 1, 2);
  EXPECT_EQ(v, (std::vector<T>{1, -1}));
}

// erf is odd, erf(+-inf) = +-1, and it is 1 in T well before the erfc
// series' range ends.
TYPED_TEST(ActivationTest, ErfLimits) {
  using T = TypeParam;
  const T inf = std::numeric_limits<T>::infinity();
  std::vector<T> v = {-0.0, inf, -inf, 30, -30, 0.25, -0.25};
  ActivateInPlace(Activation::kErf, {}, v.data(), v.size());
  EXPECT_TRUE(v[0] == 0 && std::signbit(v[0]));
  EXPECT_EQ(v[1], 1);
  EXPECT_EQ(v[2], -1);
  EXPECT_EQ(v[3], 1);
  EXPECT_EQ(v[4], -1);
  EXPECT_EQ(v[5], -v[6]);
}

// The same special pre-activations through the tiny-layer path (fused and
// per-layer kernels), the GEMM (dot-product and panel kernels), the
// elementwise kernel and the reference give the same bits for every
// activation: one ReLU (relu(-0) = +0 everywhere), one of each.
TYPED_TEST(ActivationTest, EveryPathGivesTheSameBitsOnSpecialValues) {
  using T = TypeParam;
  using L = std::numeric_limits<T>;
  const std::vector<T> x = {
      T{0},          -T{0},          L::quiet_NaN(),  -L::quiet_NaN(),
      L::infinity(), -L::infinity(), L::denorm_min(), -L::denorm_min(),
      L::min() / 3,  -L::min() / 3,  L::min(),        -L::min(),
      L::max(),      -L::max(),      T{1e30},         T{-1e30}};
  // Unit u's weight: pre-activations x, -x, x / 2 and 2 x, each exact in
  // every path (a single product; no bias).
  const T kW[] = {1, -1, 0.5, 2};
  const int64_t rows = static_cast<int64_t>(x.size());
  for (Activation act : AllActivations()) {
    const ActivationParams params = ParamsFor<T>(act);
    for (int64_t units : {1, 2, 4, 8, 40}) {
      std::vector<T> w(units);
      for (int64_t u = 0; u < units; ++u) w[u] = kW[u % 4];
      // The reference: z = x w in T, then the definition.
      std::vector<T> want(rows * units);
      std::vector<long double> z(units), r(units);
      for (int64_t i = 0; i < rows; ++i) {
        for (int64_t u = 0; u < units; ++u) z[u] = static_cast<T>(x[i] * w[u]);
        ActivationReferenceGroup(act, params, z.data(), units, r.data());
        for (int64_t u = 0; u < units; ++u)
          want[i * units + u] = static_cast<T>(r[u]);
      }
      // The elementwise (or group) kernel on the same z.
      std::vector<T> kernel(rows * units);
      for (int64_t i = 0; i < rows; ++i) {
        for (int64_t u = 0; u < units; ++u) kernel[i * units + u] = x[i] * w[u];
      }
      ActivateGroupsInPlace(act, params, kernel.data(), rows, units);
      std::vector<std::pair<std::string, std::vector<T>>> paths;
      paths.push_back({"kernel", kernel});
      std::vector<T> y(rows * units);
      PackedDense<T>(w.data(), units, 1, nullptr, act, params)
          .Forward(x.data(), 1, rows, y.data(), units);
      paths.push_back({"gemm", y});
      if (units <= TinyMlp<T>::kMaxUnits) {
        for (bool fused : {true, false}) {
          const TinyMlp<T> net(
              {{units, 1, w, {}, act, params.alpha, params.beta}}, fused);
          net.Forward(x.data(), 1, rows, y.data(), units);
          paths.push_back({fused && net.fused() ? "tiny fused" : "tiny", y});
        }
      }
      for (const auto& [path, got] : paths) {
        for (int64_t i = 0; i < rows * units; ++i) {
          const T in = x[i / units] * w[i % units];
          if (std::isnan(want[i])) {
            EXPECT_TRUE(std::isnan(got[i])) << Name(act) << " " << path;
            continue;
          }
          // Kernels agree exactly; the reference too, except that the
          // transcendental kinds may round a subnormal input's result
          // differently (within their ulp bound, checked above).
          if (path != "kernel") {
            EXPECT_TRUE(SameBits(got[i], kernel[i]))
                << Name(act) << " " << path << " units " << units << " at "
                << in << ": " << got[i] << " vs kernel " << kernel[i];
          }
          // So may the last-axis kinds, whose sums round (within their
          // bound, checked above).
          const bool subnormal_in = in != 0 && std::fabs(in) < L::min();
          if (IsLastAxis(act)) {
            EXPECT_LE(UlpError(got[i], static_cast<long double>(want[i])), 4.0)
                << Name(act) << " " << path << " at " << in;
          } else if (subnormal_in && UlpBound(act) > 1) {
            EXPECT_LE(UlpError(got[i], static_cast<long double>(want[i])), 1.0)
                << Name(act) << " " << path << " at " << in;
          } else {
            EXPECT_TRUE(SameBits(got[i], want[i]))
                << Name(act) << " " << path << " units " << units << " at "
                << in << ": " << got[i] << " vs reference " << want[i];
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace rowflow::ops
