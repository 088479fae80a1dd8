#include "tools/cli/cli_util.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdio>

#include "graph/atomic_file.h"
#include "graph/error.h"
#include "graph/serialize.h"

namespace rowflow::cli {
namespace {

// Shortest round-trip form; every NaN is "nan" (to_chars writes "-nan" when
// the sign bit is set).
template <typename T>
std::string Shortest(T v) {
  if (std::isnan(v)) return "nan";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  (void)ec;  // 64 bytes hold any float or double
  return std::string(buf, end);
}

// Length of the valid UTF-8 sequence starting at s[i], or 0.
size_t Utf8Length(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  size_t n;
  uint32_t cp;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
    cp = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    cp = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3f);
  }
  // Overlong forms, surrogates and values past U+10FFFF are invalid.
  const bool overlong = (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
  if (overlong || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return 0;
  return n;
}

}  // namespace

ir::Graph LoadModel(const std::string& path) { return LoadGraph(path); }

void WriteStdout(std::string_view text) {
  AtomicFile out("-");
  out.Write(text.data(), text.size());
  out.Commit();
}

std::string FormatNumber(float v) { return Shortest(v); }
std::string FormatNumber(double v) { return Shortest(v); }

template <typename T>
std::string FormatValue(const T* data, const ir::Shape& shape) {
  if (shape.empty()) return FormatNumber(data[0]);
  const int64_t inner = shape.size() == 1 ? shape[0] : shape[1];
  const int64_t outer = shape.size() == 1 ? 1 : shape[0];
  std::string out = shape.size() == 1 ? "" : "[";
  for (int64_t r = 0; r < outer; ++r) {
    out += r == 0 ? "[" : ", [";
    for (int64_t c = 0; c < inner; ++c) {
      if (c > 0) out += ", ";
      out += FormatNumber(data[r * inner + c]);
    }
    out += "]";
  }
  return shape.size() == 1 ? out : out + "]";
}

template std::string FormatValue(const float*, const ir::Shape&);
template std::string FormatValue(const double*, const ir::Shape&);

std::string FormatSi(double v) {
  const char* prefix = "";
  if (v >= 1e9) {
    v /= 1e9;
    prefix = " G";
  } else if (v >= 1e6) {
    v /= 1e6;
    prefix = " M";
  } else if (v >= 1e3) {
    v /= 1e3;
    prefix = " k";
  }
  const int decimals = v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return fmt::format("{:.{}f}{}", v, *prefix ? decimals : 0, prefix);
}

std::string JsonQuote(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\u{:04x}", c);
    } else if (c >= 0x80) {
      const size_t n = Utf8Length(s, i);
      if (n == 0) {
        out += "\\ufffd";
        ++i;
        continue;
      }
      out.append(s.substr(i, n));
      i += n;
      continue;
    } else {
      out += static_cast<char>(c);
    }
    ++i;
  }
  return out + "\"";
}

std::string DotQuote(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7f) {
      out += '?';
    } else if (c >= 0x80) {
      const size_t n = Utf8Length(s, i);
      out.append(n == 0 ? std::string_view("?") : s.substr(i, n));
      i += n == 0 ? 1 : n;
      continue;
    } else {
      out += static_cast<char>(c);
    }
    ++i;
  }
  return out + "\"";
}

}  // namespace rowflow::cli
