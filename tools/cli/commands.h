// The rowflow CLI's subcommands. Each Add*Command registers one CLI11
// subcommand whose callback is a short function over the libraries; errors
// are thrown as rowflow::Error and mapped to exit codes by main alone.
#ifndef ROWFLOW_TOOLS_CLI_COMMANDS_H_
#define ROWFLOW_TOOLS_CLI_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <string>
#include <type_traits>

namespace rowflow::cli {

// A CLI11 check that refuses text CLI11 cannot convert to `T`, so that the
// refusal reads "--threads: expected an integer, got 'abc'" (CLI11's own
// ConversionError would read "Could not convert: --threads = abc").
template <typename T>
CLI::Validator NumberCheck() {
  const char* what = std::is_integral_v<T> ? "an integer" : "a number";
  return CLI::Validator(
      [what](std::string& text) {
        T value;
        return CLI::detail::lexical_cast(text, value)
                   ? std::string()
                   : "expected " + std::string(what) + ", got '" + text + "'";
      },
      "");
}

void AddBuildCommand(CLI::App& app);    // rowflow build SPEC -o MODEL
void AddRunCommand(CLI::App& app);      // rowflow run MODEL -i IN -o OUT
void AddInspectCommand(CLI::App& app);  // rowflow inspect MODEL
void AddDotCommand(CLI::App& app);      // rowflow dot MODEL
void AddTraceCommand(CLI::App& app);    // rowflow trace MODEL --row 3,5
void AddConvertCommand(CLI::App& app);  // rowflow convert IN OUT
void AddBenchCommand(CLI::App& app);    // rowflow bench MODEL | --workload NAME
void AddOnnxCommands(CLI::App& app);    // rowflow import-onnx / export-onnx

}  // namespace rowflow::cli

#endif  // ROWFLOW_TOOLS_CLI_COMMANDS_H_
