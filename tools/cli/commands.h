// The rowflow CLI's subcommands. Each Add*Command registers one CLI11
// subcommand whose callback is a short function over the libraries; errors
// are thrown as rowflow::Error and mapped to exit codes by main alone.
#ifndef ROWFLOW_TOOLS_CLI_COMMANDS_H_
#define ROWFLOW_TOOLS_CLI_COMMANDS_H_

#include <CLI/CLI.hpp>

namespace rowflow::cli {

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
