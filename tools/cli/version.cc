#include "tools/cli/version.h"

#include <string>

#include "ops/kernel_set.h"

namespace rowflow::cli {

// tools/cli/version_info.cmake writes it at every build.
extern const char kGitCommit[];

std::string VersionLine() { return "rowflow " ROWFLOW_VERSION; }

std::string VersionText() {
  const std::string how = ops::KernelSetDispatched()
                              ? "portable x86-64, picked at run time from: " +
                                    ops::CompiledKernelSets()
                              : std::string(ROWFLOW_BUILD_TARGET);
  return VersionLine() + "\ncommit: " + kGitCommit +
         "\nbuild: " ROWFLOW_BUILD_TYPE "\nkernels: " + ops::KernelSetName() +
         " (" + how + ")";
}

}  // namespace rowflow::cli
