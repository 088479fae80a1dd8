// Not built: the generator of GELU's Chebyshev tables in
// ops/activation_math.h (ErfcxF64, ErfcxF32). For a = |x| in [0, xmax],
// t = c / (c + a) with c = 2 sqrt2 rounded to double, it interpolates
// H(u) = erfcx(a / sqrt2) / t, u = t scale + offset (scale, offset rounded
// to double and used as such), at the Chebyshev nodes in long double
// (erfcl, expl), and prints the series rounded to double, c[0]'s low part,
// and the worst relative error of the kernel's double evaluation.
//
//   g++ -O2 ops/fit_erfcx.cc -o fit && ./fit 28 39 && ./fit 16 14.6
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

using LD = long double;

LD Erfcx(LD t, LD c) {
  const LD z = c * (1 - t) / t / std::sqrt(2.0L);
  return std::erfc(z) * std::exp(z * z);
}

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  const int deg = std::atoi(argv[1]);
  const LD xmax = std::strtold(argv[2], nullptr);
  const LD c = static_cast<double>(2 * std::sqrt(2.0L));
  const double a = static_cast<double>(c / (c + xmax));
  const double scale = static_cast<double>(2 / (1 - static_cast<LD>(a)));
  const double offset =
      static_cast<double>(-(1 + static_cast<LD>(a)) / (1 - static_cast<LD>(a)));
  const int n = deg + 1;
  std::vector<LD> f(n), cc(n);
  for (int k = 0; k < n; ++k) {
    const LD u = std::cos(M_PIl * (k + 0.5L) / n);
    const LD t = (u - offset) / scale;
    f[k] = Erfcx(t, c) / t;
  }
  for (int j = 0; j < n; ++j) {
    LD s = 0;
    for (int k = 0; k < n; ++k)
      s += f[k] * std::cos(M_PIl * j * (k + 0.5L) / n);
    cc[j] = 2 * s / n;
  }
  cc[0] /= 2;
  std::vector<double> ct(cc.begin(), cc.end());
  const double c0lo = static_cast<double>(cc[0] - ct[0]);
  // The kernel's evaluation (ops/activation_math.h, GeluIn), in double.
  double worst = 0;
  for (int i = 0; i <= 400000; ++i) {
    const double x = static_cast<double>(xmax * i / 400000.0L);
    const double cd = static_cast<double>(c);
    const double s = cd + x, bb = s - cd;
    const double es = (cd - (s - bb)) + (x - bb);
    const double q = cd / s;
    const double tl = (std::fma(-q, s, cd) - q * es) / s;
    const double u = std::fma(tl, scale, std::fma(q, scale, offset));
    double b1 = 0, b2 = 0;
    for (int j = n - 1; j >= 1; --j) {
      const double b = std::fma(u + u, b1, ct[j] - b2);
      b2 = b1;
      b1 = b;
    }
    const double h = std::fma(u, b1, (ct[0] - b2) + c0lo);
    const double v = std::fma(h, q, h * tl);
    const LD want = Erfcx(static_cast<LD>(c) / (static_cast<LD>(c) + x), c);
    worst = std::fmax(worst, static_cast<double>(std::fabs(v - want) / want));
  }
  std::printf("// degree %d on [0, %Lg]: worst relative error %.3g\n", deg,
              xmax, worst);
  std::printf("kScale = %a, kOffset = %a, kC0Lo = %a\nkC = {\n", scale, offset,
              c0lo);
  for (double v : ct) std::printf("  %a,\n", v);
  std::printf("}\n");
}
