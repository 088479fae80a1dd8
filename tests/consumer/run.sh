#!/usr/bin/env bash
# README's C++ API example, as a user would build it: its code block is
# cut out of README.md (includes above, statements into main), compiled in a
# fresh CMake project that adds rowflow with add_subdirectory and links
# rowflow::runtime, then run; it must print what the block's last comment
# says (out.data == {182, 392}).
#
#   run.sh ROWFLOW_SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$(realpath "$1")
build=$2
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

cmake -S "$here" -B "$build" -DROWFLOW_SOURCE_DIR="$src" -DCMAKE_BUILD_TYPE=Release \
  ${ROWFLOW_CONSUMER_CMAKE_ARGS:-} >"$build/configure.log" 2>&1 ||
  { tail -30 "$build/configure.log"; echo "FAIL: configure"; exit 1; }
cmake --build "$build" -j "${ROWFLOW_JOBS:-2}" --target example >"$build/build.log" 2>&1 ||
  { grep -E 'error|Error' "$build/build.log" | head -30; echo "FAIL: build"; exit 1; }
(cd "$build" && ./example) >"$build/out.txt"
got=$(cat "$build/out.txt")
if [[ $got != "$want" ]]; then
  echo "FAIL: README's example printed '$got'; README says {${want// /, }}"
  exit 1
fi
if [[ -e $build/rowflow/tools || -e $build/rowflow/tests ]]; then
  echo "FAIL: as a subproject rowflow built its tool or tests; expected the libraries only"
  exit 1
fi
echo "ok: README's example built with add_subdirectory + rowflow::runtime and printed $got"
