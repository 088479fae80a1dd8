// What `rowflow --version` prints: the version, the commit the tool was
// built from, the build type and the kernel set it runs on this CPU, so a
// bug report carries them.
//
// Thread-safety: stateless.
#ifndef ROWFLOW_TOOLS_CLI_VERSION_H_
#define ROWFLOW_TOOLS_CLI_VERSION_H_

#include <string>

namespace rowflow::cli {

// "rowflow 0.1.0", the first line.
std::string VersionLine();

// Every line of --version, without the final newline.
std::string VersionText();

}  // namespace rowflow::cli

#endif  // ROWFLOW_TOOLS_CLI_VERSION_H_
