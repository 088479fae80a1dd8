#include "graph/error.h"

#include <cstdio>
#include <cstdlib>

namespace rowflow {

const char* ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInternal:
      return "internal";
    case ErrorKind::kUsage:
      return "usage";
    case ErrorKind::kModel:
      return "model";
    case ErrorKind::kInput:
      return "input";
    case ErrorKind::kIo:
      return "io";
    case ErrorKind::kInterrupted:
      return "interrupted";
  }
  return "unknown";
}

namespace internal {

void CheckFailed(const char* file, int line, const char* what) {
  std::fprintf(stderr, "rowflow: internal check failed at %s:%d: %s\n", file,
               line, what);
  std::abort();
}

}  // namespace internal
}  // namespace rowflow
