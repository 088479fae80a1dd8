#include "graph/npy_format.h"

#include <fmt/format.h>

#include "graph/error.h"

namespace rowflow {
namespace {

constexpr size_t kMaxRank = 32;  // numpy's NPY_MAXDIMS

// A cursor over the dict text; every error names the file and byte offset.
class DictParser {
 public:
  DictParser(std::string_view text, const std::string& file)
      : text_(text), file_(file) {}

  NpyHeader Parse() {
    NpyHeader header;
    bool have_descr = false, have_order = false, have_shape = false;
    Expect('{');
    for (;;) {
      SkipSpace();
      if (Peek() == '}') break;
      size_t key_at = pos_;
      std::string_view key = String();
      SkipSpace();
      Expect(':');
      SkipSpace();
      bool* seen;
      if (key == "descr") {
        seen = &have_descr;
        Descr(&header);
      } else if (key == "fortran_order") {
        seen = &have_order;
        header.fortran_order = Bool();
      } else if (key == "shape") {
        seen = &have_shape;
        header.shape = Shape();
      } else {
        Fail(key_at, "unknown key '" + Quote(key) + "'");
      }
      if (*seen) Fail(key_at, "duplicate key '" + std::string(key) + "'");
      *seen = true;
      SkipSpace();
      if (Peek() != ',') break;
      ++pos_;
    }
    SkipSpace();
    Expect('}');
    SkipSpace();
    if (pos_ != text_.size()) Fail(pos_, "unexpected text after the dict");
    const char* missing = !have_descr   ? "descr"
                          : !have_order ? "fortran_order"
                          : !have_shape ? "shape"
                                        : nullptr;
    if (missing != nullptr) {
      throw MakeError(ErrorKind::kInput, "{}: .npy header lacks key '{}'",
                      file_, missing);
    }
    // The shape was parsed before or after descr; check the byte count now.
    int64_t total = header.itemsize;
    for (int64_t d : header.shape) {
      if (__builtin_mul_overflow(total, d, &total)) {
        throw MakeError(ErrorKind::kInput,
                        "{}: .npy shape {} is too large (over 2^63 bytes)",
                        file_, NpyShapeString(header.shape));
      }
    }
    return header;
  }

 private:
  [[noreturn]] void Fail(size_t at, const std::string& what) {
    throw MakeError(ErrorKind::kInput, "{}: bad .npy header at byte {}: {}",
                    file_, at, what);
  }

  // At most 40 bytes of `s`, control and non-ASCII bytes as \xNN (graph/
  // cannot use runtime's QuoteForMessage).
  static std::string Quote(std::string_view s) {
    std::string out;
    for (char ch : s.substr(0, 40)) {
      const auto c = static_cast<unsigned char>(ch);
      out += c >= 0x20 && c < 0x7f && c != '\\' ? std::string(1, ch)
                                                : fmt::format("\\x{:02x}", c);
    }
    return s.size() > 40 ? out + "..." : out;
  }

  char Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  void SkipSpace() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
            text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  void Expect(char c) {
    if (Peek() != c) Fail(pos_, std::string("expected '") + c + "'");
    ++pos_;
  }

  // A '...' or "..." literal without escapes.
  std::string_view String() {
    char quote = Peek();
    if (quote != '\'' && quote != '"')
      Fail(pos_, "expected a quoted key or value");
    size_t start = ++pos_;
    while (pos_ < text_.size() && text_[pos_] != quote && text_[pos_] != '\n') {
      if (text_[pos_] == '\\') Fail(pos_, "escape sequences are not supported");
      ++pos_;
    }
    if (Peek() != quote) Fail(start - 1, "unterminated string");
    return text_.substr(start, pos_++ - start);
  }

  void Descr(NpyHeader* header) {
    if (Peek() == '[')
      Fail(pos_,
           "structured dtypes are not supported; expected '<f4' or '<f8'");
    std::string_view d = String();
    if (d.size() == 3 && (d[0] == '<' || d[0] == '>' || d[0] == '=') &&
        d[1] == 'f' && (d[2] == '4' || d[2] == '8')) {
      header->big_endian = d[0] == '>';
      header->itemsize = d[2] - '0';
      return;
    }
    throw MakeError(ErrorKind::kInput,
                    "{}: unsupported .npy dtype '{}'; expected '<f4' or '<f8'",
                    file_, Quote(d));
  }

  bool Bool() {
    if (text_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (text_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    Fail(pos_, "expected True or False");
  }

  std::vector<int64_t> Shape() {
    std::vector<int64_t> shape;
    Expect('(');
    for (;;) {
      SkipSpace();
      if (Peek() == ')') break;
      if (shape.size() == kMaxRank) Fail(pos_, "more than 32 dimensions");
      size_t start = pos_;
      int64_t value = 0;
      while (Peek() >= '0' && Peek() <= '9') {
        if (pos_ - start >= 18) Fail(start, "dimension too large");
        value = value * 10 + (text_[pos_++] - '0');
      }
      if (pos_ == start)
        Fail(pos_, "expected a non-negative integer dimension");
      shape.push_back(value);
      SkipSpace();
      if (Peek() != ',') break;
      ++pos_;
    }
    SkipSpace();
    Expect(')');
    return shape;
  }

  std::string_view text_;
  const std::string& file_;
  size_t pos_ = 0;
};

}  // namespace

NpyHeader ParseNpyHeader(std::string_view text, const std::string& file) {
  if (static_cast<int64_t>(text.size()) > kNpyMaxHeaderBytes) {
    throw MakeError(ErrorKind::kInput,
                    "{}: .npy header is {} bytes; expected at most {}", file,
                    text.size(), kNpyMaxHeaderBytes);
  }
  return DictParser(text, file).Parse();
}

std::string FormatNpyHeader(int itemsize, int64_t rows, int64_t cols) {
  RF_CHECK(itemsize == 4 || itemsize == 8);
  std::string dict = fmt::format(
      "{{'descr': '<f{}', 'fortran_order': False, 'shape': ({}, {}), }}",
      itemsize, rows, cols);
  std::string header("\x93NUMPY\x01\x00", 8);
  size_t dict_bytes = kNpyWrittenHeaderBytes - 10;
  RF_CHECK(dict.size() + 1 <= dict_bytes);
  header += static_cast<char>(dict_bytes & 0xff);
  header += static_cast<char>(dict_bytes >> 8);
  header += dict;
  header.append(dict_bytes - dict.size() - 1, ' ');
  header += '\n';
  return header;
}

std::string NpyShapeString(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

}  // namespace rowflow
