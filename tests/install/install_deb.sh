#!/usr/bin/env bash
# The .deb package.sh built, installed as a user would (apt-get install
# ./rowflow_*.deb), used, and purged: /usr/bin/rowflow runs the seed's
# example and gives the native build's bytes, `man -w rowflow` finds the
# page, the bash completion completes, README's C++ example builds against
# /usr with find_package and with pkg-config, and so does a consumer of
# rowflow.pb.h and rowflow::onnx (outside.sh); after `apt-get purge` no file
# of the package is left and the installed package set is as before.
# Needs root (it changes the machine): exits 77 (ctest: skipped) otherwise,
# and when a rowflow package is installed already (it is not ours to remove).
#
#   install_deb.sh ROWFLOW_SOURCE_DIR BUILD_DIR NATIVE_ROWFLOW
set -euo pipefail
src=$(realpath "$1")
build=$(realpath "$2")
native=$3
if [[ $(id -u) -ne 0 ]]; then
  echo "SKIP: installing the .deb needs root (run ctest -L install as root)"
  exit 77
fi
if dpkg-query -W -f='${Status}' rowflow 2>/dev/null | grep -q installed; then
  echo "SKIP: a rowflow package is installed already; this test installs and purges its own"
  exit 77
fi
deb=$(ls "$build"/rowflow_*_amd64.deb 2>/dev/null | head -1)
[[ -n $deb ]] || { echo "FAIL: no .deb in $build (install.package builds it)"; exit 1; }
work=$build/deb_check
rm -rf "$work"
mkdir -p "$work"

dpkg-query -W -f='${Package} ${Version} ${Status}\n' | sort >"$work/before.txt"
purge() { DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq rowflow >"$work/purge.log" 2>&1; }
trap 'purge || true' EXIT
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$deb" \
  >"$work/install.log" 2>&1 ||
  { tail -20 "$work/install.log"; echo "FAIL: apt-get install $deb"; exit 1; }
dpkg-query -L rowflow | sort >"$work/files.txt"
failed=0

[[ $(command -v rowflow) == /usr/bin/rowflow ]] ||
  { echo "FAIL: rowflow on PATH is '$(command -v rowflow)', not /usr/bin/rowflow"; failed=1; }
/usr/bin/rowflow --version | tee "$work/version.txt"
grep -q '^kernels: ' "$work/version.txt" || { echo "FAIL: --version names no kernel set"; failed=1; }
ex=$src/tools/examples
/usr/bin/rowflow build "$ex/seed_4_5.pbtxt" -o "$work/seed.pb" -q
/usr/bin/rowflow run "$work/seed.pb" -i "$ex/seed_4_5.csv" -o "$work/installed.csv" -q
"$native" run "$work/seed.pb" -i "$ex/seed_4_5.csv" -o "$work/native.csv" -q
cmp -s "$work/installed.csv" "$work/native.csv" ||
  { echo "FAIL: the installed rowflow's output differs from the native build's"; failed=1; }
page=$(man -w rowflow 2>/dev/null || true)
[[ $page == /usr/share/man/man1/rowflow.1.gz ]] ||
  { echo "FAIL: man -w rowflow gives '$page'"; failed=1; }
page=$(man -w rowflow-sklearn 2>/dev/null || true)
[[ $page == /usr/share/man/man1/rowflow-sklearn.1.gz ]] ||
  { echo "FAIL: man -w rowflow-sklearn gives '$page'"; failed=1; }
man -P cat rowflow 2>/dev/null | grep -q 'EXIT STATUS' ||
  { echo "FAIL: man rowflow does not render an EXIT STATUS section"; failed=1; }
got=$(bash -c 'source /usr/share/bash-completion/completions/rowflow
  COMP_WORDS=(rowflow ru); COMP_CWORD=1; _rowflow; echo "${COMPREPLY[*]}"
  COMP_WORDS=(rowflow run m.pb --thr); COMP_CWORD=3; _rowflow; echo "${COMPREPLY[*]}"')
[[ $got == $'run\n--threads' ]] ||
  { echo "FAIL: bash completion gave '$got', expected 'run' then '--threads'"; failed=1; }
# The Python package, from the system interpreter's dist-packages, with
# nothing of the build tree on the path.
got=$(cd / && env -u PYTHONPATH /usr/bin/python3 -c \
  'import rowflow; print(rowflow.__file__); print(rowflow.Session(rowflow.load("'"$work/seed.pb"'")).run([3, 5])[0])' 2>&1)
[[ $got == "/usr/lib/python3/dist-packages/rowflow/__init__.py"*"182.0" ]] ||
  { echo "FAIL: import rowflow from the package gave: $got"; failed=1; }
/usr/bin/rowflow-sklearn --help >/dev/null ||
  { echo "FAIL: rowflow-sklearn --help"; failed=1; }
bash "$src/tests/consumer/run.sh" "$src" "$work/find_package" package /usr || failed=1
bash "$src/tests/consumer/run.sh" "$src" "$work/pkgconfig" pkgconfig /usr || failed=1
bash "$src/tests/install/outside.sh" "$src" /usr "$work/outside" || failed=1

purge || { tail -20 "$work/purge.log"; echo "FAIL: apt-get purge rowflow"; exit 1; }
trap - EXIT
dpkg-query -W -f='${Package} ${Version} ${Status}\n' | sort >"$work/after.txt"
if ! diff "$work/before.txt" "$work/after.txt" >"$work/packages.diff"; then
  echo "FAIL: the installed packages differ after the purge:"; cat "$work/packages.diff"; failed=1
fi
left=0
while read -r f; do
  if [[ -f $f || -L $f ]]; then echo "FAIL: left after purge: $f"; left=1; fi
done <"$work/files.txt"
[[ -d /usr/include/rowflow || -d /usr/share/doc/rowflow ]] &&
  { echo "FAIL: folders of the package left after purge"; left=1; }
((left == 0)) || failed=1
((failed == 0)) || exit 1
echo "ok: $(basename "$deb") installed, ran, built README's example (find_package," \
  "pkg-config), and purged without a trace"
