#!/usr/bin/env bash
# A consumer that is not README's example, against an installed rowflow
# (tests/install/outside/): find_package(rowflow 0.1 CONFIG REQUIRED
# COMPONENTS runtime onnx); proto_app uses the installed rowflow.pb.h
# through rowflow::runtime; onnx_app imports an ONNX model (the seed,
# exported by the installed tool) through rowflow::onnx alone, and the
# installed tool runs what it wrote to the seed's own bytes; every installed
# header compiles on its own (headers_alone). A request for another major
# version (1) and for a component that does not exist must fail to
# configure.
#
#   outside.sh ROWFLOW_SOURCE_DIR PREFIX WORK_DIR
set -euo pipefail
src=$(realpath "$1")
prefix=$2
work=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rm -rf "$work"
mkdir -p "$work"
rowflow=$prefix/bin/rowflow
ex=$src/tools/examples
failed=0

configure() {  # configure BUILD_DIR [ARGS...]
  local dir=$1
  shift
  cmake -S "$here/outside" -B "$dir" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF "$@" \
    >"$dir.configure.log" 2>&1
}
configure "$work/build" ||
  { tail -30 "$work/build.configure.log"; echo "FAIL: configure (find_package in $prefix)"; exit 1; }
grep -oE 'rowflow [0-9.]* from .*|[0-9]+ headers under .*' "$work/build.configure.log"
cmake --build "$work/build" -j "${ROWFLOW_JOBS:-2}" >"$work/build.log" 2>&1 ||
  { grep -E 'error|Error' "$work/build.log" | head -30; echo "FAIL: build"; exit 1; }

got=$("$work/build/proto_app") || { echo "FAIL: proto_app exited $?"; failed=1; }
[[ $got == "7 9" ]] || { echo "FAIL: proto_app printed '$got', expected '7 9'"; failed=1; }

"$rowflow" build "$ex/seed_4_5.pbtxt" -o "$work/seed.pb" -q
"$rowflow" export-onnx "$work/seed.pb" -o "$work/seed.onnx" -q
"$work/build/onnx_app" "$work/seed.onnx" "$work/imported.pb" ||
  { echo "FAIL: onnx_app could not import the exported seed"; failed=1; }
"$rowflow" run "$work/seed.pb" -i "$ex/seed_4_5.csv" -o "$work/seed.csv" -q
"$rowflow" run "$work/imported.pb" -i "$ex/seed_4_5.csv" -o "$work/imported.csv" -q ||
  failed=1
cmp -s "$work/seed.csv" "$work/imported.csv" ||
  { echo "FAIL: the model onnx_app imported computes other rows than the seed"; failed=1; }

if configure "$work/major1" -DWANT_VERSION=1; then
  echo "FAIL: find_package(rowflow 1) accepted rowflow $("$rowflow" --version | head -1)"; failed=1
elif ! grep -q 'compatible with requested version' "$work/major1.configure.log"; then
  tail -20 "$work/major1.configure.log"
  echo "FAIL: find_package(rowflow 1) failed, but not on the version"; failed=1
fi
if configure "$work/nosuch" -DWANT_COMPONENTS=nosuch; then
  echo "FAIL: find_package(rowflow COMPONENTS nosuch) succeeded"; failed=1
fi
((failed == 0)) || exit 1
echo "ok: outside consumer against $prefix: rowflow.pb.h via rowflow::runtime, ONNX" \
  "import via rowflow::onnx, each header alone, version 1 and an unknown component refused"
