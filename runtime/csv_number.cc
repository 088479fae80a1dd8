// Out-of-line number code for CSV rows (see runtime/csv_number.h): the
// strtod fallback for out-of-range fields and the shortest f32 printer.
#include "runtime/csv_number.h"

#include <locale.h>
#include <stdlib.h>

#include <cmath>
#include <string>

#include "graph/ir.h"

namespace rowflow::csv {
namespace {

// Shortest round-trip form of a float, as std::to_chars(first, last, f)
// writes it (libstdc++: the fewest digits that read back to f, the one
// closest to f, ties to even; fixed notation unless scientific is shorter),
// computed exactly in 64-bit integers. Checked against std::to_chars for
// every float it takes (tests/csv_parse_test.cc samples them).

constexpr uint64_t kPow5[] = {
    1,         5,          25,         125,         625,          3125,
    15625,     78125,      390625,     1953125,     9765625,      48828125,
    244140625, 1220703125, 6103515625, 30517578125, 152587890625, 762939453125};
constexpr uint64_t kPow10U[] = {
    1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000};
// 10^k as doubles, k = -10..7 (index k + 10).
constexpr double kDecades[] = {1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5,
                               1e-4,  1e-3, 1e-2, 1e-1, 1e0,  1e1,
                               1e2,   1e3,  1e4,  1e5,  1e6,  1e7};
constexpr char kTwoDigits[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536"
    "373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576"
    "777879"
    "8081828384858687888990919293949596979899";

// The 8 ASCII digits of v < 10^8, the first in the lowest byte: the two
// halves of 4 digits, then 4 of 2, then 8 of 1, in lanes of one register.
uint64_t EightDigitsAscii(uint32_t v) {
  const uint64_t merged = (v / 10000) | (uint64_t{v % 10000} << 32);
  const uint64_t top =
      ((merged * 10486) >> 20) & ((uint64_t{0x7F} << 32) | 0x7F);
  const uint64_t hundreds = ((merged - 100 * top) << 16) + top;
  uint64_t tens = (hundreds * 103) >> 10;
  tens &= (uint64_t{0xF} << 48) | (uint64_t{0xF} << 32) |
          (uint64_t{0xF} << 16) | 0xF;
  tens += (hundreds - 10 * tens) << 8;
  return tens | 0x3030303030303030;
}

// The p-digit decimal closest to f = m * 2^q is c * 10^(e10 + 1 - p) with
// c = f * 10^s rounded to nearest, ties to even (s = p - 1 - e10), where
// f * 10^s = n / 2^shift for n = m * 5^s. It reads back as f iff it is
// within the half ulp 2^(q-1) of f: 2 * |c * 2^shift - n| <= 5^s, or < when
// the bounds themselves do not round to f (m odd).
struct Candidate {
  uint64_t c;
  bool inside;
};
[[gnu::always_inline]] inline Candidate Closest(uint64_t n, int shift,
                                                uint64_t pow5,
                                                bool accept_bounds) {
  const uint64_t one = uint64_t{1} << shift;
  const uint64_t rem = n & (one - 1);
  const uint64_t half = one >> 1;
  const uint64_t c = n >> shift;
  const bool up = (rem > half) | ((rem == half) & static_cast<bool>(c & 1));
  const uint64_t diff = up ? one - rem : rem;
  return {c + up, (diff << 1) < pow5 + accept_bounds};  // shift <= 62
}

// std::to_chars(out, ..., f) for normal floats with 1e-9 <= |f| < 10^6
// that are not a power of two; nullptr for the others. Writes 16 bytes
// at `out` whatever the length, and returns the end of the number.
char* ShortestFloat(char* out, float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  const uint32_t fraction = bits & 0x7FFFFF;
  const int q = static_cast<int>((bits >> 23) & 0xFF) - 150;  // f = m * 2^q
  if (fraction == 0 || q < -60 || q > -1) return nullptr;
  const uint64_t m = fraction | 0x800000;
  const bool accept_bounds = (m & 1) == 0;
  // e10 = floor(log10 |f|): 2^(q+23) <= |f| < 2^(q+24) leaves two choices.
  int e10 = ((q + 23) * 78913) >> 18;  // floor((q + 23) * log10(2))
  if (e10 < -10 || e10 > 6) return nullptr;
  e10 += std::fabs(static_cast<double>(f)) >= kDecades[e10 + 11];
  const int s6 =
      5 - e10;  // s for 6 digits; 7, 8 and 9 digits take 1, 2, 3 more
  const int shift6 = -(q + s6);
  if (e10 < -9 || e10 > 5 || shift6 < 4 || shift6 > 62) return nullptr;
  // The shortest form of a float has 6 to 9 digits but for a few: the
  // four candidates without a branch, and the rest in a loop.
  const uint64_t n6 = m * kPow5[s6];
  const Candidate c6 = Closest(n6, shift6, kPow5[s6], accept_bounds);
  const Candidate c7 =
      Closest(n6 * 5, shift6 - 1, kPow5[s6 + 1], accept_bounds);
  const Candidate c8 =
      Closest(n6 * 25, shift6 - 2, kPow5[s6 + 2], accept_bounds);
  const Candidate c9 =
      Closest(n6 * 125, shift6 - 3, kPow5[s6 + 3], accept_bounds);
  uint64_t c = c9.c;  // 9 digits always read back as f
  int p = 9;
  c = c8.inside ? c8.c : c;
  p = c8.inside ? 8 : p;
  c = c7.inside ? c7.c : c;
  p = c7.inside ? 7 : p;
  if (c6.inside) [[unlikely]] {
    c = c6.c;
    p = 6;
    for (int k = 5; k >= 1; --k) {  // fewer digits may do too
      const int s = k - 1 - e10;
      const int shift = -(q + s);
      if (s < 0 || shift < 1 || shift > 62) return nullptr;  // big: to_chars
      const Candidate ck =
          Closest(m * kPow5[s], shift, kPow5[s], accept_bounds);
      if (!ck.inside) break;
      c = ck.c;
      p = k;
    }
  }
  // f's decimal is c * 10^x with n digits: the shortest c has no trailing
  // zero unless rounding made it 10^p.
  int x = e10 + 1 - p;
  int n = p;
  if (c == kPow10U[p]) {
    c = 1;
    x += p;
    n = 1;
  }
  char digits[32] = {};  // c's 9 digits, zero padded; 16 readable from any
  digits[0] = static_cast<char>('0' + c / 100000000);
  const uint64_t low8 = EightDigitsAscii(static_cast<uint32_t>(c % 100000000));
  std::memcpy(digits + 1, &low8, 8);
  const char* const d = digits + 9 - n;
  char text[48];
  char* o = text;
  *o = '-';
  o += bits >> 31;
  const int sci = x + n - 1;
  const int abs_sci = sci < 0 ? -sci : sci;
  const int sci_len = n + (n > 1) + 2 + (abs_sci >= 100 ? 3 : 2);
  // "ddd000", "dd.ddd" (when n + x > 0, i.e. n + 1 >= 2 - x), "0.00ddd"
  const int fixed_len = x >= 0 ? n + x : std::max(n + 1, 2 - x);
  if (fixed_len <= sci_len) {
    if (x >= 0) {  // digits, then x zeros (x < 6)
      std::memcpy(o, d, 16);
      std::memset(o + n, '0', 8);
    } else if (n + x > 0) {  // digits with the '.' inside
      std::memcpy(o, d, 16);
      o[n + x] = '.';
      std::memcpy(o + n + x + 1, d + n + x, 16);
    } else {  // "0.", -x - n zeros (< 4), digits
      std::memcpy(o, "0.000000", 8);
      std::memcpy(o + 2 - x - n, d, 16);
    }
    o += fixed_len;
  } else {
    o[0] = d[0];
    o[1] = '.';
    std::memcpy(o + 2, d + 1, 16);
    o += n + (n > 1);
    o[0] = 'e';
    o[1] = sci < 0 ? '-' : '+';
    o += 2;
    if (abs_sci >= 100) *o++ = static_cast<char>('0' + abs_sci / 100);
    std::memcpy(o, kTwoDigits + 2 * (abs_sci % 100), 2);
    o += 2;
  }
  std::memcpy(out, text, 16);  // at most 15 characters
  return out + (o - text);
}

}  // namespace

template <typename T>
bool ParseOutOfRange(const char* begin, const char* end, T* value) {
  static const locale_t c_locale = newlocale(LC_ALL_MASK, "C", nullptr);
  std::string text(begin, end);
  if constexpr (sizeof(T) == sizeof(float)) {
    *value = strtof_l(text.c_str(), nullptr, c_locale);
  } else {
    *value = strtod_l(text.c_str(), nullptr, c_locale);
  }
  return !std::isinf(*value);
}
template bool ParseOutOfRange<float>(const char*, const char*, float*);
template bool ParseOutOfRange<double>(const char*, const char*, double*);

char* FormatValue(char* out, char* limit, float value) {
  char* end = ShortestFloat(out, value);
  if (end != nullptr) return end;  // the fast path's finite floats
  return ir::WriteNumber(out, limit, value);
}
char* FormatValue(char* out, char* limit, double value) {
  return ir::WriteNumber(out, limit, value);
}

}  // namespace rowflow::csv
