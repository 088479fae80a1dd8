#!/usr/bin/env bash
# `cmake --install` into a temporary prefix, then that prefix moved (an
# install is relocatable): README's C++ example builds and runs against it
# with find_package(rowflow CONFIG) and with pkg-config, and so does a
# consumer of rowflow.pb.h and rowflow::onnx (outside.sh); the installed tool
# runs and says its version; its man pages render; its bash completion
# completes; the Python package imports from the moved prefix and runs.
#
#   prefix.sh ROWFLOW_SOURCE_DIR ROWFLOW_BUILD_DIR WORK_DIR
set -euo pipefail
src=$(realpath "$1")
build=$2
work=$3
rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$work/first" >"$work/install.log" 2>&1 ||
  { tail -20 "$work/install.log"; echo "FAIL: cmake --install"; exit 1; }
mv "$work/first" "$work/prefix"
prefix=$work/prefix
failed=0
"$prefix/bin/rowflow" --version >"$work/version.txt" ||
  { echo "FAIL: installed rowflow --version"; failed=1; }
for field in '^rowflow [0-9]+\.[0-9]+\.[0-9]+$' '^commit: [0-9a-f]{12}|^commit: unknown' \
  '^build: ' '^kernels: (avx512|avx2|generic) '; do
  grep -qE "$field" "$work/version.txt" ||
    { echo "FAIL: --version has no line like /$field/:"; cat "$work/version.txt"; failed=1; }
done
man -l "$prefix/share/man/man1/rowflow.1.gz" 2>/dev/null | grep -q 'rowflow run' ||
  { echo "FAIL: the installed man page does not render 'rowflow run'"; failed=1; }
got=$(bash -c 'source "$1"; COMP_WORDS=(rowflow in); COMP_CWORD=1; _rowflow
  echo "${COMPREPLY[*]}"' _ "$prefix/share/bash-completion/completions/rowflow")
[[ $got == "inspect" ]] || { echo "FAIL: completion of 'rowflow in' gave '$got'"; failed=1; }
[[ -x $prefix/bin/rowflow-sklearn ]] || { echo "FAIL: no bin/rowflow-sklearn"; failed=1; }
man -l "$prefix/share/man/man1/rowflow-sklearn.1.gz" 2>/dev/null | grep -q -- '--dtype' ||
  { echo "FAIL: the installed rowflow-sklearn(1) does not render its --dtype option"; failed=1; }
bash "$src/tests/consumer/run.sh" "$src" "$work/find_package" package "$prefix" || failed=1
bash "$src/tests/consumer/run.sh" "$src" "$work/pkgconfig" pkgconfig "$prefix" || failed=1
bash "$src/tests/install/outside.sh" "$src" "$prefix" "$work/outside" || failed=1
site=$(ls -d "$prefix"/lib/python3*/dist-packages 2>/dev/null | head -1)
if [[ -z $site ]]; then
  echo "FAIL: no lib/python3*/dist-packages under the prefix"; failed=1
else
  "$prefix/bin/rowflow" build "$src/tools/examples/seed_4_5.pbtxt" -o "$work/seed.pb" -q
  got=$(cd / && PYTHONPATH=$site /usr/bin/python3 -c \
    'import rowflow; print(rowflow.__file__); print(rowflow.Session(rowflow.load("'"$work/seed.pb"'")).run([3, 5])[0])' 2>&1) || true
  [[ $got == "$site/rowflow/__init__.py"*"182.0" ]] ||
    { echo "FAIL: import rowflow from the moved prefix gave: $got"; failed=1; }
fi
((failed == 0)) || exit 1
echo "ok: installed into a prefix, moved, and used: tool, man page, completion," \
  "find_package, pkg-config, rowflow.pb.h and rowflow::onnx, the Python package"
