#!/usr/bin/env bash
# README's C++ API example, as a user would build it: its code block is
# cut out of README.md (includes above, statements into main), compiled in a
# fresh project, then run; it must print what the block's last comment
# says (out.data == {182, 392}). The project, by MODE:
#   subdir            CMake, rowflow added with add_subdirectory (default)
#   package PREFIX    CMake, find_package(rowflow CONFIG) from an installed
#                     PREFIX (tests/consumer/package/; /usr: the system's)
#   pkgconfig PREFIX  one g++ line with `pkg-config --cflags --libs rowflow`
#                     (PREFIX/lib*/pkgconfig, or the system's for /usr)
#
#   run.sh ROWFLOW_SOURCE_DIR BUILD_DIR [MODE [PREFIX]]
set -euo pipefail
src=$(realpath "$1")
build=$2
mode=${3:-subdir}
prefix=${4:-}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$build"

# The first ```cpp block after "## The C++ API".
block=$(awk '/^## The C\+\+ API/ {api = 1} api && /^```cpp/ {inside = 1; next}
             inside && /^```/ {exit} inside {print}' "$src/README.md")
if [[ -z $block ]]; then
  echo "FAIL: no \`\`\`cpp block under '## The C++ API' in README.md"
  exit 1
fi
want=$(grep -oE 'out\.data == \{[^}]*\}' <<<"$block" | sed -E 's/.*\{(.*)\}/\1/; s/, */ /g')
if [[ -z $want ]]; then
  echo "FAIL: README's example no longer says what out.data holds (// out.data == {...})"
  exit 1
fi
{
  grep -E '^#include' <<<"$block"
  echo '#include <cstdio>'
  echo 'int main() {'
  grep -vE '^#include' <<<"$block"
  echo '  for (size_t i = 0; i < out.data.size(); ++i)'
  echo '    std::printf(i ? " %g" : "%g", static_cast<double>(out.data[i]));'
  echo '  std::printf("\n");'
  echo '}'
} >"$build/example.cc"

case $mode in
  subdir)
    cmake -S "$here" -B "$build" -DROWFLOW_SOURCE_DIR="$src" -DCMAKE_BUILD_TYPE=Release \
      ${ROWFLOW_CONSUMER_CMAKE_ARGS:-} >"$build/configure.log" 2>&1 ||
      { tail -30 "$build/configure.log"; echo "FAIL: configure"; exit 1; }
    ;;
  package)
    # Only the prefix given: no hint at this source tree.
    cmake -S "$here/package" -B "$build" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
      >"$build/configure.log" 2>&1 ||
      { tail -30 "$build/configure.log"; echo "FAIL: configure (find_package(rowflow) in $prefix)"; exit 1; }
    grep -o 'rowflow [0-9.]* from .*' "$build/configure.log"
    ;;
  pkgconfig)
    pc_path=$(find "$prefix"/lib* -maxdepth 2 -name rowflow.pc -printf '%h\n' 2>/dev/null | head -1)
    if [[ $prefix != /usr && -z $pc_path ]]; then
      echo "FAIL: no rowflow.pc under $prefix/lib*"; exit 1
    fi
    export PKG_CONFIG_PATH=$pc_path${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
    flags=$(pkg-config --cflags --libs rowflow) ||
      { echo "FAIL: pkg-config --cflags --libs rowflow"; exit 1; }
    echo "pkg-config rowflow $(pkg-config --modversion rowflow): $flags"
    # shellcheck disable=SC2086
    g++ -std=c++20 -O2 "$build/example.cc" -o "$build/example" $flags \
      >"$build/build.log" 2>&1 ||
      { head -30 "$build/build.log"; echo "FAIL: build with pkg-config's flags"; exit 1; }
    ;;
  *)
    echo "FAIL: unknown mode '$mode' (subdir, package, pkgconfig)"; exit 1 ;;
esac
if [[ $mode != pkgconfig ]]; then
  cmake --build "$build" -j "${ROWFLOW_JOBS:-2}" --target example >"$build/build.log" 2>&1 ||
    { grep -E 'error|Error' "$build/build.log" | head -30; echo "FAIL: build"; exit 1; }
fi
(cd "$build" && ./example) >"$build/out.txt"
got=$(cat "$build/out.txt")
if [[ $got != "$want" ]]; then
  echo "FAIL: README's example printed '$got'; README says {${want// /, }}"
  exit 1
fi
if [[ $mode == subdir && ( -e $build/rowflow/tools || -e $build/rowflow/tests ) ]]; then
  echo "FAIL: as a subproject rowflow built its tool or tests; expected the libraries only"
  exit 1
fi
echo "ok: README's example built ($mode${prefix:+ $prefix}) and printed $got"
