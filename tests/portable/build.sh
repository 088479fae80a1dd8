#!/usr/bin/env bash
# The portable tree that the ISA check (tests/isa/run.sh) and the Debian
# package (tests/install/package.sh) share: configured as README
# "Installing" says for the package (-DROWFLOW_NATIVE=OFF: baseline x86-64,
# the kernel sources compiled once more for AVX2 and AVX-512 and picked at
# run time; prefix /usr), plus isa_hashes (-DROWFLOW_ISA_HASHES=ON, not
# installed). ctest runs this once as the fixture `portable`; a second run
# is an incremental build. It is the longest step of CI (the kernel
# sources three times, the libraries, the tool and the Python module).
#
#   build.sh ROWFLOW_SOURCE_DIR TREE
#
# ccache, when installed, serves the compiles; ROWFLOW_PORTABLE_CMAKE_ARGS
# adds configure arguments.
set -euo pipefail
src=$(realpath "$1")
tree=$2
mkdir -p "$tree"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

start=$SECONDS
# shellcheck disable=SC2086
cmake -S "$src" -B "$tree" -DCMAKE_BUILD_TYPE=Release -DROWFLOW_NATIVE=OFF \
  -DROWFLOW_BUILD_TESTS=OFF -DROWFLOW_ISA_HASHES=ON -DCMAKE_INSTALL_PREFIX=/usr \
  "${launcher[@]}" ${ROWFLOW_PORTABLE_CMAKE_ARGS:-} >"$tree.configure.log" 2>&1 ||
  { tail -30 "$tree.configure.log"; echo "FAIL: configure the portable tree"; exit 1; }
cmake --build "$tree" -j "${ROWFLOW_JOBS:-2}" >"$tree.build.log" 2>&1 ||
  { grep -E 'error|Error' "$tree.build.log" | head -30; echo "FAIL: build the portable tree"; exit 1; }
"$tree/tools/rowflow" --version | grep -q 'picked at run time' ||
  { "$tree/tools/rowflow" --version; echo "FAIL: the portable tree does not dispatch"; exit 1; }
echo "ok: built the portable tree (tool, libraries, Python module, isa_hashes)" \
  "in $((SECONDS - start)) s"
