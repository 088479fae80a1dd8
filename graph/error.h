// rowflow::Error, the one exception type every rowflow library throws, and
// RF_CHECK for broken invariants (bugs, never bad input).
//
// Thread-safety: Error is an immutable value; copy it freely across threads.
#ifndef ROWFLOW_GRAPH_ERROR_H_
#define ROWFLOW_GRAPH_ERROR_H_

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace rowflow {

// What went wrong; each kind maps to one documented CLI exit code.
enum class ErrorKind {
  kInternal = 1,       // a bug in rowflow
  kUsage = 2,          // bad arguments or options
  kModel = 3,          // invalid model file, layer spec or weights
  kInput = 4,          // invalid input rows
  kIo = 5,             // output could not be written
  kInterrupted = 130,  // stopped on request (Ctrl-C: 128 + SIGINT)
};

// The exit code documented for `kind`.
inline int ExitCode(ErrorKind kind) { return static_cast<int>(kind); }

// Short name of `kind`, for messages and tests ("model", "input", ...).
const char* ErrorKindName(ErrorKind kind);

// An error with a kind and a one-line message that says where: file and
// line, node name and op, row range, expected vs. got.
class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message)
      : std::runtime_error(message), kind_(kind) {}

  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

// Builds an Error from a fmt format string.
template <typename... Args>
Error MakeError(ErrorKind kind, fmt::format_string<Args...> format,
                Args&&... args) {
  return Error(kind, fmt::format(format, std::forward<Args>(args)...));
}

// Throws MakeError(kModel, ...): the model file, layer spec or weights are
// invalid. The one Fail of the model loaders and checkers.
template <typename... Args>
[[noreturn]] void Fail(fmt::format_string<Args...> format, Args&&... args) {
  throw MakeError(ErrorKind::kModel, format, std::forward<Args>(args)...);
}

namespace internal {
[[noreturn]] void CheckFailed(const char* file, int line, const char* what);
}  // namespace internal

}  // namespace rowflow

// Aborts with file:line when an invariant that no input can break is broken.
#define RF_CHECK(cond)                                                        \
  do {                                                                        \
    if (!(cond)) ::rowflow::internal::CheckFailed(__FILE__, __LINE__, #cond); \
  } while (0)

#endif  // ROWFLOW_GRAPH_ERROR_H_
