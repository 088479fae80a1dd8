// rowflow: one CLI, subcommands in tools/cli/cmd_*.cc. main alone catches:
// it prints "rowflow: error: <message>" and maps the error kind to the exit
// codes documented in README (0 ok, 1 internal, 2 usage, 3 model/spec,
// 4 input rows, 5 output I/O).
#include <CLI/CLI.hpp>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <exception>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "graph/atomic_file.h"
#include "graph/error.h"
#include "tools/cli/commands.h"
#include "tools/cli/docgen.h"
#include "tools/cli/run_parallel.h"
#include "tools/cli/version.h"
#ifdef ROWFLOW_MPI
#include "tools/cli/mpi_run.h"
#endif

namespace {

// SIGINT, SIGTERM, SIGHUP: destructors do not run, so the temp files of
// unfinished outputs are removed here; then the signal ends the process as
// it would have, and the exit status still says which signal it was.
extern "C" void OnFatalSignal(int sig) {
  rowflow::RemovePendingTempFiles();
  // SA_RESETHAND restored the default action; the signal stays blocked
  // until this handler returns, then kills the process.
  raise(sig);
}

void InstallSignalHandlers() {
  // A closed stdout surfaces as EPIPE on write, handled in main, rather than
  // as a signal that kills the process mid-write. Past a file size limit
  // (ulimit -f), write() fails with EFBIG, an output error (exit 5, temp
  // file removed), rather than SIGXFSZ killing the process and leaving the
  // temp file behind. This holds for every subcommand that writes a file.
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGXFSZ, SIG_IGN);
  struct sigaction action = {};
  action.sa_handler = OnFatalSignal;
  action.sa_flags = SA_RESETHAND;
  sigemptyset(&action.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&action.sa_mask, sig);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction old;
    // A signal ignored by whoever started us (nohup, a shell's background
    // job) stays ignored, as for any well-behaved tool.
    if (sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) {
      continue;
    }
    sigaction(sig, &action, nullptr);
  }
}

// Whether `name` is a subcommand of `app`.
bool IsCommand(const CLI::App& app, std::string_view name) {
  for (const CLI::App* sub : app.get_subcommands({})) {
    if (sub->get_name() == name) return true;
  }
  return false;
}

// Quoted names of the subcommands: "build, run, ...".
std::string CommandList(const CLI::App& app) {
  std::string list;
  for (const CLI::App* sub : app.get_subcommands({})) {
    if (!list.empty()) list += ", ";
    list += sub->get_name();
  }
  return list;
}

// The line CLI11 prints for a refusal of the argument parser (installed
// as its failure_message): CLI11's message, or for an unknown command or
// option (which CLI11 reports as "A subcommand is required" or as extras)
// one built from the parse state, with a pointer to the right --help.
// Numeric options word their own refusals (NumberCheck in commands.h).
std::string UsageMessage(const CLI::App& app, const CLI::Error& e, int argc,
                         char** argv) {
  const std::vector<CLI::App*> parsed = app.get_subcommands();
  const CLI::App* sub = parsed.empty() ? nullptr : parsed.back();
  std::string what = e.what();
  if (sub == nullptr) {
    // The top level takes no positional argument: the first non-option
    // word was meant as the command.
    for (int i = 1; i < argc; ++i) {
      const std::string word = argv[i];
      if (!word.empty() && word[0] != '-') {
        return "unknown command '" + word +
               "'; expected one of: " + CommandList(app) +
               "; see 'rowflow --help'";
      }
    }
    const std::vector<std::string> extras = app.remaining();
    if (extras.empty()) {
      return "no command given; expected one of: " + CommandList(app) +
             "; see 'rowflow --help'";
    }
    return "unknown option '" + extras.front() + "'; see 'rowflow --help'";
  }
  // Not e.get_name(): a subcommand's ExtrasError carries the command's name.
  if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr) {
    const std::vector<std::string> extras =
        (sub != nullptr ? sub : &app)->remaining();
    if (!extras.empty()) {
      const std::string& first = extras.front();
      what = (first.size() > 1 && first[0] == '-' ? "unknown option '"
                                                  : "unexpected argument '") +
             first + "'";
    }
  }
  for (char& c : what) {
    if (c == '\n') c = ' ';
  }
  if (what.size() > 1 && std::isupper(static_cast<unsigned char>(what[0])) &&
      std::islower(static_cast<unsigned char>(what[1]))) {
    what[0] =
        static_cast<char>(std::tolower(static_cast<unsigned char>(what[0])));
  }
  return what + "; see 'rowflow " +
         (sub != nullptr ? sub->get_name() + " " : std::string()) + "--help'";
}

std::string FailureLine(const CLI::App& app, const CLI::Error& e, int argc,
                        char** argv) {
  return "rowflow: error: " + UsageMessage(app, e, argc, argv) + "\n";
}

}  // namespace

int main(int argc, char** argv) {
  InstallSignalHandlers();
  CLI::App app(
      "rowflow: run neural-network dataflow graphs over many rows in parallel",
      "rowflow");
  app.require_subcommand(1);
  app.set_version_flag(
      "--version", [] { return rowflow::cli::VersionText(); },
      "Print the version, commit, build type and kernel set, then exit");
  rowflow::cli::AddBuildCommand(app);
  rowflow::cli::AddRunCommand(app);
  rowflow::cli::AddInspectCommand(app);
  rowflow::cli::AddDotCommand(app);
  rowflow::cli::AddTraceCommand(app);
  rowflow::cli::AddConvertCommand(app);
  rowflow::cli::AddBenchCommand(app);
  rowflow::cli::AddOnnxCommands(app);
  // The build's `rowflow --generate-docs DIR` writes the man page and the
  // bash completion from these very definitions (tools/cli/docgen.h).
  if (argc == 3 && std::string_view(argv[1]) == "--generate-docs") {
    return rowflow::cli::WriteDocs(app, rowflow::cli::VersionLine(), argv[2]);
  }
#ifdef ROWFLOW_MPI
  // `rowflow run` under mpirun / srun: tools/cli/mpi_run.h.
  rowflow::cli::SetParallelRun(rowflow::cli::RunUnderMpi);
#endif
  // `rowflow help [CMD]` is `rowflow [CMD] --help`.
  std::vector<char*> args(argv, argv + argc);
  if (argc >= 2 && std::string_view(argv[1]) == "help") {
    if (argc > 3 || (argc == 3 && !IsCommand(app, argv[2]))) {
      std::fprintf(stderr,
                   "rowflow: error: help takes one command, one of: %s; see "
                   "'rowflow --help'\n",
                   CommandList(app).c_str());
      return rowflow::ExitCode(rowflow::ErrorKind::kUsage);
    }
    static char help_flag[] = "--help";
    args.erase(args.begin() + 1);
    args.push_back(help_flag);
    argc = static_cast<int>(args.size());
    argv = args.data();
  }
  app.failure_message([argc, argv](const CLI::App* top, const CLI::Error& e) {
    return FailureLine(*top, e, argc, argv);
  });
  try {
    app.parse(argc, argv);
    return 0;
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version: printed, exit 0
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints the failure_message line
    return code == 0 ? 0 : rowflow::ExitCode(rowflow::ErrorKind::kUsage);
  } catch (const rowflow::BrokenPipeError&) {
    return 0;  // the reader has all it wanted (`| head`): see README
  } catch (const rowflow::cli::ReportedElsewhere& e) {
    return rowflow::ExitCode(e.kind());  // another MPI rank printed it
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
