// The man page and the bash completion of the rowflow CLI, written from
// the CLI11 app's own definitions (its subcommands, options, descriptions
// and footers), so that neither is a second copy that drifts. The build
// runs `rowflow --generate-docs DIR` (tools/cli/CMakeLists.txt).
//
// Thread-safety: reads the app; call from one thread.
#ifndef ROWFLOW_TOOLS_CLI_DOCGEN_H_
#define ROWFLOW_TOOLS_CLI_DOCGEN_H_

#include <CLI/CLI.hpp>
#include <string>

namespace rowflow::cli {

// rowflow(1) in roff (man(7) macros): every subcommand with its arguments
// and options, the exit codes, the environment. `version` as in --version's
// first line.
std::string ManPage(const CLI::App& app, const std::string& version);

// A bash completion script for `rowflow`: subcommands, each one's options,
// file names for arguments and option values.
std::string BashCompletion(const CLI::App& app);

// Writes DIR/rowflow.1 and DIR/rowflow.bash; returns the exit code (0, or
// 5 after one "rowflow: error:" line).
int WriteDocs(const CLI::App& app, const std::string& version,
              const std::string& dir);

}  // namespace rowflow::cli

#endif  // ROWFLOW_TOOLS_CLI_DOCGEN_H_
