// Number text for CSV rows: the fast, exact parsers the CSV source runs on
// each field, and the shortest round-trip printer the sink uses. Internal
// to rowflow_runtime (runtime/row_csv.cc); results are bit for bit those of
// std::from_chars / std::to_chars, which take every case these do not.
//
// - FastParse / FastParseGeneral: "-"? digits ("." digits)? (exponent)?
//   through FromDecimal (Clinger's fast path), else nullptr.
// - FastField (SSE4.1): one plain decimal field without a loop;
//   FastFields4 (AVX-512): four f32 fields at once.
// - CommaMask / ForEachComma: a line's commas, 64 bytes at a time.
// - ParseOutOfRange: overflow vs. underflow, which from_chars does not tell.
// - FormatValue: ir::WriteNumber (graph/ir.h), with ShortestFloat as the
//   fast path for f32.
#pragma once

#if defined(__SSE4_1__)
#include <immintrin.h>
#endif

#include <bit>
#include <charconv>
#include <cstdint>
#include <cstring>

namespace rowflow::csv {

inline bool IsBlank(char c) { return c == ' ' || c == '\t'; }
inline bool IsDigit(char c) { return static_cast<unsigned char>(c - '0') < 10; }

// The powers of ten a double holds exactly.
inline constexpr double kExactPow10[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

// The doubles nearest 10^-k, for the float path.
inline constexpr double kInversePow10[] = {
    1e-0,  1e-1,  1e-2,  1e-3,  1e-4,  1e-5,  1e-6,  1e-7,
    1e-8,  1e-9,  1e-10, 1e-11, 1e-12, 1e-13, 1e-14, 1e-15,
    1e-16, 1e-17, 1e-18, 1e-19, 1e-20, 1e-21, 1e-22};

inline constexpr uint64_t kPow10Int[] = {
    1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};

// The value of 8 digit values (bytes 0..9), the first in the lowest byte.
inline uint64_t EightDigitsValue(uint64_t v) {
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
inline uint64_t NonDigits(uint64_t x) {
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
[[gnu::always_inline]] inline const char* FastParse(const char* p,
                                                    const char* e, T* value) {
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
      int_len == 0 ? 0
                   : EightDigitsValue(int_digits << ((64 - 8 * int_len) & 63));
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
        (frac_len == 0 ? 0
                       : EightDigitsValue(frac_digits << (64 - 8 * frac_len)));
    q += 1 + frac_len;
  }
  general |= int_len + frac_len == 0 || (*q | 0x20) == 'e';
  if (general) [[unlikely]]
    return FastParseGeneral(p, e, value);
  if (!FromDecimal(w, -frac_len, negative, value)) [[unlikely]] {
    std::from_chars(p, q, *value);
  }
  return q;
}

#if defined(__SSE4_1__)
inline constexpr bool kHaveFastFields = true;

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
  const __m128i iota =
      _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  __m128i order =
      _mm_add_epi8(iota, _mm_set1_epi8(static_cast<char>(len32 - 16)));
  order = _mm_sub_epi8(
      order,
      _mm_and_si128(
          _mm_cmplt_epi8(iota, _mm_set1_epi8(static_cast<char>(16 - frac_len))),
          _mm_set1_epi8(static_cast<char>(dot))));
  const __m128i aligned = _mm_shuffle_epi8(digits, order);  // index < 0: zero
  const __m128i pairs = _mm_maddubs_epi16(
      aligned,
      _mm_setr_epi8(10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1));
  const __m128i quads =
      _mm_madd_epi16(pairs, _mm_setr_epi16(100, 1, 100, 1, 100, 1, 100, 1));
  const __m128i octs =
      _mm_madd_epi16(_mm_packus_epi32(quads, quads),
                     _mm_setr_epi16(10000, 1, 10000, 1, 0, 0, 0, 0));
  const uint64_t w =
      static_cast<uint64_t>(static_cast<uint32_t>(_mm_cvtsi128_si32(octs))) *
          100000000 +
      static_cast<uint32_t>(_mm_extract_epi32(octs, 1));
  if (!FromDecimal(w, -frac_len, negative, value)) [[unlikely]] {
    std::from_chars(p, end, *value);  // a valid decimal: cannot fail
  }
  return true;
}

// The commas among the 64 bytes at `block` that are before `e`, as bits.
[[gnu::always_inline]] inline uint64_t CommaMask(const char* block,
                                                 const char* e) {
  const __m128i comma = _mm_set1_epi8(',');
  uint64_t mask = 0;
  for (int i = 0; i < 4; ++i) {
    const __m128i bytes =
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 16 * i));
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
[[gnu::always_inline]] inline void ForEachComma(const char* b, const char* e,
                                                Field&& field) {
  for (const char* block = b; block < e; block += 64) {
    for (uint64_t commas = CommaMask(block, e); commas != 0;
         commas &= commas - 1) {
      if (!field(block + std::countr_zero(commas))) return;
    }
  }
}

#if defined(__AVX512BW__) && defined(__AVX512DQ__) && defined(__AVX512VL__)
inline constexpr int kFieldBatch = 4;

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
          order[len][dot][j] = static_cast<int8_t>(
              j + len - 16 - (j < 16 - frac_len ? has_dot : 0));
        }
      }
    }
  }
};
inline constexpr FieldOrders kFieldOrders;

// FastField for 4 float fields [starts[i], ends[i]) at once, one in each
// 128-bit lane of an AVX-512 register, from the text to the floats stored
// at `out`, the '.' scaling and the midpoint check included. False when
// one of them is not for this path (FastField then takes them one by one).
[[gnu::always_inline]] inline bool FastFields4(const char* const* starts,
                                               const char* const* ends,
                                               float* out) {
  const char* s[4];
  int len[4];
  uint32_t negative = 0;  // 2 bits a field: its value is in 2 lanes below
  for (int i = 0; i < 4; ++i) {
    const bool minus = *starts[i] == '-';
    s[i] = starts[i] + minus;
    len[i] = static_cast<int>(ends[i] - s[i]);
    negative |= static_cast<uint32_t>(minus) * (3u << (2 * i));
  }
  __m512i text = _mm512_castsi128_si512(
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(s[0])));
  text = _mm512_inserti32x4(
      text, _mm_loadu_si128(reinterpret_cast<const __m128i*>(s[1])), 1);
  text = _mm512_inserti32x4(
      text, _mm_loadu_si128(reinterpret_cast<const __m128i*>(s[2])), 2);
  text = _mm512_inserti32x4(
      text, _mm_loadu_si128(reinterpret_cast<const __m128i*>(s[3])), 3);
  const __m512i digits = _mm512_sub_epi8(text, _mm512_set1_epi8('0'));
  const uint64_t is_digit = _mm512_cmple_epu8_mask(digits, _mm512_set1_epi8(9));
  const uint64_t is_dot = _mm512_cmpeq_epi8_mask(text, _mm512_set1_epi8('.'));
  bool ok = true;
  int dot[4], frac_len[4];
  for (int i = 0; i < 4; ++i) {
    const uint32_t field = (uint32_t{1} << (len[i] & 31)) - 1;
    const uint32_t digit_bits =
        static_cast<uint32_t>(is_digit >> (16 * i)) & 0xFFFF;
    const uint32_t dots = static_cast<uint32_t>(is_dot >> (16 * i)) & field;
    ok &= (len[i] >= 1) & (len[i] <= 16) &
          (((digit_bits | dots) & field) == field) &
          ((dots & (dots - 1)) == 0) & ((digit_bits & field) != 0);
    dot[i] = dots != 0 ? std::countr_zero(dots) : 16;
    frac_len[i] = dots != 0 ? len[i] - 1 - dot[i] : 0;
  }
  if (!ok) return false;
  auto order = [&](int i) {
    return _mm_load_si128(
        reinterpret_cast<const __m128i*>(kFieldOrders.order[len[i]][dot[i]]));
  };
  __m512i orders = _mm512_castsi128_si512(order(0));
  orders = _mm512_inserti32x4(orders, order(1), 1);
  orders = _mm512_inserti32x4(orders, order(2), 2);
  orders = _mm512_inserti32x4(orders, order(3), 3);
  const __m512i aligned = _mm512_shuffle_epi8(digits, orders);
  const __m512i pairs =
      _mm512_maddubs_epi16(aligned, _mm512_set1_epi16(0x010A));  // 10, 1
  const __m512i quads =
      _mm512_madd_epi16(pairs, _mm512_set1_epi32(0x00010064));  // 100, 1
  // Each lane: 8-digit halves [hi, lo, hi, lo]; w = hi * 10^8 + lo in both
  // qwords.
  const __m512i octs =
      _mm512_madd_epi16(_mm512_packus_epi32(quads, quads),
                        _mm512_set1_epi32(0x00012710));  // 10000, 1
  // (The maskz forms: GCC 12's plain ones trip -Wmaybe-uninitialized.)
  const __m512i w = _mm512_add_epi64(
      _mm512_maskz_mul_epu32(0xFF, octs, _mm512_set1_epi64(100000000)),
      _mm512_maskz_srli_epi64(0xFF, octs, 32));
  if (_mm512_cmpgt_epu64_mask(w, _mm512_set1_epi64(int64_t{1} << 53)) != 0)
    return false;
  // As FromDecimal for float: w times the double nearest 10^-frac_len,
  // unless that lands within 8 ulps of a float midpoint.
  const __m512i frac =
      _mm512_set_epi64(frac_len[3], frac_len[3], frac_len[2], frac_len[2],
                       frac_len[1], frac_len[1], frac_len[0], frac_len[0]);
  const __m512d inverse = _mm512_permutex2var_pd(
      _mm512_loadu_pd(kInversePow10), frac, _mm512_loadu_pd(kInversePow10 + 8));
  const __m512d r = _mm512_mul_pd(_mm512_cvtepu64_pd(w), inverse);
  const __m512i dropped =
      _mm512_and_si512(_mm512_castpd_si512(r), _mm512_set1_epi64(0x1FFFFFFF));
  if (_mm512_cmple_epu64_mask(
          _mm512_sub_epi64(dropped, _mm512_set1_epi64(0x10000000 - 8)),
          _mm512_set1_epi64(16)) != 0) {
    return false;
  }
  __m256 values = _mm512_maskz_cvtpd_ps(0xFF, r);  // each field twice
  values = _mm256_mask_xor_ps(values, static_cast<__mmask8>(negative), values,
                              _mm256_set1_ps(-0.0f));
  values =
      _mm256_permutexvar_ps(_mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6), values);
  _mm_storeu_ps(out, _mm256_castps256_ps128(values));
  return true;
}
#else
inline constexpr int kFieldBatch = 1;
inline bool FastFields4(const char* const*, const char* const*, float*) {
  return false;
}
#endif
#else
// Without SSE4.1 the fast-field path is compiled out (kHaveFastFields);
// these declarations only name it in the callers' discarded branches.
inline constexpr bool kHaveFastFields = false;
inline constexpr int kFieldBatch = 1;
template <typename T>
bool FastField(const char* p, const char* end, T* value);
template <typename Field>
void ForEachComma(const char* b, const char* e, Field&& field);
bool FastFields4(const char* const* starts, const char* const* ends,
                 float* out);
#endif

// from_chars reports both overflow and underflow as out of range without a
// value; sets *value to the correctly rounded result of [begin, end) (a
// number from_chars accepted) and returns false when it overflows.
template <typename T>
bool ParseOutOfRange(const char* begin, const char* end, T* value);

// Writes ir::NumberToString(value) at `out` ([out, limit) has room for it,
// at least ir::kMaxNumberChars bytes); returns its end.
char* FormatValue(char* out, char* limit, float value);
char* FormatValue(char* out, char* limit, double value);

}  // namespace rowflow::csv
