// rowflow: one CLI, subcommands in tools/cmd_*.cc. main alone catches:
// it prints "rowflow: error: <message>" and maps the error kind to the exit
// codes documented in README (0 ok, 1 internal, 2 usage, 3 model/spec,
// 4 input rows, 5 output I/O).
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <exception>
#include <new>

#include "graph/atomic_file.h"
#include "graph/error.h"
#include "tools/commands.h"

int main(int argc, char** argv) {
  // A closed stdout surfaces as EPIPE on write, handled below, rather than
  // as a signal that kills the process mid-write.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app("rowflow: run neural-network dataflow graphs over many rows in parallel",
               "rowflow");
  app.require_subcommand(1);
  app.set_version_flag("--version", "rowflow 0.1");
  rowflow::cli::AddBuildCommand(app);
  rowflow::cli::AddRunCommand(app);
  rowflow::cli::AddInspectCommand(app);
  rowflow::cli::AddDotCommand(app);
  rowflow::cli::AddTraceCommand(app);
  rowflow::cli::AddConvertCommand(app);
  rowflow::cli::AddBenchCommand(app);
  rowflow::cli::AddOnnxCommands(app);
  try {
    app.parse(argc, argv);
    return 0;
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // --help prints and exits 0; real usage errors exit 2.
    const int code = app.exit(e);
    return code == 0 ? 0 : rowflow::ExitCode(rowflow::ErrorKind::kUsage);
  } catch (const rowflow::BrokenPipeError&) {
    return 0;  // the reader has all it wanted (`| head`): see README
  } catch (const rowflow::Error& e) {
    std::fprintf(stderr, "rowflow: error: %s\n", e.what());
    return rowflow::ExitCode(e.kind());
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "rowflow: error: out of memory\n");
    return rowflow::ExitCode(rowflow::ErrorKind::kInternal);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rowflow: error: internal: %s\n", e.what());
    return rowflow::ExitCode(rowflow::ErrorKind::kInternal);
  }
}
