// Helpers for the layer-spec tests: a scratch folder, .npy bytes, and the
// message of the Error a call throws.
#ifndef ROWFLOW_TESTS_SPEC_TEST_UTIL_H_
#define ROWFLOW_TESTS_SPEC_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "graph/error.h"

namespace rowflow::testing {

// A fresh folder under $TMPDIR (or /tmp), removed with everything in it.
class ScratchDir {
 public:
  ScratchDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp != nullptr && *tmp ? tmp : "/tmp") +
                        "/rowflow-spec-XXXXXX";
    char* made = ::mkdtemp(templ.data());
    EXPECT_NE(made, nullptr);
    path_ = templ;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }

  // Writes `bytes` to `name` under the folder (creating sub-folders); returns
  // the full path.
  std::string Write(const std::string& name, const std::string& bytes) const {
    const std::filesystem::path full = std::filesystem::path(path_) / name;
    std::filesystem::create_directories(full.parent_path());
    std::ofstream out(full, std::ios::binary);
    out << bytes;
    return full.string();
  }

 private:
  std::string path_;
};

// A version 1.0 .npy file: `descr` ('<f8', '>f4', ...), `shape` as numpy
// prints it ("(2, 2)"), and the raw data bytes.
inline std::string NpyFile(const std::string& descr, const std::string& shape,
                           const std::string& data, bool fortran = false) {
  std::string dict = "{'descr': '" + descr +
                     "', 'fortran_order': " + (fortran ? "True" : "False") +
                     ", 'shape': " + shape + ", }";
  size_t len = dict.size() + 1;
  len += (64 - (10 + len) % 64) % 64;
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(len & 0xff);
  out += static_cast<char>(len >> 8);
  out += dict + std::string(len - dict.size() - 1, ' ') + "\n";
  return out + data;
}

// The bytes of `values` as little-endian (or, with `big`, big-endian) T.
template <typename T>
std::string RawBytes(const std::vector<double>& values, bool big = false) {
  std::string out;
  for (double v : values) {
    T t = static_cast<T>(v);
    char b[sizeof(T)];
    std::memcpy(b, &t, sizeof(T));
    if (big) {
      for (size_t i = 0; i < sizeof(T) / 2; ++i)
        std::swap(b[i], b[sizeof(T) - 1 - i]);
    }
    out.append(b, sizeof(T));
  }
  return out;
}

// The message of the rowflow::Error `f` throws (failing the test when it
// throws nothing, or an error of another kind than `kind`).
template <typename F>
std::string ErrorMessage(F&& f, ErrorKind kind = ErrorKind::kModel) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "expected a rowflow::Error";
  return "";
}

}  // namespace rowflow::testing

#endif  // ROWFLOW_TESTS_SPEC_TEST_UTIL_H_
