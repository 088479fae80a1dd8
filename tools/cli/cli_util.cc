#include "tools/cli/cli_util.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "graph/atomic_file.h"
#include "graph/error.h"
#include "graph/serialize.h"
#include "graph/text.h"
#include "tools/onnx/import.h"

namespace rowflow::cli {

namespace {

// Whether the regular file at `path` holds an ONNX model. Asked only once
// the model failed to load, so reading the file again costs nothing on
// the good path; pipes and devices are not read twice.
bool FileIsOnnx(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
      st.st_size > LoadOptions{}.max_file_bytes) {
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
  return !in.bad() && IsOnnxModel(bytes);
}

}  // namespace

ir::Graph LoadModel(const std::string& path) {
  try {
    return LoadGraph(path);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kModel || !FileIsOnnx(path)) throw;
    throw MakeError(
        ErrorKind::kModel,
        "{}: this is an ONNX model; run `rowflow import-onnx` first "
        "(rowflow import-onnx {} -o model.pb)",
        path, path);
  }
}

void CheckNotSameFile(const std::string& input, const std::string& output) {
  struct stat in, out;
  const bool have_in = input == "-" ? fstat(STDIN_FILENO, &in) == 0
                                    : stat(input.c_str(), &in) == 0;
  const bool have_out = output == "-" ? fstat(STDOUT_FILENO, &out) == 0
                                      : stat(output.c_str(), &out) == 0;
  if (!have_in || !have_out || !S_ISREG(in.st_mode) || !S_ISREG(out.st_mode) ||
      in.st_dev != out.st_dev || in.st_ino != out.st_ino) {
    return;
  }
  const std::string in_name = input == "-" ? "<stdin>" : input;
  const std::string out_name = output == "-" ? "<stdout>" : output;
  throw MakeError(ErrorKind::kUsage,
                  "output {} is the input file {} (same device and inode); "
                  "writing it would destroy the rows being read; choose "
                  "another output",
                  out_name, in_name);
}

void WriteStdout(std::string_view text) {
  AtomicFile out("-");
  out.Write(text.data(), text.size());
  out.Commit();
}

template <typename T>
std::string FormatValue(const T* data, const ir::Shape& shape) {
  if (shape.empty()) return ir::NumberToString(data[0]);
  const int64_t inner = shape.size() == 1 ? shape[0] : shape[1];
  const int64_t outer = shape.size() == 1 ? 1 : shape[0];
  std::string out = shape.size() == 1 ? "" : "[";
  for (int64_t r = 0; r < outer; ++r) {
    out += r == 0 ? "[" : ", [";
    for (int64_t c = 0; c < inner; ++c) {
      if (c > 0) out += ", ";
      out += ir::NumberToString(data[r * inner + c]);
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

std::string JsonLine(const Json& value) {
  std::string out;
  if (value.is_object()) {
    for (const auto& [key, item] : value.items()) {
      out += out.empty() ? "{" : ", ";
      out += JsonLine(key) + ": " + JsonLine(item);
    }
    return out.empty() ? "{}" : out + "}";
  }
  if (value.is_array()) {
    for (const Json& item : value) {
      out += out.empty() ? "[" : ", ";
      out += JsonLine(item);
    }
    return out.empty() ? "[]" : out + "]";
  }
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
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

std::function<void(const StageInfo&, int64_t, int64_t)> TestFaultHook() {
  const char* row = std::getenv("ROWFLOW_TEST_FAIL_ROW");
  if (row == nullptr || *row == '\0') return {};
  const int64_t at = std::strtoll(row, nullptr, 10);
  return [at](const StageInfo&, int64_t first, int64_t rows) {
    if (first <= at && at < first + rows)
      throw Error(ErrorKind::kInternal, "injected fault");
  };
}

}  // namespace rowflow::cli
