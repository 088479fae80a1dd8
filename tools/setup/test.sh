#!/usr/bin/env bash
# Installs what is missing, builds rowflow and runs the whole test suite.
# Extra arguments go to ctest (e.g. -L throughput, -R Seed).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
rowflow_install_deps clang-format-14 binutils  # style check (-L style); objdump (-L isa)
rowflow_build
cd "$ROWFLOW_BUILD_DIR"
ctest --output-on-failure -j "$ROWFLOW_JOBS" "$@"
