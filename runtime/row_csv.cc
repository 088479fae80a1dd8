// CSV row source and sink (rules in runtime/row_io.h).
//
// Speed (the `mid` workload reads ~650 bytes of CSV and writes 10 floats a
// row), with results bit for bit those of std::from_chars / std::to_chars:
// - The one reading thread only finds lines; the lines already in its
//   buffer are parsed as a batch by the threads of the calling task arena
//   (the Session's), in isolation. Errors are a serial parse's: the first
//   bad line in input order, then a scanning error (line too long, empty
//   row) that stopped the batch.
// - A line's commas come from 64-byte masks; each field that is a plain
//   "-"?digits(.digits)? is converted without a loop (FastField, SSE4.1),
//   f32 fields 4 at a time with AVX-512 (FastFields4), with one exact
//   double multiply/divide (FromDecimal). Other fields take FastParse /
//   FastParseGeneral, then std::from_chars, which also reports errors.
// - The sink formats a Write's rows in pieces on the arena's threads; f32
//   values go through ShortestFloat, std::to_chars' text computed in
//   64-bit integers, others through std::to_chars.
#include <locale.h>
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/partitioner.h>
#include <oneapi/tbb/task_arena.h>
#include <stdlib.h>

#if defined(__SSE4_1__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <atomic>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "graph/atomic_file.h"
#include "graph/error.h"
#include "runtime/input_file.h"
#include "runtime/row_io.h"

namespace rowflow {
namespace {

constexpr size_t kReadChunk = 1 << 18;
constexpr size_t kWriteChunk = 1 << 18;
constexpr int64_t kMaxLineLimit = int64_t{1} << 30;
// Readable bytes after the input buffer's data, for the loads of FastParse
// and FastField (16 bytes) and CommaMask (64) near the end of a line.
constexpr size_t kParsePadding = 64;
// Work below this many bytes (parse) or values (format) stays on the
// calling thread: splitting it costs more than it saves.
constexpr size_t kParallelParseBytes = 32 << 10;
constexpr int64_t kParallelFormatValues = 4096;
// Bytes a formatted value may take, its separator included: to_chars'
// shortest form is at most 24 characters ("-2.2250738585072014e-308").
constexpr int64_t kMaxValueChars = 32;

const char* TypeName(float) { return "f32"; }
const char* TypeName(double) { return "f64"; }

bool IsBlank(char c) { return c == ' ' || c == '\t'; }
bool IsDigit(char c) { return static_cast<unsigned char>(c - '0') < 10; }

// The powers of ten a double holds exactly.
constexpr double kExactPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                  1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                  1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

// The doubles nearest 10^-k, for the float path.
constexpr double kInversePow10[] = {1e-0,  1e-1,  1e-2,  1e-3,  1e-4,  1e-5,
                                    1e-6,  1e-7,  1e-8,  1e-9,  1e-10, 1e-11,
                                    1e-12, 1e-13, 1e-14, 1e-15, 1e-16, 1e-17,
                                    1e-18, 1e-19, 1e-20, 1e-21, 1e-22};

constexpr uint64_t kPow10Int[] = {1,      10,      100,      1000,     10000,
                                  100000, 1000000, 10000000, 100000000};

// The value of 8 digit values (bytes 0..9), the first in the lowest byte.
uint64_t EightDigitsValue(uint64_t v) {
  v = (v * 10) + (v >> 8);
  return (((v & 0x000000FF000000FF) * (100 + (1000000ULL << 32))) +
          (((v >> 16) & 0x000000FF000000FF) * (1 + (10000ULL << 32)))) >>
         32;
}

// Sets *value to the T nearest (-1)^negative * w * 10^exponent, given
// w < 10^19, when one exact-operand double multiply or divide gives it
// (Clinger's fast path): w <= 2^53 and |exponent| <= 22. For float the
// double is then rounded again, which is exact unless the double lands on
// a midpoint between two floats. Returns false in the other cases. Never
// overflows or underflows: |w * 10^exponent| is within [1e-22, 1e38) or 0.
template <typename T>
[[gnu::always_inline]] inline bool FromDecimal(uint64_t w, int64_t exponent,
                                               bool negative, T* value) {
  if (w == 0) {
    *value = negative ? -T(0) : T(0);
    return true;
  }
  if (w > (uint64_t{1} << 53) || exponent < -22 || exponent > 22) return false;
  double d = static_cast<double>(w);
  if constexpr (sizeof(T) == sizeof(float)) {
    // The 29 bits a float drops from a double: a midpoint between two
    // floats is 1 followed by 28 zeros.
    constexpr uint64_t kDropped = 0x1FFFFFFF, kMidpoint = 0x10000000;
    if (exponent < 0) {
      // w times the double nearest 10^exponent is within 3 ulps of the
      // exact value; unless that is near a midpoint, it rounds to the same
      // float, and a multiply costs far less than a divide.
      const double r = d * kInversePow10[-exponent];
      const uint64_t dropped = std::bit_cast<uint64_t>(r) & kDropped;
      if (dropped - (kMidpoint - 8) > 16) {
        *value = static_cast<T>(negative ? -r : r);
        return true;
      }
    }
    d = exponent < 0 ? d / kExactPow10[-exponent] : d * kExactPow10[exponent];
    if ((std::bit_cast<uint64_t>(d) & kDropped) == kMidpoint) return false;
  } else {
    d = exponent < 0 ? d / kExactPow10[-exponent] : d * kExactPow10[exponent];
  }
  *value = static_cast<T>(negative ? -d : d);
  return true;
}

// The top bit of each byte of `x` that is not 0..9, for x = bytes ^ '0'...
// (a carry out of such a byte reaches only the bytes after it).
uint64_t NonDigits(uint64_t x) {
  return ((x + 0x7676767676767676) | x) & 0x8080808080808080;
}

// Appends the digits at p to `w` (w * 10 + digit each; wraps past 19
// digits) and returns the end of the run: 8 bytes at a time (SWAR) while 8
// bytes remain before `e`.
[[gnu::always_inline]] inline const char* DigitRun(const char* p, const char* e,
                                                   uint64_t* w) {
  while (e - p >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    const uint64_t x = v ^ 0x3030303030303030;  // digits become 0..9
    const uint64_t non_digits = NonDigits(x);
    if (non_digits == 0) {
      *w = *w * 100000000 + EightDigitsValue(x);
      p += 8;
      continue;
    }
    const int n = std::countr_zero(non_digits) >> 3;
    if (n > 0) {
      // The n digits, shifted to the top with zeros before them.
      *w = *w * kPow10Int[n] + EightDigitsValue(x << (64 - 8 * n));
      p += n;
    }
    return p;
  }
  while (p < e && IsDigit(*p)) *w = *w * 10 + static_cast<uint64_t>(*p++ - '0');
  return p;
}

// The common case of std::from_chars, exactly: "-"? digits ("." digits)?
// (e|E [+-]? digits)? with at most 19 digits in all, converted by
// FromDecimal. Returns the end of the number, or nullptr for every input
// outside the pattern or FromDecimal's range, so that the caller uses
// std::from_chars.
template <typename T>
const char* FastParseGeneral(const char* p, const char* e, T* value) {
  const bool negative = p < e && *p == '-';
  p += negative;
  const char* const int_begin = p;
  uint64_t w = 0;
  p = DigitRun(p, e, &w);
  int64_t digits = p - int_begin;
  int64_t exponent = 0;
  if (p < e && *p == '.') {
    const char* const frac_begin = ++p;
    p = DigitRun(p, e, &w);
    exponent = -(p - frac_begin);
    digits -= exponent;
  }
  if (digits == 0 || digits > 19) return nullptr;
  if (p < e && (*p | 0x20) == 'e') {
    const char* q = p + 1;
    const bool negative_exp = q < e && *q == '-';
    q += (q < e && (*q == '-' || *q == '+'));
    if (q >= e || !IsDigit(*q)) return nullptr;  // "1e": from_chars decides
    // Up to 5 exponent digits; more go to from_chars, before `exp` could
    // overflow (a 20-digit exponent did: found by the csv_rows fuzzer).
    int64_t exp = 0;
    const char* const exp_begin = q;
    while (q < e && IsDigit(*q)) {
      if (q - exp_begin == 5) return nullptr;
      exp = exp * 10 + (*q++ - '0');
    }
    exponent += negative_exp ? -exp : exp;
    p = q;
  }
  return FromDecimal(w, exponent, negative, value) ? p : nullptr;
}


// std::from_chars, exactly, for the numbers CSV rows mostly hold:
// "-"? digits{0,7} ("." digits{0,8})? with a digit, not followed by another
// digit or an exponent; the parts are found from 8-byte masks, without a
// branch on their lengths. Requires that *e is neither a digit nor '.'
// (the line's "\n" or "\r", or the zero padding after the input) and that
// 16 bytes after `e` are readable. Anything else goes to FastParseGeneral,
// which returns nullptr when std::from_chars must decide.
template <typename T>
[[gnu::always_inline]] inline const char* FastParse(const char* p, const char* e,
                                                    T* value) {
  constexpr uint64_t kZeros = 0x3030303030303030;
  const bool negative = *p == '-';
  const char* q = p + negative;
  uint64_t int_digits;
  std::memcpy(&int_digits, q, 8);
  int_digits ^= kZeros;
  const uint64_t int_ends = NonDigits(int_digits);
  const int int_len = std::countr_zero(int_ends) >> 3;  // 8 when none ends
  // The int_len digits shifted to the top; all 8 when int_len is 8 (a shift
  // by 64 would be undefined: found by the csv_rows fuzzer). That case takes
  // the general path below, so its value is not used.
  const uint64_t int_value =
      int_len == 0 ? 0 : EightDigitsValue(int_digits << ((64 - 8 * int_len) & 63));
  q += int_len;
  uint64_t w = int_value;
  int frac_len = 0;
  bool general = int_len == 8;
  if (*q == '.') {
    uint64_t frac_digits;
    std::memcpy(&frac_digits, q + 1, 8);
    frac_digits ^= kZeros;
    const uint64_t frac_ends = NonDigits(frac_digits);
    frac_len = frac_ends == 0 ? 8 : std::countr_zero(frac_ends) >> 3;
    general |= frac_len == 8 && IsDigit(q[9]);
    w = int_value * kPow10Int[frac_len] +
        (frac_len == 0 ? 0 : EightDigitsValue(frac_digits << (64 - 8 * frac_len)));
    q += 1 + frac_len;
  }
  general |= int_len + frac_len == 0 || (*q | 0x20) == 'e';
  if (general) [[unlikely]] return FastParseGeneral(p, e, value);
  if (!FromDecimal(w, -frac_len, negative, value)) [[unlikely]] {
    std::from_chars(p, q, *value);
  }
  return q;
}

#if defined(__SSE4_1__)
constexpr bool kHaveFastFields = true;

// Parses the field [p, end) when it is exactly "-"? digits ("." digits)?
// with at most 16 bytes after the sign, as std::from_chars would; false
// for anything else. Reads 16 bytes from p + (sign), so 17 bytes after
// `end` must be readable. Uses no loop and no branch on the lengths, and
// the fields of a line are independent: their parses overlap in the CPU.
// The digit and '.' masks check the field; one shuffle drops the '.' and
// right-aligns the digits; three multiply-adds make two 8-digit halves.
template <typename T>
[[gnu::always_inline]] inline bool FastField(const char* p, const char* end,
                                             T* value) {
  const bool negative = *p == '-';
  const char* const s = p + negative;
  const int64_t len = end - s;
  const __m128i text = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));
  const __m128i digits = _mm_sub_epi8(text, _mm_set1_epi8('0'));
  const uint32_t is_digit = static_cast<uint32_t>(_mm_movemask_epi8(
      _mm_cmpeq_epi8(_mm_min_epu8(digits, _mm_set1_epi8(9)), digits)));
  const uint32_t field = (uint32_t{1} << (len & 31)) - 1;
  const uint32_t dots = static_cast<uint32_t>(_mm_movemask_epi8(
                            _mm_cmpeq_epi8(text, _mm_set1_epi8('.')))) &
                        field;
  if (len < 1 || len > 16 || ((is_digit | dots) & field) != field ||
      (dots & (dots - 1)) != 0 || (is_digit & field) == 0) [[unlikely]] {
    return false;
  }
  const int len32 = static_cast<int>(len);
  const int dot = dots != 0;
  const int frac_len = dot ? len32 - 1 - std::countr_zero(dots) : 0;
  // Output byte j takes input byte j + len - 16, one less before the '.'.
  const __m128i iota = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  __m128i order = _mm_add_epi8(iota, _mm_set1_epi8(static_cast<char>(len32 - 16)));
  order = _mm_sub_epi8(order, _mm_and_si128(_mm_cmplt_epi8(iota, _mm_set1_epi8(
                                                static_cast<char>(16 - frac_len))),
                                            _mm_set1_epi8(static_cast<char>(dot))));
  const __m128i aligned = _mm_shuffle_epi8(digits, order);  // index < 0: zero
  const __m128i pairs = _mm_maddubs_epi16(aligned, _mm_setr_epi8(10, 1, 10, 1, 10, 1, 10, 1,
                                                                 10, 1, 10, 1, 10, 1, 10, 1));
  const __m128i quads = _mm_madd_epi16(pairs, _mm_setr_epi16(100, 1, 100, 1, 100, 1, 100, 1));
  const __m128i octs = _mm_madd_epi16(_mm_packus_epi32(quads, quads),
                                      _mm_setr_epi16(10000, 1, 10000, 1, 0, 0, 0, 0));
  const uint64_t w = static_cast<uint64_t>(static_cast<uint32_t>(_mm_cvtsi128_si32(octs))) *
                         100000000 +
                     static_cast<uint32_t>(_mm_extract_epi32(octs, 1));
  if (!FromDecimal(w, -frac_len, negative, value)) [[unlikely]] {
    std::from_chars(p, end, *value);  // a valid decimal: cannot fail
  }
  return true;
}

// The commas among the 64 bytes at `block` that are before `e`, as bits.
[[gnu::always_inline]] inline uint64_t CommaMask(const char* block, const char* e) {
  const __m128i comma = _mm_set1_epi8(',');
  uint64_t mask = 0;
  for (int i = 0; i < 4; ++i) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 16 * i));
    mask |= static_cast<uint64_t>(static_cast<uint32_t>(
                _mm_movemask_epi8(_mm_cmpeq_epi8(bytes, comma))))
            << (16 * i);
  }
  if (e - block < 64) mask &= (uint64_t{1} << (e - block)) - 1;
  return mask;
}

// Calls `field(comma)` for each ',' in [b, e), in order, until it returns
// false; finds them 64 bytes at a time.
template <typename Field>
[[gnu::always_inline]] inline void ForEachComma(const char* b, const char* e, Field&& field) {
  for (const char* block = b; block < e; block += 64) {
    for (uint64_t commas = CommaMask(block, e); commas != 0; commas &= commas - 1) {
      if (!field(block + std::countr_zero(commas))) return;
    }
  }
}

#if defined(__AVX512BW__) && defined(__AVX512DQ__) && defined(__AVX512VL__)
constexpr int kFieldBatch = 4;

// FastField's shuffle controls by field length (1..16) and '.' position
// (16: none): output byte j takes input byte j + len - 16, one less before
// the '.'; a negative index gives zero.
struct FieldOrders {
  alignas(16) int8_t order[17][17][16] = {};
  constexpr FieldOrders() {
    for (int len = 1; len <= 16; ++len) {
      for (int dot = 0; dot <= 16; ++dot) {
        const int has_dot = dot < len;
        const int frac_len = has_dot ? len - 1 - dot : 0;
        for (int j = 0; j < 16; ++j) {
          order[len][dot][j] =
              static_cast<int8_t>(j + len - 16 - (j < 16 - frac_len ? has_dot : 0));
        }
      }
    }
  }
};
constexpr FieldOrders kFieldOrders;

// FastField for 4 float fields [starts[i], ends[i]) at once, one in each
// 128-bit lane of an AVX-512 register, from the text to the floats stored
// at `out`, the '.' scaling and the midpoint check included. False when
// one of them is not for this path (FastField then takes them one by one).
[[gnu::always_inline]] inline bool FastFields4(const char* const* starts,
                                               const char* const* ends, float* out) {
  const char* s[4];
  int len[4];
  uint32_t negative = 0;  // 2 bits a field: its value is in 2 lanes below
  for (int i = 0; i < 4; ++i) {
    const bool minus = *starts[i] == '-';
    s[i] = starts[i] + minus;
    len[i] = static_cast<int>(ends[i] - s[i]);
    negative |= static_cast<uint32_t>(minus) * (3u << (2 * i));
  }
  __m512i text = _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s[0])));
  text = _mm512_inserti32x4(text, _mm_loadu_si128(reinterpret_cast<const __m128i*>(s[1])), 1);
  text = _mm512_inserti32x4(text, _mm_loadu_si128(reinterpret_cast<const __m128i*>(s[2])), 2);
  text = _mm512_inserti32x4(text, _mm_loadu_si128(reinterpret_cast<const __m128i*>(s[3])), 3);
  const __m512i digits = _mm512_sub_epi8(text, _mm512_set1_epi8('0'));
  const uint64_t is_digit = _mm512_cmple_epu8_mask(digits, _mm512_set1_epi8(9));
  const uint64_t is_dot = _mm512_cmpeq_epi8_mask(text, _mm512_set1_epi8('.'));
  bool ok = true;
  int dot[4], frac_len[4];
  for (int i = 0; i < 4; ++i) {
    const uint32_t field = (uint32_t{1} << (len[i] & 31)) - 1;
    const uint32_t digit_bits = static_cast<uint32_t>(is_digit >> (16 * i)) & 0xFFFF;
    const uint32_t dots = static_cast<uint32_t>(is_dot >> (16 * i)) & field;
    ok &= (len[i] >= 1) & (len[i] <= 16) & (((digit_bits | dots) & field) == field) &
          ((dots & (dots - 1)) == 0) & ((digit_bits & field) != 0);
    dot[i] = dots != 0 ? std::countr_zero(dots) : 16;
    frac_len[i] = dots != 0 ? len[i] - 1 - dot[i] : 0;
  }
  if (!ok) return false;
  auto order = [&](int i) {
    return _mm_load_si128(reinterpret_cast<const __m128i*>(kFieldOrders.order[len[i]][dot[i]]));
  };
  __m512i orders = _mm512_castsi128_si512(order(0));
  orders = _mm512_inserti32x4(orders, order(1), 1);
  orders = _mm512_inserti32x4(orders, order(2), 2);
  orders = _mm512_inserti32x4(orders, order(3), 3);
  const __m512i aligned = _mm512_shuffle_epi8(digits, orders);
  const __m512i pairs = _mm512_maddubs_epi16(aligned, _mm512_set1_epi16(0x010A));  // 10, 1
  const __m512i quads = _mm512_madd_epi16(pairs, _mm512_set1_epi32(0x00010064));   // 100, 1
  // Each lane: 8-digit halves [hi, lo, hi, lo]; w = hi * 10^8 + lo in both qwords.
  const __m512i octs = _mm512_madd_epi16(_mm512_packus_epi32(quads, quads),
                                         _mm512_set1_epi32(0x00012710));  // 10000, 1
  // (The maskz forms: GCC 12's plain ones trip -Wmaybe-uninitialized.)
  const __m512i w =
      _mm512_add_epi64(_mm512_maskz_mul_epu32(0xFF, octs, _mm512_set1_epi64(100000000)),
                       _mm512_maskz_srli_epi64(0xFF, octs, 32));
  if (_mm512_cmpgt_epu64_mask(w, _mm512_set1_epi64(int64_t{1} << 53)) != 0) return false;
  // As FromDecimal for float: w times the double nearest 10^-frac_len,
  // unless that lands within 8 ulps of a float midpoint.
  const __m512i frac = _mm512_set_epi64(frac_len[3], frac_len[3], frac_len[2], frac_len[2],
                                        frac_len[1], frac_len[1], frac_len[0], frac_len[0]);
  const __m512d inverse = _mm512_permutex2var_pd(_mm512_loadu_pd(kInversePow10), frac,
                                                 _mm512_loadu_pd(kInversePow10 + 8));
  const __m512d r = _mm512_mul_pd(_mm512_cvtepu64_pd(w), inverse);
  const __m512i dropped =
      _mm512_and_si512(_mm512_castpd_si512(r), _mm512_set1_epi64(0x1FFFFFFF));
  if (_mm512_cmple_epu64_mask(_mm512_sub_epi64(dropped, _mm512_set1_epi64(0x10000000 - 8)),
                              _mm512_set1_epi64(16)) != 0) {
    return false;
  }
  __m256 values = _mm512_maskz_cvtpd_ps(0xFF, r);  // each field twice
  values = _mm256_mask_xor_ps(values, static_cast<__mmask8>(negative), values,
                              _mm256_set1_ps(-0.0f));
  values = _mm256_permutexvar_ps(_mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6), values);
  _mm_storeu_ps(out, _mm256_castps256_ps128(values));
  return true;
}
#else
constexpr int kFieldBatch = 1;
inline bool FastFields4(const char* const*, const char* const*, float*) { return false; }
#endif
#else
constexpr bool kHaveFastFields = false;
constexpr int kFieldBatch = 1;  // named in ParseLine's discarded branch
#endif

// from_chars reports both overflow and underflow as out of range without a
// value; strtod tells them apart (HUGE_VAL vs. a tiny or zero result) and is
// also correctly rounded. Runs only on that rare path, in the "C" locale.
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

// Shortest round-trip form of a float, as std::to_chars(first, last, f)
// writes it (libstdc++: the fewest digits that read back to f, the one
// closest to f, ties to even; fixed notation unless scientific is shorter),
// computed exactly in 64-bit integers. Checked against std::to_chars for
// every float it takes (tests/csv_parse_test.cc samples them).

constexpr uint64_t kPow5[] = {1,           5,           25,           125,
                              625,         3125,        15625,        78125,
                              390625,      1953125,     9765625,      48828125,
                              244140625,   1220703125,  6103515625,   30517578125,
                              152587890625, 762939453125};
constexpr uint64_t kPow10U[] = {1,      10,      100,      1000,      10000,
                                100000, 1000000, 10000000, 100000000, 1000000000};
// 10^k as doubles, k = -10..7 (index k + 10).
constexpr double kDecades[] = {1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2,
                               1e-1,  1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7};
constexpr char kTwoDigits[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

// The 8 ASCII digits of v < 10^8, the first in the lowest byte: the two
// halves of 4 digits, then 4 of 2, then 8 of 1, in lanes of one register.
uint64_t EightDigitsAscii(uint32_t v) {
  const uint64_t merged = (v / 10000) | (uint64_t{v % 10000} << 32);
  const uint64_t top = ((merged * 10486) >> 20) & ((uint64_t{0x7F} << 32) | 0x7F);
  const uint64_t hundreds = ((merged - 100 * top) << 16) + top;
  uint64_t tens = (hundreds * 103) >> 10;
  tens &= (uint64_t{0xF} << 48) | (uint64_t{0xF} << 32) | (uint64_t{0xF} << 16) | 0xF;
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
[[gnu::always_inline]] inline Candidate Closest(uint64_t n, int shift, uint64_t pow5,
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
  const int s6 = 5 - e10;  // s for 6 digits; 7, 8 and 9 digits take 1, 2, 3 more
  const int shift6 = -(q + s6);
  if (e10 < -9 || e10 > 5 || shift6 < 4 || shift6 > 62) return nullptr;
  // The shortest form of a float has 6 to 9 digits but for a few: the
  // four candidates without a branch, and the rest in a loop.
  const uint64_t n6 = m * kPow5[s6];
  const Candidate c6 = Closest(n6, shift6, kPow5[s6], accept_bounds);
  const Candidate c7 = Closest(n6 * 5, shift6 - 1, kPow5[s6 + 1], accept_bounds);
  const Candidate c8 = Closest(n6 * 25, shift6 - 2, kPow5[s6 + 2], accept_bounds);
  const Candidate c9 = Closest(n6 * 125, shift6 - 3, kPow5[s6 + 3], accept_bounds);
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
      const Candidate ck = Closest(m * kPow5[s], shift, kPow5[s], accept_bounds);
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

// Writes the shortest round-trip form of `value` at `out` ([out, limit)
// has room for it, and 16 bytes for floats); returns its end.
char* FormatValue(char* out, char* limit, float value) {
  char* end = ShortestFloat(out, value);
  return end != nullptr ? end : std::to_chars(out, limit, value).ptr;
}
char* FormatValue(char* out, char* limit, double value) {
  return std::to_chars(out, limit, value).ptr;
}

// Whether work of `amount` (at least `threshold`) should be spread over the
// threads of the current task arena.
bool Parallel(size_t amount, size_t threshold) {
  return amount >= threshold && tbb::this_task_arena::max_concurrency() > 1;
}

template <typename T>
class CsvSource final : public RowSource<T> {
 public:
  CsvSource(const std::string& path, int64_t cols, const CsvOptions& options)
      : in_(path),
        cols_(cols),
        max_line_(static_cast<size_t>(options.max_line_bytes)),
        skip_header_(options.header),
        cap_(max_line_ + 2 + kReadChunk),
        buf_(new char[cap_ + kParsePadding]()) {}

  int64_t cols() const override { return cols_; }

  // Collects lines while they are in the buffer, parses them as a batch
  // before the buffer moves (Refill) or the call ends. A scanning error
  // waits for the lines before it to be parsed, so that a bad field on an
  // earlier line is reported first, as a line-by-line parse would.
  int64_t Read(T* out, int64_t max_rows) override {
    int64_t n = 0;
    batch_.clear();
    try {
      while (n + static_cast<int64_t>(batch_.size()) < max_rows) {
        const char* b;
        const char* e;
        const Next next = NextLine(&b, &e);
        if (next == Next::kEnd) break;
        if (next == Next::kNeedData) {
          n += ParseBatch(out + n * cols_);
          Refill();
          continue;
        }
        if (b == e) {
          if (first_empty_line_ == 0) first_empty_line_ = line_;
          continue;
        }
        if (first_empty_line_ != 0) {
          throw MakeError(ErrorKind::kInput,
                          "{}:{}: empty row; expected {} columns", in_.name(),
                          first_empty_line_, cols_);
        }
        batch_.push_back({b, e, line_});
      }
    } catch (const Error&) {
      ParseBatch(out + n * cols_);
      throw;
    }
    return n + ParseBatch(out + n * cols_);
  }

 private:
  struct Line {
    const char* begin;
    const char* end;  // without "\n" or "\r\n"
    int64_t number;   // 1-based
  };
  enum class Next { kLine, kEnd, kNeedData };

  // Finds the next line in the buffer; kNeedData when it is not all there.
  Next NextLine(const char** line_begin, const char** line_end) {
    for (;;) {
      const char* nl = static_cast<const char*>(
          std::memchr(buf_.get() + scanned_, '\n', end_ - scanned_));
      const char* start = buf_.get() + begin_;
      const char* stop;
      if (nl != nullptr) {
        stop = nl;
        begin_ = scanned_ = static_cast<size_t>(nl - buf_.get()) + 1;
      } else if (eof_) {
        if (begin_ == end_) return Next::kEnd;
        stop = buf_.get() + end_;
        begin_ = scanned_ = end_;
      } else {
        if (end_ - begin_ > max_line_ + 1) LineTooLong(line_ + 1);
        scanned_ = end_;  // everything before end_ is known to hold no '\n'
        return Next::kNeedData;
      }
      ++line_;
      if (stop > start && stop[-1] == '\r') --stop;
      if (static_cast<size_t>(stop - start) > max_line_) LineTooLong(line_);
      if (line_ == 1 && stop - start >= 3 &&
          std::memcmp(start, "\xEF\xBB\xBF", 3) == 0) {
        start += 3;
      }
      if (line_ == 1 && skip_header_) continue;
      *line_begin = start;
      *line_end = stop;
      return Next::kLine;
    }
  }

  void Refill() {
    if (begin_ > 0) {
      std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      scanned_ -= begin_;
      begin_ = 0;
    }
    size_t got = in_.ReadSome(buf_.get() + end_, cap_ - end_);
    end_ += got;
    if (got == 0) {
      eof_ = true;
      // The last line may end at end_: FastParse needs a non-digit there.
      std::memset(buf_.get() + end_, 0, kParsePadding);
    }
  }

  [[noreturn]] void LineTooLong(int64_t line) {
    throw MakeError(ErrorKind::kInput,
                    "{}:{}: line too long; expected at most {} bytes",
                    in_.name(), line, max_line_);
  }

  // Parses the lines of batch_ into `out` (one row each) and empties it;
  // returns the rows parsed. Throws the first bad line's error.
  int64_t ParseBatch(T* out) {
    const size_t n = batch_.size();
    if (n == 0) return 0;
    struct Clear {  // also when a bad line throws: it is reported once
      std::vector<Line>& lines;
      ~Clear() { lines.clear(); }
    } clear{batch_};
    const size_t bytes = static_cast<size_t>(batch_.back().end - batch_.front().begin);
    if (!Parallel(bytes, kParallelParseBytes) || n < 2) {
      for (size_t i = 0; i < n; ++i) ParseLine<true>(batch_[i], out + i * cols_);
    } else {
      // Lines fail independently; the first in input order is reported.
      std::atomic<size_t> first_bad{n};
      const size_t grain =
          std::max<size_t>(1, kParallelParseBytes / 2 / std::max<size_t>(1, bytes / n));
      tbb::this_task_arena::isolate([&] {
        tbb::parallel_for(
            tbb::blocked_range<size_t>(0, n, grain),
            [&](const tbb::blocked_range<size_t>& r) {
              for (size_t i = r.begin(); i != r.end(); ++i) {
                if (!ParseLine<false>(batch_[i], out + i * cols_)) {
                  size_t seen = first_bad.load(std::memory_order_relaxed);
                  while (i < seen && !first_bad.compare_exchange_weak(seen, i)) {
                  }
                  return;
                }
              }
            },
            tbb::simple_partitioner());
      });
      const size_t bad = first_bad.load();
      if (bad < n) ParseLine<true>(batch_[bad], out + bad * cols_);
    }
    return static_cast<int64_t>(n);
  }

  // Parses one line into `row`. On a bad line throws its error when
  // kThrow, else returns false.
  template <bool kThrow>
  bool ParseLine(const Line& line, T* row) const {
    const char* const b = line.begin;
    const char* const e = line.end;
    const char* p = b;
    int64_t c = 0;
    if constexpr (kHaveFastFields) {
      // Fields between commas, each on its own (f32: 4 at a time where
      // AVX-512 is there); the loop below takes over at the first field
      // that is not a plain decimal, and reports errors. Fields [c, c +
      // pending) are found but not parsed; p is where field c starts.
      constexpr int kBatch = std::is_same_v<T, float> ? kFieldBatch : 1;
      const char* starts[4];
      const char* ends[4];
      int pending = 0;
      const char* next = b;  // where the field after them starts
      bool failed = false;
      auto one_by_one = [&] {
        for (int i = 0; i < pending && !failed; ++i) {
          failed = !FastField(starts[i], ends[i], &row[c]);
          if (!failed) {
            ++c;
            p = ends[i] + 1;
          }
        }
        pending = 0;
      };
      ForEachComma(b, e, [&](const char* comma) {
        if (c + pending + 1 == cols_) return false;  // too many: see below
        starts[pending] = next;
        ends[pending] = comma;
        next = comma + 1;
        if (++pending == kBatch) {
          if constexpr (kBatch == 4) {
            if (FastFields4(starts, ends, &row[c])) {
              c += 4;
              p = next;
              pending = 0;
              return true;
            }
          }
          one_by_one();
        }
        return !failed;
      });
      one_by_one();
      if (!failed && c + 1 == cols_ && FastField(p, e, &row[c])) return true;
    }
    for (; c < cols_; ++c) {
      const bool last = c + 1 == cols_;
      if (!IsBlank(*p) && *p != '+') {  // the common case, straight through
        const char* end = FastParse(p, e, &row[c]);
        if (end != nullptr && (last ? end == e : *end == ',')) {
          p = end + 1;
          continue;
        }
      }
      const char* field = p;
      while (p < e && IsBlank(*p)) ++p;
      const char* num = p;
      if (p + 1 < e && *p == '+' && p[1] != '-' && p[1] != '+') ++p;
      T value;
      const char* ptr = FastParseGeneral(p, e, &value);
      std::errc ec{};
      if (ptr == nullptr) {
        auto result = std::from_chars(p, e, value);
        ptr = result.ptr;
        ec = result.ec;
      }
      const char* q = ptr;
      while (q < e && IsBlank(*q)) ++q;
      const bool ends_well = last ? q == e : q < e && *q == ',';
      if (ec == std::errc::invalid_argument || !ends_well) {
        if constexpr (!kThrow) return false;
        FieldError(line, field, num, "", "");
      }
      if (ec == std::errc::result_out_of_range &&
          !ParseOutOfRange(p, ptr, &value)) {
        if constexpr (!kThrow) return false;
        FieldError(line, field, num, "number out of range for ", TypeName(T{}));
      }
      row[c] = value;
      if (!last) p = q + 1;
    }
    return true;
  }

  // Reports the line's column count if that is wrong, else the bad field.
  [[noreturn]] void FieldError(const Line& line, const char* field,
                               const char* num, const char* what,
                               const char* type) const {
    const char* const b = line.begin;
    const char* const e = line.end;
    int64_t got = 1;
    for (const char* q = b; q < e; ++q) got += (*q == ',');
    if (got != cols_) {
      throw MakeError(ErrorKind::kInput, "{}:{}: expected {} columns, got {}",
                      in_.name(), line.number, cols_, got);
    }
    const char* field_end =
        static_cast<const char*>(std::memchr(field, ',', e - field));
    if (field_end == nullptr) field_end = e;
    const char* trimmed_end = field_end;
    while (trimmed_end > num && IsBlank(trimmed_end[-1])) --trimmed_end;
    std::string text =
        QuoteForMessage(field, static_cast<size_t>(field_end - field));
    int64_t col = (num < trimmed_end ? num : field) - b + 1;
    if (*what == '\0')
      what = num == trimmed_end ? "empty field" : "not a number";
    throw MakeError(ErrorKind::kInput, "{}:{}:{}: {}{} '{}'", in_.name(),
                    line.number, col, what, type, text);
  }

  InputFile in_;
  int64_t cols_;
  size_t max_line_;
  bool skip_header_;
  size_t cap_;
  std::unique_ptr<char[]> buf_;
  size_t begin_ = 0;    // start of the unread data
  size_t scanned_ = 0;  // bytes before this hold no '\n' after begin_
  size_t end_ = 0;      // end of the data read so far
  bool eof_ = false;
  int64_t line_ = 0;              // number of the line last returned
  int64_t first_empty_line_ = 0;  // an empty line not yet known to be trailing
  std::vector<Line> batch_;       // lines found, not yet parsed
};

template <typename T>
class CsvSink final : public RowSink<T> {
 public:
  CsvSink(const std::string& path, int64_t cols)
      : file_(path), cols_(cols), buf_(new char[kWriteChunk]) {}

  // Formats blocks of rows in parallel, each piece into its own slot of
  // scratch_, then appends the pieces in order.
  void Write(const T* rows, int64_t n) override {
    if (!Parallel(static_cast<size_t>(n * cols_), kParallelFormatValues)) {
      WriteSerial(rows, n);
      return;
    }
    const int64_t slot_bytes_per_row = cols_ * kMaxValueChars;
    const int64_t block_rows =
        std::clamp<int64_t>(kScratchBytes / slot_bytes_per_row, 1, n);
    const int64_t piece_rows =
        std::max<int64_t>(1, std::min(block_rows, kParallelFormatValues / cols_) / 4);
    if (!scratch_) scratch_.reset(new char[kScratchBytes + slot_bytes_per_row]);
    for (int64_t first = 0; first < n; first += block_rows) {
      const int64_t count = std::min(block_rows, n - first);
      const int64_t pieces = (count + piece_rows - 1) / piece_rows;
      piece_ends_.resize(static_cast<size_t>(pieces));
      tbb::this_task_arena::isolate([&] {
        tbb::parallel_for(int64_t{0}, pieces, [&](int64_t k) {
          const int64_t r0 = k * piece_rows;
          const int64_t r1 = std::min(count, r0 + piece_rows);
          char* const begin = scratch_.get() + r0 * slot_bytes_per_row;
          piece_ends_[static_cast<size_t>(k)] =
              FormatRows(rows + (first + r0) * cols_, r1 - r0, begin,
                         scratch_.get() + r1 * slot_bytes_per_row) -
              begin;
        });
      });
      for (int64_t k = 0; k < pieces; ++k) {
        Append(scratch_.get() + k * piece_rows * slot_bytes_per_row,
               static_cast<size_t>(piece_ends_[static_cast<size_t>(k)]));
      }
    }
  }

  void Commit() override {
    Flush();
    file_.Commit();
  }

 private:
  static constexpr int64_t kScratchBytes = int64_t{1} << 20;

  // Writes `n` rows into [pos, limit), which has kMaxValueChars per value;
  // returns the end.
  char* FormatRows(const T* rows, int64_t n, char* pos, char* limit) const {
    for (int64_t i = 0; i < n * cols_; i += cols_) {
      for (int64_t c = 0; c < cols_; ++c) {
        pos = FormatValue(pos, limit, rows[i + c]);
        *pos++ = ',';
      }
      pos[-1] = '\n';
    }
    return pos;
  }

  void WriteSerial(const T* rows, int64_t n) {
    char* const limit =
        buf_.get() + kWriteChunk - 64;  // 64 > longest number + 1
    for (int64_t r = 0; r < n; ++r, rows += cols_) {
      for (int64_t c = 0; c < cols_; ++c) {
        if (pos_ > limit) Flush();
        pos_ = FormatValue(pos_, limit + 64, rows[c]);
        *pos_++ = ',';
      }
      pos_[-1] = '\n';
    }
  }

  void Append(const char* data, size_t bytes) {
    const size_t room = static_cast<size_t>(buf_.get() + kWriteChunk - pos_);
    if (bytes > room) {
      Flush();
      if (bytes >= kWriteChunk) {
        file_.Write(data, bytes);
        return;
      }
    }
    std::memcpy(pos_, data, bytes);
    pos_ += bytes;
  }

  void Flush() {
    file_.Write(buf_.get(), static_cast<size_t>(pos_ - buf_.get()));
    pos_ = buf_.get();
  }

  AtomicFile file_;
  int64_t cols_;
  std::unique_ptr<char[]> buf_;
  char* pos_ = buf_.get();
  std::unique_ptr<char[]> scratch_;  // pieces being formatted in parallel
  std::vector<int64_t> piece_ends_;  // bytes each piece took
};

void CheckCols(int64_t cols) {
  if (cols < 1)
    throw MakeError(ErrorKind::kUsage, "rows need at least 1 column, got {}",
                    cols);
}

}  // namespace

template <typename T>
std::unique_ptr<RowSource<T>> OpenCsvSource(const std::string& path,
                                            int64_t cols,
                                            const CsvOptions& options) {
  CheckCols(cols);
  if (options.max_line_bytes < 1 || options.max_line_bytes > kMaxLineLimit) {
    throw MakeError(ErrorKind::kUsage,
                    "max line bytes must be in 1..{}, got {}", kMaxLineLimit,
                    options.max_line_bytes);
  }
  return std::make_unique<CsvSource<T>>(path, cols, options);
}

template <typename T>
std::unique_ptr<RowSink<T>> OpenCsvSink(const std::string& path, int64_t cols) {
  CheckCols(cols);
  return std::make_unique<CsvSink<T>>(path, cols);
}

template std::unique_ptr<RowSource<float>> OpenCsvSource<float>(
    const std::string&, int64_t, const CsvOptions&);
template std::unique_ptr<RowSource<double>> OpenCsvSource<double>(
    const std::string&, int64_t, const CsvOptions&);
template std::unique_ptr<RowSink<float>> OpenCsvSink<float>(const std::string&,
                                                            int64_t);
template std::unique_ptr<RowSink<double>> OpenCsvSink<double>(
    const std::string&, int64_t);

}  // namespace rowflow
