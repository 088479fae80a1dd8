#!/usr/bin/env bash
# The Debian package, built as README "Installing" says: `cpack -G DEB` in
# the portable tree (tests/portable/build.sh, the ctest fixture `portable`:
# -DROWFLOW_NATIVE=OFF, baseline x86-64 with AVX2/AVX-512 kernels picked at
# run time, configured for /usr). Checks the .deb's name, file list and
# Depends, runs lintian (no errors or warnings allowed), and checks that the
# portable tool gives the native build's bytes under every kernel set
# (dispatch_bits.sh). Leaves the .deb in WORK_DIR for install_deb.sh.
#
#   package.sh ROWFLOW_SOURCE_DIR PORTABLE_TREE WORK_DIR NATIVE_ROWFLOW
set -euo pipefail
src=$(realpath "$1")
tree=$2
build=$3
native=$4
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$build"
[[ -x $tree/tools/rowflow ]] ||
  { echo "FAIL: no $tree/tools/rowflow (the portable.build test builds it)"; exit 1; }
rm -f "$tree"/rowflow_*.deb
(cd "$tree" && cpack -G DEB) >"$build/cpack.log" 2>&1 ||
  { tail -30 "$build/cpack.log"; echo "FAIL: cpack -G DEB"; exit 1; }
version=$(sed -n 's/^project(rowflow VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
deb=$tree/rowflow_${version}_amd64.deb
[[ -f $deb ]] || { ls "$tree"; echo "FAIL: no $(basename "$deb")"; exit 1; }
rm -f "$build"/rowflow_*.deb
cp "$deb" "$build/"
echo "built $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB)"

failed=0
dpkg-deb -c "$deb" | sed -E 's/ -> .*//' | awk '{print $NF}' | sed 's#^\./#/#' \
  >"$build/files.txt"
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
for want in /usr/bin/rowflow /usr/bin/rowflow-sklearn /usr/share/man/man1/rowflow.1.gz \
  /usr/share/man/man1/rowflow-sklearn.1.gz /usr/include/rowflow/tools/onnx/import.h \
  /usr/share/bash-completion/completions/rowflow \
  /usr/lib/$multiarch/cmake/rowflow/rowflowConfig.cmake \
  /usr/lib/$multiarch/cmake/rowflow/rowflowConfigVersion.cmake \
  /usr/lib/$multiarch/pkgconfig/rowflow.pc /usr/lib/$multiarch/librowflow_runtime.a \
  /usr/lib/$multiarch/librowflow_onnx.a /usr/include/rowflow/graph/builder.h \
  /usr/include/rowflow/runtime/session.h /usr/include/rowflow/proto/rowflow.pb.h \
  /usr/lib/python3/dist-packages/rowflow/__init__.py \
  /usr/include/rowflow/proto/rowflow.proto /usr/share/doc/rowflow/copyright \
  /usr/share/doc/rowflow/changelog.gz /usr/share/doc/rowflow/examples/seed_4_5.pbtxt; do
  grep -qxF "$want" "$build/files.txt" || { echo "FAIL: the .deb has no $want"; failed=1; }
done
if grep -v '^/usr/' "$build/files.txt" | grep -vqx '/'; then
  echo "FAIL: files outside /usr:"; grep -v '^/usr/' "$build/files.txt" | grep -vx '/'; failed=1
fi
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for want in libc6 libstdc++6 libtbb12 libprotobuf32 libfmt9 libzstd1 python3 \
  libtbb-dev libprotobuf-dev libfmt-dev libzstd-dev libonnx-dev; do
  sed 's/, /\n/g; s/ ([^)]*)//g' <<<"$depends" | grep -qxF "$want" ||
    { echo "FAIL: Depends lacks $want"; failed=1; }
done
if command -v lintian >/dev/null; then
  lintian --fail-on error,warning --tag-display-limit 0 "$deb" >"$build/lintian.txt" 2>&1 ||
    { echo "FAIL: lintian reports errors or warnings:"; grep -E '^(E|W):' "$build/lintian.txt" ||
      cat "$build/lintian.txt"; failed=1; }
  echo "lintian: $(grep -c '^E:' "$build/lintian.txt" || true) errors," \
    "$(grep -c '^W:' "$build/lintian.txt" || true) warnings"
else
  echo "FAIL: lintian is not installed (tools/setup/common.sh installs it)"; failed=1
fi
bash "$here/dispatch_bits.sh" "$native" "$tree/tools/rowflow" "$build/dispatch" ||
  failed=1
((failed == 0)) || exit 1
echo "ok: $(basename "$deb"): file list, Depends and lintian checked; dispatch bitwise"
