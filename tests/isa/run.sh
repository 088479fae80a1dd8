#!/usr/bin/env bash
# The same bits on every ISA build (README "Execution and determinism"):
# builds rowflow's libraries and isa_hashes twice more, portable
# (-DROWFLOW_NATIVE=OFF -DROWFLOW_DISPATCH=OFF: baseline x86-64 only, no
# AVX2/AVX-512 copies of the kernels) and AVX2-only (-march=haswell),
# each in its own folder under BUILD_DIR, runs them and the native build's
# isa_hashes, and checks that all three print tests/isa/golden_hashes.txt.
#
#   run.sh ROWFLOW_SOURCE_DIR BUILD_DIR NATIVE_ISA_HASHES
#
# ROWFLOW_ISA_CMAKE_ARGS adds configure arguments (e.g. a compiler
# launcher), ROWFLOW_ISA_CXX_FLAGS compiler flags, to both extra builds.
# After a change that rightly changes output bits (a new activation, a new
# kernel), regenerate the golden file from the native build:
#   build/tests/isa_hashes > tests/isa/golden_hashes.txt
set -euo pipefail
src=$(realpath "$1")
build=$2
native=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
golden=$here/golden_hashes.txt
mkdir -p "$build"
failed=0

# build NAME CXX_FLAGS: configures and builds BUILD_DIR/NAME/isa_hashes.
build_variant() {
  local dir=$build/$1
  # shellcheck disable=SC2086
  cmake -S "$here" -B "$dir" -DROWFLOW_SOURCE_DIR="$src" -DCMAKE_BUILD_TYPE=Release \
    -DROWFLOW_NATIVE=OFF -DROWFLOW_DISPATCH=OFF \
    -DCMAKE_CXX_FLAGS="$2 ${ROWFLOW_ISA_CXX_FLAGS:-}" \
    ${ROWFLOW_ISA_CMAKE_ARGS:-} >"$dir.configure.log" 2>&1 ||
    { tail -30 "$dir.configure.log"; echo "FAIL: configure $1"; exit 1; }
  local start=$SECONDS
  cmake --build "$dir" -j "${ROWFLOW_JOBS:-2}" --target isa_hashes >"$dir.build.log" 2>&1 ||
    { grep -E 'error|Error' "$dir.build.log" | head -30; echo "FAIL: build $1"; exit 1; }
  echo "built $1 ($2) in $((SECONDS - start)) s"
}

# vector_registers BINARY: "ymm N zmm M", the instructions of each width.
vector_registers() {
  local dis
  dis=$(objdump -d --no-show-raw-insn "$1")
  echo "ymm $(grep -c '%ymm' <<<"$dis" || true) zmm $(grep -c '%zmm' <<<"$dis" || true)"
}

mkdir -p "$build/portable" "$build/haswell"
build_variant portable ""
build_variant haswell "-march=haswell"

declare -A bins=([native]=$native [portable]=$build/portable/isa_hashes
                 [haswell]=$build/haswell/isa_hashes)
# The builds really differ: no AVX at all in the portable one, no AVX-512
# in the haswell one.
read -r _ ymm _ zmm <<<"$(vector_registers "${bins[portable]}")"
if ((ymm + zmm > 0)); then
  echo "FAIL: the portable build uses AVX registers (ymm $ymm, zmm $zmm)"; failed=1
fi
read -r _ ymm _ zmm <<<"$(vector_registers "${bins[haswell]}")"
if ((ymm == 0 || zmm > 0)); then
  echo "FAIL: the haswell build is not AVX2-only (ymm $ymm, zmm $zmm)"; failed=1
fi
echo "native build: $(vector_registers "${bins[native]}")"

for variant in native portable haswell; do
  "${bins[$variant]}" >"$build/$variant.txt" 2>"$build/$variant.err" ||
    { cat "$build/$variant.err"; echo "FAIL: $variant isa_hashes exited $?"; exit 1; }
done
cat "$build/native.err"
for variant in portable haswell; do
  if ! diff "$build/native.txt" "$build/$variant.txt" >"$build/$variant.diff"; then
    echo "FAIL: the $variant build's outputs differ from the native build's" \
      "(< native, > $variant):"
    cat "$build/$variant.diff"
    failed=1
  fi
done
for variant in native portable haswell; do
  if ! diff "$golden" "$build/$variant.txt" >"$build/$variant.golden.diff"; then
    echo "FAIL: the $variant build's outputs differ from tests/isa/golden_hashes.txt" \
      "(< golden, > $variant):"
    cat "$build/$variant.golden.diff"
    echo "     if the change is meant: build/tests/isa_hashes > tests/isa/golden_hashes.txt"
    failed=1
  fi
done
((failed == 0)) || exit 1
echo "ok: $(wc -l <"$golden") cases give the same output bytes on the native," \
  "portable and haswell builds, as tests/isa/golden_hashes.txt"
