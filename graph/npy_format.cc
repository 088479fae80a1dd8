#include "graph/npy_format.h"

#include <fmt/format.h>

#include <cstring>

#include "graph/error.h"
#include "graph/text.h"

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
        Fail(key_at, "unknown key '" + EscapeForMessage(key, 40) + "'");
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
                    file_, EscapeForMessage(d, 40));
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

NpyHeader ReadNpyHeader(const std::function<size_t(char*, size_t)>& read,
                        const std::string& file, ErrorKind kind) {
  unsigned char pre[12];
  char* p = reinterpret_cast<char*>(pre);
  const size_t got = read(p, 8);
  if (got < 6 || std::memcmp(pre, "\x93NUMPY", 6) != 0)
    throw MakeError(kind, "{}: not a .npy file (no \\x93NUMPY magic)", file);
  if (got < 8) throw MakeError(kind, "{}: truncated .npy header", file);
  if (pre[6] < 1 || pre[6] > 3 || pre[7] != 0) {
    throw MakeError(
        kind, "{}: unsupported .npy version {}.{}; expected 1.0, 2.0 or 3.0",
        file, int{pre[6]}, int{pre[7]});
  }
  const size_t len_bytes = pre[6] == 1 ? 2 : 4;
  if (read(p + 8, len_bytes) < len_bytes)
    throw MakeError(kind, "{}: truncated .npy header", file);
  uint64_t len = 0;
  for (size_t i = 0; i < len_bytes; ++i) len |= uint64_t{pre[8 + i]} << (8 * i);
  if (len > static_cast<uint64_t>(kNpyMaxHeaderBytes)) {
    throw MakeError(kind, "{}: .npy header is {} bytes; expected at most {}",
                    file, len, kNpyMaxHeaderBytes);
  }
  std::string dict(len, '\0');
  const size_t dict_got = read(dict.data(), len);
  if (dict_got < len) {
    throw MakeError(kind,
                    "{}: truncated .npy header; expected {} bytes, got {}",
                    file, len, dict_got);
  }
  NpyHeader header;
  try {
    header = ParseNpyHeader(dict, file);
  } catch (const Error& e) {
    if (kind == ErrorKind::kInput) throw;
    throw Error(kind, e.what());
  }
  header.data_offset = static_cast<int64_t>(8 + len_bytes + len);
  return header;
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
